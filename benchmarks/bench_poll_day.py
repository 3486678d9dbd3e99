"""A whole simulated day of polling: 500 devices x 20 points every 60 s, flat writes, bounded RSS.

The site of bench_poll.py (G loopback Modbus TCP gateways in a child process, 10 devices of 20
points each per gateway, 500 devices by default), polled once a simulated minute from local
midnight for `--hours` hours (24: 1 440 rounds) on a simulated clock, with no real waiting.
Each side writes into its own scratch database of the same kind, which already holds
`--history-days` earlier days of 60-second readings of every point (loaded raw before the
clock starts): what is measured is the day's own growth.
- ours: one `Poller` (start-up: `parse_config`, channel binding) then, every minute,
  `poll_round` and `flush` (plausibility, upsert, rollups merged, batch row, device health);
  the wall time of each flush and the process's RSS after it (/proc/self/status VmRSS, VmHWM
  at the end) are recorded;
- the peer, as in bench_poll: bare pymodbus reads (one client per gateway, the same blocks,
  `convert_from_registers`) plus a raw insert of the same rows (`executemany` on SQLite,
  `COPY` on PostgreSQL), every minute of the same day. It runs in its own child process, in
  lockstep with ours (the peer's minute, then ours: both see the same machine load), so that
  neither its memory nor the set-up (channels, history) counts in the poller's RSS; the
  gateways' process is not counted either.

Prints the database, devices, points, rows before and after, per simulated hour the rows
stored so far, the median and max flush time (ours), the median raw insert of the peer and the
RSS; then the first and last hour's median flush and their quotient (flatness), the peak RSS in
MiB (target < 300), and last `ratio=R` = peer's total time / ours over the whole day (start-up
and connection included, as in bench_poll).

    python benchmarks/bench_poll_day.py [--devices N] [--hours H] [--history-days D] [--quick]
                                        [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_poll import (  # noqa: E402
    DAY0,
    POINTS,
    UNITS_PER_GATEWAY,
    bare_round,
    create_channels,
    point_specs,
    raw_insert,
    site_config,
    start_servers,
)
from scratch_db import add_database_argument, label, scratch, server_url  # noqa: E402

DAY_S = 86_400
STEP_S = 60
MIB = 1024 * 1024


def memory_kib() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in KiB."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    return out


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux `clear_refs` 5), so that the peak is the
    poller's, not that of the imports before it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


# --- the peer's process: set-up of both databases, then the bare path minute by minute --------


def load_history(engine, ids: np.ndarray, days: int, channels_per_insert: int = 100) -> None:
    """`days` earlier days of 60-second readings of every point, raw, in their months'
    partitions on PostgreSQL (as a database in service has them). Inserted in key order
    (channel, then time): in time order each row lands on another page of the key's index
    and a day of 500 x 20 points loads 10 times slower."""
    from carnet import partitions

    if days <= 0:
        return
    start = DAY0 - days * DAY_S
    with engine.begin() as conn:
        partitions.ensure_for(conn, np.array([start, DAY0 + DAY_S]))
    ts = start + np.arange(days * DAY_S // STEP_S, dtype="int64") * STEP_S
    for c0 in range(0, len(ids), channels_per_insert):
        part = ids[c0 : c0 + channels_per_insert]
        raw_insert(engine, np.repeat(part, len(ts)), np.tile(ts, len(part)),
                   np.repeat(np.arange(c0, c0 + len(part), dtype=float), len(ts)))  # fmt: skip


def count_rows(url: str) -> int:
    from carnet.db import get_engine

    with get_engine(url).connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM reading").scalar_one()


def peer_process(spec: dict) -> None:
    """Child process. Sets up both databases (channels, history), answers « ready {json} »,
    then for each minute number read on stdin reads every device and inserts the rows into
    the peer's database, and answers « read_s insert_s ». An empty line ends it: it answers
    the rows in the peer's `reading`."""
    from pymodbus.client import AsyncModbusTcpClient

    from carnet.db import get_engine

    gateways, units = len(spec["ports"]), spec["units"]
    before, ids = {}, {}
    for side in ("ours", "peer"):
        ids[side] = create_channels(spec[side], gateways, units)
        load_history(get_engine(spec[side]), ids[side], spec["history_days"])
        before[side] = count_rows(spec[side])
    engine, ids = get_engine(spec["peer"]), ids["peer"]

    async def main():
        t = time.perf_counter()
        clients = [AsyncModbusTcpClient("127.0.0.1", port=p, timeout=5, retries=0)
                   for p in spec["ports"]]  # fmt: skip
        await asyncio.gather(*(c.connect() for c in clients))
        connect_s = time.perf_counter() - t
        print("ready " + json.dumps({"before": before, "connect_s": connect_s}), flush=True)
        while line := (await asyncio.to_thread(sys.stdin.readline)).strip():
            t = time.perf_counter()
            values = np.array(await bare_round(clients, units), dtype=float)
            t_read = time.perf_counter()
            ts = np.full(len(ids), DAY0 + int(line) * STEP_S, dtype="int64")
            await asyncio.to_thread(raw_insert, engine, ids, ts, values)
            t_insert = time.perf_counter()
            print(f"{t_read - t} {t_insert - t_read}", flush=True)
        for c in clients:
            c.close()
        print(count_rows(spec["peer"]), flush=True)  # rows after, on the engine already open

    asyncio.run(main())


class Peer:
    """The peer's child process, driven one minute at a time."""

    def __init__(self, spec: dict):
        args = [sys.executable, __file__, "--peer", json.dumps(spec)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)  # fmt: skip
        head, _, body = self.proc.stdout.readline().strip().partition(" ")
        if head != "ready":
            self.close()
            raise RuntimeError("the peer's process did not start")
        ready = json.loads(body)
        self.before, self.connect_s = ready["before"], ready["connect_s"]

    def minute(self, k: int) -> tuple[float, float]:
        self.proc.stdin.write(f"{k}\n")
        self.proc.stdin.flush()
        read_s, insert_s = self.proc.stdout.readline().split()
        return float(read_s), float(insert_s)

    def close(self) -> int | None:
        """Ends the process; the rows in the peer's `reading`, None if it was not running."""
        rows = None
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            try:
                rows = int(self.proc.stdout.readline())
                self.proc.wait(30)
            except (ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        return rows


# --- the day -------------------------------------------------------------------------------


@dataclass
class Hour:
    """One simulated hour (local, from midnight) of the day's report."""

    hour: int
    rounds: int
    rows_after: int  # rows in ours' `reading` at the end of the hour
    flush_median_s: float
    flush_max_s: float
    flush_cpu_median_s: float  # ours' CPU per flush: the flatness a loaded machine leaves be
    poll_median_s: float  # ours' Modbus round
    peer_insert_median_s: float
    peer_round_median_s: float  # the peer's reads plus insert
    rss_mib: float  # ours' VmRSS after the hour's last flush
    rss_anon_mib: float


@dataclass
class Day:
    rounds: int = 0
    planned: int = 0
    points: int = 0
    before: int = 0
    before_peer: int = 0
    stored: int = 0
    startup_s: float = 0.0
    connect_s: float = 0.0
    poll_s: list[float] = field(default_factory=list)
    flush_s: list[float] = field(default_factory=list)
    flush_cpu_s: list[float] = field(default_factory=list)  # this process's CPU (all threads)
    peer_read_s: list[float] = field(default_factory=list)
    peer_insert_s: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    anon_kib: list[int] = field(default_factory=list)
    minutes: list[int] = field(default_factory=list)
    rss_start_kib: int = 0
    hwm_kib: int = 0

    @property
    def ours_s(self) -> float:
        return self.startup_s + sum(self.poll_s) + sum(self.flush_s)

    @property
    def peer_s(self) -> float:
        return self.connect_s + sum(self.peer_read_s) + sum(self.peer_insert_s)

    def hours(self) -> list[Hour]:
        out, stored = [], self.before
        minutes = np.array(self.minutes)
        for h in np.unique(minutes // 60):
            at = np.flatnonzero(minutes // 60 == h)
            stored = self.before + (at[-1] + 1) * self.points
            rounds = [self.peer_read_s[i] + self.peer_insert_s[i] for i in at]
            out.append(Hour(
                hour=int(h), rounds=len(at), rows_after=int(stored),
                flush_median_s=statistics.median(self.flush_s[i] for i in at),
                flush_max_s=max(self.flush_s[i] for i in at),
                flush_cpu_median_s=statistics.median(self.flush_cpu_s[i] for i in at),
                poll_median_s=statistics.median(self.poll_s[i] for i in at),
                peer_insert_median_s=statistics.median(self.peer_insert_s[i] for i in at),
                peer_round_median_s=statistics.median(rounds),
                rss_mib=self.rss_kib[at[-1]] / 1024, rss_anon_mib=self.anon_kib[at[-1]] / 1024,
            ))  # fmt: skip
        return out


async def poll_day(url: str, site: dict, peer: Peer, minutes: range, day: Day,
                   wall_limit_s: float | None = None) -> None:  # fmt: skip
    """Ours, minute by minute, each minute after the peer's; stops early after `wall_limit_s`
    seconds of real time (a loaded machine), the report then covers the minutes done."""
    from ingest.modbus.config import parse_config
    from ingest.modbus.poller import Poller

    clock = [DAY0 + minutes.start * STEP_S]
    day.planned = len(minutes)
    day.rss_start_kib = memory_kib()["VmRSS"]
    reset_peak()
    t = time.perf_counter()
    poller = Poller(parse_config(site, "bench"), url=url, clock=lambda: clock[0])
    day.startup_s = time.perf_counter() - t
    try:
        began = time.monotonic()
        for k in minutes:
            if wall_limit_s is not None and time.monotonic() - began > wall_limit_s:
                break
            read_s, insert_s = await asyncio.to_thread(peer.minute, k)
            day.peer_read_s.append(read_s)
            day.peer_insert_s.append(insert_s)
            clock[0] = DAY0 + k * STEP_S
            t = time.perf_counter()
            results = await poller.poll_round()
            t_poll, cpu = time.perf_counter(), time.process_time()
            report = await poller.flush()
            t_flush, cpu = time.perf_counter(), time.process_time() - cpu
            assert all(r.points_failed == 0 for r in results)
            assert report.written, report.error
            mem = memory_kib()
            day.poll_s.append(t_poll - t)
            day.flush_s.append(t_flush - t_poll)
            day.flush_cpu_s.append(cpu)
            day.rss_kib.append(mem["VmRSS"])
            day.anon_kib.append(mem["RssAnon"])
            day.minutes.append(k)
            day.stored += report.stored
            day.rounds += 1
            if (k + 1) % 60 == 0:  # progress of a long run, on stderr: the report so far
                print(f"{hour_line(day.hours()[-1])} | ratio jusqu'ici"
                      f" {day.peer_s / day.ours_s:.3f}", file=sys.stderr, flush=True)  # fmt: skip
        day.hwm_kib = memory_kib()["VmHWM"]
    finally:
        poller.close()


def run_day(server_pg: str | None, home: Path, gateways: int, units: int, history_days: int,
            minutes: range, wall_limit_s: float | None = None,
            ) -> tuple[Day, int, int, str]:  # fmt: skip
    """(the day, rows in ours' and the peer's `reading` after it, the database's label)."""
    import yaml

    map_path = home / "bench-device.yaml"
    map_path.write_text(yaml.safe_dump({"model": "bench-device", "points": point_specs()}))
    server, ports = start_servers(gateways, units)
    ours_url, drop_ours = scratch(server_pg, home)
    peer_url, drop_peer = scratch(server_pg, home)
    try:
        peer = Peer({"ours": ours_url, "peer": peer_url, "ports": ports, "units": units,
                     "history_days": history_days})  # fmt: skip
        day = Day(points=gateways * units * POINTS, before=peer.before["ours"],
                  before_peer=peer.before["peer"], connect_s=peer.connect_s)  # fmt: skip
        try:
            asyncio.run(poll_day(ours_url, site_config(ports, units, map_path), peer, minutes,
                                 day, wall_limit_s))  # fmt: skip
        finally:
            after_peer = peer.close()
        after, db_label = count_rows(ours_url), label(ours_url)
    finally:
        server.terminate()
        server.wait(10)
        drop_ours()
        drop_peer()
    return day, after, after_peer, db_label


def fmt_s(s: float) -> str:
    return f"{s:.3f}"


def hour_line(h: Hour) -> str:
    return (
        f"{h.hour:02d}h | {h.rows_after} | {fmt_s(h.flush_median_s)} / {fmt_s(h.flush_max_s)}"
        f" | {fmt_s(h.flush_cpu_median_s)} | {fmt_s(h.poll_median_s)} | {fmt_s(h.peer_insert_median_s)}"
        f" | {fmt_s(h.peer_round_median_s)} | {h.rss_mib:.0f} / {h.rss_anon_mib:.0f}"
    )


def report_lines(day: Day, after: int, after_peer: int, db_label: str, devices: int,
                 gateways: int, history_days: int, note: str = "") -> list[str]:  # fmt: skip
    hours = day.hours()
    first, last = hours[0], hours[-1]
    planned = day.planned or day.rounds
    stopped = f" sur {planned} prévues (limite de temps réel)" if day.rounds < planned else ""
    lines = [
        f"base : {db_label}",
        f"équipements : {devices}{note} sur {gateways} passerelles, points : {day.points}",
        f"historique : {history_days} jour(s) déjà en base avant minuit",
        f"table reading : {day.before} lignes avant, {after} après (Carnet),"
        f" {after_peer} après (pair)",
        f"{day.rounds} périodes de {STEP_S} s{stopped} ; mesures écrites par Carnet : {day.stored}",
        "heure | relevés en base | vidage médian / max (s) | CPU médian du vidage (s)"
        " | relève médiane (s)"
        " | insertion brute médiane (s) | pair médian (s) | RSS / anonyme (Mio)",
    ]
    lines += [hour_line(h) for h in hours]
    flatness = last.flush_median_s / first.flush_median_s
    lines += [
        f"vidage médian : première heure {fmt_s(first.flush_median_s)} s, dernière heure"
        f" {fmt_s(last.flush_median_s)} s, rapport {flatness:.2f} (plat : 1) ; CPU du"
        f" processus : {fmt_s(first.flush_cpu_median_s)} s puis {fmt_s(last.flush_cpu_median_s)}"
        f" s, rapport {last.flush_cpu_median_s / first.flush_cpu_median_s:.2f}",
        f"RSS : {day.rss_start_kib / 1024:.0f} Mio avant le démarrage, {day.rss_kib[-1] / 1024:.0f}"
        f" Mio à la fin, pic {day.hwm_kib / 1024:.0f} Mio (objectif < 300)",
        f"pair pymodbus brut + insertion brute : {fmt_s(day.peer_s)} s (connexion"
        f" {fmt_s(day.connect_s)}, lectures {fmt_s(sum(day.peer_read_s))}, insertions"
        f" {fmt_s(sum(day.peer_insert_s))})",
        f"Carnet de bout en bout : {fmt_s(day.ours_s)} s (démarrage {fmt_s(day.startup_s)},"
        f" relève {fmt_s(sum(day.poll_s))}, vidages {fmt_s(sum(day.flush_s))})",
        f"ratio={day.peer_s / day.ours_s:.3f}",
    ]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--hours", type=float, default=24, help="heures simulées")
    ap.add_argument("--start-min", type=int, default=0, help="début, en minutes après minuit")
    ap.add_argument("--history-days", type=int, default=1, help="jours déjà en base avant")
    ap.add_argument("--quick", action="store_true", help="moins d'une minute")
    ap.add_argument(
        "--max-wall-min",
        type=float,
        default=None,
        help="arrêt après tant de minutes réelles (le rapport couvre ce qui est fait)",
    )
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    add_database_argument(ap)
    args = ap.parse_args()
    # SIGTERM unwinds like an exception: the gateways and the peer stop, scratch databases go
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.peer:
        peer_process(json.loads(args.peer))
        return 0
    full = args.devices
    if args.quick:
        # the site at its size, 20 simulated minutes across an hour's change (00:50-01:10):
        # two hours in the report, well under a minute in all
        args.start_min = 50
        args.hours = min(args.hours, 1 / 3)
        args.history_days = 0
    gateways = max(1, args.devices // UNITS_PER_GATEWAY)
    units = UNITS_PER_GATEWAY if args.devices >= UNITS_PER_GATEWAY else args.devices
    devices = gateways * units
    minutes = range(args.start_min, args.start_min + round(args.hours * 60))
    with tempfile.TemporaryDirectory() as home:
        os.environ["CARNET_HOME"] = home
        day, after, after_peer, db_label = run_day(
            server_url(args),
            Path(home),
            gateways,
            units,
            args.history_days,
            minutes,
            None if args.max_wall_min is None else args.max_wall_min * 60,
        )
    note = f" (--quick : {devices} au lieu de {full})" if devices < full else ""
    for line in report_lines(day, after, after_peer, db_label, devices, gateways,
                             args.history_days, note):  # fmt: skip
        print(line)
    assert after - day.before == after_peer - day.before_peer == day.stored
    return 0


if __name__ == "__main__":
    sys.exit(main())
