"""Bounded load test: an import, the Modbus poller and 20 signed-in sessions at once.

Everything runs on loopback: the app served by waitress in this process, the Modbus devices in
a child process (`tests/helpers/modbus_sim.py`), a scratch database (a SQLite file, or a new
database on the PostgreSQL server of `--database-url` / `CARNET_TEST_DATABASE_URL` with
`--postgres`, dropped at the end). For `--seconds` (60; 15 with `--quick`) and at most
`--requests` requests in all:
- imports of generated files (`--import-rows` readings each, one transaction per file) one
  after the other for the whole run;
- the poller reading `--devices` devices of 20 points every round and writing every few rounds;
- `--sessions` signed-in users (one per role in turn) rendering pages through Dash callbacks
  (the heating schedule and the landing page write the user's last view), and one writer
  adding logbook entries and bookings through `carnet.logbook` / `carnet.bookings`.

Prints requests, errors (target 0), p50/p95/max latency, the import's status, readings polled,
stored and lost (target 0); last `ratio=R` = requests served without error / requests made.

    python benchmarks/load.py [--quick] [--postgres | --database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch_db import add_database_argument, label, scratch, server_url  # noqa: E402

PAGES = {
    "manager": ["/", "/batiments", "/portefeuille", "/confort", "/planning-chauffage", "/imports"],
    "contractor": ["/", "/planning-chauffage", "/contrat", "/alarmes", "/equipements"],
    "finance": ["/", "/finances", "/contrat"],
    "programmer": ["/", "/reservations", "/planning-chauffage"],
    "agent": ["/", "/mes-signalements", "/batiments"],
}
IMPORT_CODES = ("MAIRIE-CONSEIL-T", "JAURES-DEPART-T", "JAURES-RETOUR-T", "LESQUIN-T")


class Tally:
    """Latencies and failures of every request, from every thread."""

    def __init__(self, budget: int, deadline: float):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.budget, self.deadline = budget, deadline

    def take(self) -> bool:
        """One more request allowed (the fixed count and the time cap both bound the run)."""
        with self.lock:
            if self.budget <= 0 or time.monotonic() >= self.deadline:
                return False
            self.budget -= 1
            return True

    def record(self, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error is not None:
                self.errors.append(error)


def write_import_file(path: Path, rows: int, k: int) -> int:
    """The `k`-th file: new instants each time (they are inserted, not found unchanged)."""
    per_channel = rows // len(IMPORT_CODES)
    start = pd.Timestamp("2000-01-01", tz="UTC") + pd.Timedelta(minutes=10 * per_channel * k)
    stamps = pd.date_range(start, periods=per_channel, freq="10min")
    pd.DataFrame(
        {
            "channel": np.repeat(IMPORT_CODES, per_channel),
            "timestamp": np.tile(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), len(IMPORT_CODES)),
            "value": np.round(np.random.default_rng(3).normal(20, 1, per_channel * 4), 2),
        }
    ).to_csv(path, index=False)
    return per_channel * len(IMPORT_CODES)


def session_loop(base_url: str, login: str, role: str, tally: Tally, seed: int) -> None:
    import requests

    from tests.helpers.browser import dash_callback_payload, password_of
    from tests.helpers.web_client import CSRF

    rng = random.Random(seed)
    http = requests.Session()
    page = http.get(f"{base_url}/connexion", timeout=120)
    token = CSRF.search(page.text).group(1)
    signed = http.post(
        f"{base_url}/connexion",
        data={"login": login, "password": password_of(login), "csrf": token},
        allow_redirects=False,
        timeout=120,
    )
    if signed.status_code != 302:
        tally.record(0.0, f"{login} : connexion refusée ({signed.status_code})")
        return
    deps = http.get(f"{base_url}/_dash-dependencies", timeout=120).json()
    while tally.take():
        path = rng.choice(PAGES[role])
        payload = dash_callback_payload(deps, "_pages_content", {"_pages_location.pathname": path})
        t = time.perf_counter()
        try:
            r = http.post(f"{base_url}/_dash-update-component", json=payload, timeout=120)
            error = None if r.status_code == 200 else f"{path} : HTTP {r.status_code}"
        except Exception as exc:  # noqa: BLE001 - a refused connection is an error to count
            error = f"{path} : {type(exc).__name__}: {exc}"
        tally.record(time.perf_counter() - t, error)


def writer_loop(engine, tally: Tally) -> None:
    """Logbook entries and bookings, each in its own transaction, as the pages write them."""
    from carnet import bookings as bk
    from carnet.bookings import Actor
    from carnet.db import session_scope
    from carnet.logbook import add_entry

    manager = Actor("gestionnaire", "manager")
    start = dt.datetime(2031, 1, 6, 8, tzinfo=dt.UTC)
    i = 0
    while tally.take():
        t = time.perf_counter()
        try:
            with session_scope(engine) as s:
                if i % 2:
                    at = start + dt.timedelta(hours=3 * i)
                    bk.create_booking(s, manager, "MAIRIE-CONSEIL", f"Charge {i}", at,
                                      at + dt.timedelta(hours=2))  # fmt: skip
                else:
                    add_entry(s, manager, "MAIRIE", "observation", f"charge {i}")
            error = None
        except Exception as exc:  # noqa: BLE001
            error = f"écriture {i} : {type(exc).__name__}: {exc}"
        tally.record(time.perf_counter() - t, error)
        i += 1
        time.sleep(0.05)


def poller_loop(poller, stop: threading.Event, clock: list[int]) -> dict:
    """Rounds one simulated minute apart, a write every 5 rounds, a last write at the end."""

    async def run() -> dict:
        polled = rounds = 0
        while not stop.is_set():
            clock[0] += 60
            results = await poller.poll_round()
            polled += sum(r.points_read for r in results)
            rounds += 1
            if rounds % 5 == 0:
                await poller.flush()
            await asyncio.sleep(0.2)
        await poller.flush()
        return {"polled": polled, "rounds": rounds, "written": poller.written_rows,
                "held": poller.held_rows, "spool": len(poller.writer.spool.files())}  # fmt: skip

    out = asyncio.run(run())
    poller.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--requests", type=int, default=6000, help="plafond de requêtes")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--import-rows", type=int, default=400_000)
    ap.add_argument("--quick", action="store_true", help="15 s")
    add_database_argument(ap)
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.import_rows = min(args.seconds, 15.0), min(args.import_rows, 100_000)
    from bench_poll import start_servers

    sim, ports = start_servers(1, args.devices)
    with tempfile.TemporaryDirectory() as home:
        url, drop = scratch(server_url(args), Path(home))
        try:
            return run(args, url, home, ports)
        finally:
            sim.terminate()
            sim.wait(10)
            drop()


def run(args, url: str, home: str, ports: list[int]) -> int:
    os.environ["CARNET_HOME"] = home
    os.environ["CARNET_DATABASE_URL"] = url
    import yaml
    from bench_poll import create_channels, point_specs, site_config
    from sqlalchemy import text

    from carnet import write_gate
    from carnet.db import get_engine
    from dashboards.app import create_app
    from dashboards.server import BackgroundServer
    from ingest.importer import import_file
    from ingest.modbus.config import parse_config
    from ingest.modbus.poller import Poller
    from tests.helpers.browser import USERS, seed_users
    from tests.helpers.ingest_support import load_samples

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # queue depth: counted below
    engine = get_engine(url)
    write_gate.install(engine)  # as `dashboards.server.make_server` does
    load_samples(engine)
    seed_users(engine)
    create_channels(url, 1, args.devices)
    map_path = Path(home) / "bench-device.yaml"
    map_path.write_text(yaml.safe_dump({"model": "bench-device", "points": point_specs()}))
    clock = [int(time.time()) - 86_400]
    site = parse_config(site_config(ports, args.devices, map_path), "load")
    poller = Poller(site, url=url, clock=lambda: clock[0])
    app = create_app(url)
    server = BackgroundServer(app.server, threads=8)
    tally = Tally(args.requests, time.monotonic() + args.seconds)
    stop = threading.Event()
    outcome: dict = {}

    def importer() -> None:
        """Files one after the other while the sessions run: always an import under way."""
        reports, expected, k = [], 0, 0
        while k == 0 or not stop.is_set():
            path = Path(home) / f"import-{k}.csv"
            expected += write_import_file(path, args.import_rows, k)
            reports.append(import_file(engine, path))
            k += 1
        outcome["import"], outcome["import_rows"] = reports, expected

    def polling() -> None:
        outcome["poll"] = poller_loop(poller, stop, clock)

    logins = list(USERS)
    threads = [threading.Thread(target=importer), threading.Thread(target=polling),
               threading.Thread(target=writer_loop, args=(engine, tally))]  # fmt: skip
    for i in range(args.sessions):
        login = logins[i % len(logins)]
        threads.append(threading.Thread(target=session_loop,
                                        args=(server.url, login, USERS[login][0], tally, i)))  # fmt: skip
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads[2:]:
        th.join()
    stop.set()
    threads[1].join()
    threads[0].join()
    elapsed = time.perf_counter() - t0
    server.stop()
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM reading r JOIN channel c ON c.id = r.channel_id"
                 " WHERE c.code LIKE 'G%-D%-%'")
        ).scalar_one()  # fmt: skip
        imported = conn.execute(
            text("SELECT count(*) FROM reading r JOIN channel c ON c.id = r.channel_id"
                 " WHERE c.code IN ('MAIRIE-CONSEIL-T','JAURES-DEPART-T','JAURES-RETOUR-T',"
                 "'LESQUIN-T')")
        ).scalar_one()  # fmt: skip
        size = conn.execute(text("SELECT count(*) FROM reading")).scalar_one()
    lat = np.array(tally.latencies) * 1000
    poll, reports, import_rows = outcome["poll"], outcome["import"], outcome["import_rows"]
    lost = poll["polled"] - stored - poll["held"]
    n, errors = len(lat), len(tally.errors)
    print(f"base : {label(url)}, table reading : {size} lignes à la fin")
    print(
        f"durée : {elapsed:.1f} s (plafond {args.seconds:.0f} s, {args.requests} requêtes au plus)"
    )
    print(f"sessions connectées : {args.sessions} + 1 écrivain (carnet journal, réservations)")
    print(f"requêtes : {n}, erreurs : {errors}")
    for e in tally.errors[:5]:
        print(f"  erreur : {e}")
    if n:
        print(f"latence : p50 {np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms,"
              f" max {lat.max():.0f} ms")  # fmt: skip
    statuses = sorted({r.status for r in reports})
    inserted = sum(r.rows_inserted for r in reports)
    print(f"imports : {len(reports)} fichiers de {args.import_rows} mesures ({', '.join(statuses)}),"
          f" {inserted} insérées sur {import_rows}, {imported} en base,"
          f" {sum(r.seconds for r in reports):.1f} s d'import")  # fmt: skip
    print(f"poller : {args.devices} équipements x 20 points, {poll['rounds']} tours,"
          f" {poll['polled']} mesures lues, {stored} en base, {poll['held']} en quarantaine,"
          f" {poll['spool']} fichiers en attente")  # fmt: skip
    print(f"mesures perdues : {lost}")
    import_ok = statuses == ["ok"] and imported == import_rows
    print(f"import complet : {'oui' if import_ok else 'NON'}")
    print("ratio = requêtes servies sans erreur / requêtes faites")
    print(f"ratio={(n - errors) / n if n else 0.0:.3f}")
    return 0 if errors == 0 and lost == 0 and import_ok else 1


if __name__ == "__main__":
    sys.exit(main())
