"""Poll end to end against bare pymodbus reads plus a raw insert of the same rows.

G loopback Modbus TCP gateways (separate process, so the servers do not share the GIL with the
clients measured) with U devices of 20 points each (16 holding-register points in one block,
4 float32 CDAB input points in another), 500 devices x 20 points by default. Both sides, on the
same kind of database, write into a day that already holds its readings (`--prefill-min`
minutes of 60-second readings of every point, and on our side that day's rollup rows, loaded
before the clock starts):
- ours, end to end: start-up (`parse_config`, `Poller`: channel binding, register maps), then
  `--rounds` poll periods, each one `poll_round` (block plan, decoding, quality flags,
  buffering, alarm tracking) and one `flush` (plausibility, upsert, rollups, batch row), then
  `close` (on SQLite the write-ahead log the flushes left, copied back into the database);
- the named baseline "bare pymodbus + raw insert": one client per gateway, the same blocks read
  and every value converted with `convert_from_registers`, gateways in parallel, then the same
  rows inserted into `reading` in one `executemany` (SQLite) or `COPY` (PostgreSQL) per period.

Prints the database, devices, points, the rows in `reading` before and after, each side's time
(and the part of it spent writing);
`--repeat` rounds (3) of both, each on new databases, one after the other: the
machine's speed moves from one second to the next, so the figure is the median of the rounds'
ratios, the median round's details shown; last `ratio=R` = baseline time / our time (1.0: as fast as the
bare path; aim >= 0.5).

    python benchmarks/bench_poll.py [--devices N] [--rounds R] [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch_db import add_database_argument, label, scratch, server_url  # noqa: E402

HOLDING = [("int16", 1)] * 10 + [("uint16", 1)] * 2 + [("uint32", 2)] * 4  # 16 points, 20 regs
INPUT = [("float32", 2)] * 4  # 4 points, 8 regs
POINTS = len(HOLDING) + len(INPUT)
UNITS_PER_GATEWAY = 10
WRITES_S: dict[str, float] = {}  # per side, the part of its time spent writing (printed)
DAY0 = 1_764_543_600  # 01/12/2025 00:00 Europe/Paris


def point_specs() -> list[dict]:
    specs, address = [], 0
    for i, (kind, width) in enumerate(HOLDING):
        specs.append({"key": f"h{i}", "table": "holding", "address": address, "type": kind,
                      "scale": 0.1 if kind == "int16" else 1})  # fmt: skip
        address += width
    address = 0
    for i, (kind, width) in enumerate(INPUT):
        specs.append({"key": f"f{i}", "table": "input", "address": address, "type": kind,
                      "word_order": "CDAB"})  # fmt: skip
        address += width
    return specs


def serve(ports: list[int], units: int) -> None:
    """Child process: one loopback server of `units` devices per port."""
    from tests.helpers.modbus_sim import FakeDevice, SimServer, encode

    async def main():
        for port in ports:
            sims = []
            for unit in range(1, units + 1):
                d = FakeDevice(unit, holding_size=64, input_size=64)
                d.set("holding", 0, [(unit * 7 + j) & 0x7FFF for j in range(20)])
                for k in range(4):
                    d.set("input", 2 * k, encode(unit + k / 4, "float32", "CDAB"))
                sims.append(d)
            await SimServer(sims, port=port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_servers(gateways: int, units: int) -> tuple[subprocess.Popen, list[int]]:
    from tests.helpers.modbus_sim import free_port

    ports = sorted({free_port() for _ in range(gateways * 2)})[:gateways]
    args = [sys.executable, __file__, "--serve", ",".join(map(str, ports)), "--units", str(units)]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    if server.stdout.readline().strip() != "ready":
        server.terminate()
        raise RuntimeError("the benchmark servers did not start")
    return server, ports


def channel_code(gateway: int, unit: int, key: str) -> str:
    return f"G{gateway}-D{unit}-{key}"


def site_config(ports: list[int], units: int, map_path: Path) -> dict:
    specs = point_specs()
    return {"gateways": [{
        "code": f"GW{g}", "host": "127.0.0.1", "port": port, "timeout_s": 5, "retries": 0,
        "devices": [{"unit": u, "map": str(map_path),
                     "channels": {p["key"]: channel_code(g, u, p["key"]) for p in specs}}
                    for u in range(1, units + 1)],
    } for g, port in enumerate(ports)]}  # fmt: skip


def create_channels(url: str, gateways: int, units: int) -> np.ndarray:
    """The site's channels (instant, so that plausibility has nothing to hold); their ids in
    the order the baseline reads them."""
    from sqlalchemy import text

    from carnet.db import get_engine, session_scope
    from carnet.models import Building, Channel

    codes = [channel_code(g, u, p["key"]) for g in range(gateways)
             for u in range(1, units + 1) for p in point_specs()]  # fmt: skip
    engine = get_engine(url)
    with session_scope(engine) as s:
        b = Building(code="BENCH", name="Banc d'essai")
        s.add(b)
        s.flush()
        s.add_all([Channel(code=c, building_id=b.id, quantity="x", kind="instant", unit="u")
                   for c in codes])  # fmt: skip
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM channel")).all())
    return np.array([ids[c] for c in codes], dtype="int64")


def raw_insert(engine, ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
    """The baseline's writer: rows straight into `reading`, the strongest plain path."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            buf = io.StringIO()
            np.savetxt(buf, np.column_stack([ids, ts, values, np.zeros(len(ids))]),
                       fmt=["%d", "%d", "%.6g", "%d"],
                       delimiter="\t")  # fmt: skip
            buf.seek(0)
            raw = conn.connection.dbapi_connection
            with (
                raw.cursor() as cur,
                cur.copy("COPY reading (channel_id, ts, value, quality) FROM STDIN") as copy,
            ):
                copy.write(buf.getvalue())
        else:
            conn.connection.dbapi_connection.executemany(
                "INSERT INTO reading (channel_id, ts, value, quality) VALUES (?, ?, ?, 0)",
                zip(ids.tolist(), ts.tolist(), values.tolist(), strict=True),
            )


def prefill(engine, ids: np.ndarray, minutes: int, rollups: bool = True) -> None:
    """The day's earlier readings of every point, a minute apart, from local midnight, in
    their month's partition on PostgreSQL (as a database in service has them: made ahead by
    `carnet db upgrade` and by the store), not in `reading_default`; and, `rollups`, their
    day's rollup rows (the baseline, which reads and writes none, is spared their making)."""
    from carnet import partitions

    with engine.begin() as conn:
        partitions.ensure_for(conn, np.array([DAY0, DAY0 + 86_400]))
    for m0 in range(0, minutes, 30):
        steps = np.arange(m0, min(m0 + 30, minutes))
        raw_insert(
            engine,
            np.tile(ids, len(steps)),
            np.repeat(DAY0 + steps * 60, len(ids)),
            np.tile(np.arange(len(ids), dtype=float), len(steps)),
        )
    if minutes and rollups:
        # the day's rollup rows, as a poller in service finds them: its merges then update
        # rows, they do not insert them
        from carnet.store import recompute_daily

        last = DAY0 + (minutes - 1) * 60
        with engine.begin() as conn:
            recompute_daily(conn, [(int(c), DAY0, last) for c in ids])


async def bare_round(clients: list, units: int) -> list[float]:
    """Read both blocks of each device of every gateway (in parallel) and convert each value."""

    async def one(client) -> list[float]:
        conv = client.convert_from_registers
        types = {"int16": client.DATATYPE.INT16, "uint16": client.DATATYPE.UINT16,
                 "uint32": client.DATATYPE.UINT32, "float32": client.DATATYPE.FLOAT32}  # fmt: skip
        values = []
        for unit in range(1, units + 1):
            rr = await client.read_holding_registers(0, count=20, device_id=unit)
            regs, at = rr.registers, 0
            for kind, width in HOLDING:
                scale = 0.1 if kind == "int16" else 1
                values.append(conv(regs[at : at + width], types[kind]) * scale)
                at += width
            rr = await client.read_input_registers(0, count=8, device_id=unit)
            regs, at = rr.registers, 0
            for kind, width in INPUT:
                values.append(conv(regs[at : at + width], types[kind], word_order="little"))
                at += width
        return values

    parts = await asyncio.gather(*(one(c) for c in clients))
    return [v for p in parts for v in p]


async def baseline(url: str, ports: list[int], units: int, ids: np.ndarray, rounds: int,
                   minute0: int) -> float:  # fmt: skip
    from pymodbus.client import AsyncModbusTcpClient

    from carnet.db import get_engine

    engine = get_engine(url)
    gc.collect()  # the set-up's garbage is not the measured side's to collect
    t = time.perf_counter()
    clients = [AsyncModbusTcpClient("127.0.0.1", port=p, timeout=5, retries=0) for p in ports]
    await asyncio.gather(*(c.connect() for c in clients))
    writes = 0.0
    for k in range(rounds):
        values = np.array(await bare_round(clients, units), dtype=float)
        ts = np.full(len(ids), DAY0 + (minute0 + k) * 60, dtype="int64")
        w = time.perf_counter()
        await asyncio.to_thread(raw_insert, engine, ids, ts, values)
        writes += time.perf_counter() - w
    elapsed = time.perf_counter() - t
    for c in clients:
        c.close()
    WRITES_S["baseline"] = writes
    return elapsed


async def ours(url: str, site: dict, rounds: int, minute0: int) -> tuple[float, float, int]:
    from ingest.modbus.config import parse_config
    from ingest.modbus.poller import Poller

    clock = [DAY0 + minute0 * 60]
    gc.collect()  # as the baseline: a full collection owed to the set-up (`prefill`'s
    # rollups) otherwise falls on the side measured next (0.09 to 0.11 s)
    t = time.perf_counter()
    poller = Poller(parse_config(site, "bench"), url=url, clock=lambda: clock[0])
    startup = time.perf_counter() - t
    written, writes = 0, 0.0
    for k in range(rounds):
        clock[0] = DAY0 + (minute0 + k) * 60
        results = await poller.poll_round()
        assert all(r.points_failed == 0 for r in results)
        w = time.perf_counter()
        report = await poller.flush()
        writes += time.perf_counter() - w
        assert report.written, report.error
        written += report.stored
    w = time.perf_counter()
    poller.close()  # what the flushes left to do (SQLite: the log copied back) counts
    writes += time.perf_counter() - w
    elapsed = time.perf_counter() - t
    WRITES_S["ours"] = writes
    return elapsed, startup, written


def count_rows(url: str) -> int:
    from carnet.db import get_engine

    with get_engine(url).connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM reading").scalar_one()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5, help="périodes de scrutation mesurées")
    ap.add_argument("--prefill-min", type=int, default=480, help="minutes déjà en base ce jour")
    ap.add_argument("--quick", action="store_true", help="moins d'une minute")
    ap.add_argument("--repeat", type=int, default=None,
                    help="tours (baseline puis Carnet, sur des bases neuves : 3) ; rapport médian")  # fmt: skip
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--units", type=int, default=UNITS_PER_GATEWAY, help=argparse.SUPPRESS)
    add_database_argument(ap)
    args = ap.parse_args()
    if args.serve:
        serve([int(p) for p in args.serve.split(",")], args.units)
        return 0
    full = args.devices
    if args.quick:  # the site at its size and the same 5 periods (one merge of the day's
        # rollups, as every 5 minutes in service), a shorter morning before them: 3 periods
        # weighed the start-up and the merge at the stop twice as much as a running poller
        args.prefill_min = min(args.prefill_min, 60)
    if args.repeat is None:
        args.repeat = 3
    gateways = max(1, args.devices // UNITS_PER_GATEWAY)
    units = UNITS_PER_GATEWAY if args.devices >= UNITS_PER_GATEWAY else args.devices
    devices = gateways * units
    from carnet.db import get_engine

    server, ports = start_servers(gateways, units)
    try:
        with tempfile.TemporaryDirectory() as home:
            os.environ["CARNET_HOME"] = home
            map_path = Path(home) / "bench-device.yaml"
            import yaml

            map_path.write_text(yaml.safe_dump({"model": "bench-device", "points": point_specs()}))
            site = site_config(ports, units, map_path)
            server_pg = server_url(args)
            pairs = []
            for _ in range(args.repeat):  # the baseline then ours, each on a new database
                results = {}
                for side in ("baseline", "ours"):
                    url, drop = scratch(server_pg, Path(home))
                    try:
                        ids = create_channels(url, gateways, units)
                        prefill(get_engine(url), ids, args.prefill_min, rollups=side == "ours")
                        before = count_rows(url)
                        if side == "baseline":
                            s = asyncio.run(baseline(url, ports, units, ids, args.rounds,
                                                     args.prefill_min))  # fmt: skip
                            results[side] = (s, None, None)
                        else:
                            results[side] = asyncio.run(
                                ours(url, site, args.rounds, args.prefill_min)
                            )
                        after = count_rows(url)
                        results[side] += (before, after, label(url))
                    finally:
                        drop()
                results["writes"] = dict(WRITES_S)
                pairs.append(results)
                print(f"tour {len(pairs)} : baseline {results['baseline'][0]:.3f} s,"
                      f" Carnet {results['ours'][0]:.3f} s, rapport"
                      f" {results['baseline'][0] / results['ours'][0]:.3f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
    ratios = [p["baseline"][0] / p["ours"][0] for p in pairs]
    results = pairs[int(np.argsort(ratios)[len(ratios) // 2])]  # the median round, shown
    base_s, _, _, before, base_after, db_label = results["baseline"]
    ours_s, startup_s, written, _, ours_after, _ = results["ours"]
    base_w, ours_w = results["writes"]["baseline"], results["writes"]["ours"]
    note = f" (--quick : {devices} au lieu de {full})" if devices < full else ""
    print(f"base : {db_label}")
    print(f"équipements : {devices}{note} sur {gateways} passerelles, points : {devices * POINTS}")
    print(f"table reading : {before} lignes avant ({args.prefill_min} min du jour déjà en base),"
          f" {ours_after} après (Carnet), {base_after} après (baseline)")  # fmt: skip
    print(f"{args.rounds} périodes ; mesures écrites par Carnet : {written}")
    print(f"tours : {len(pairs)}, chacun sur des bases neuves ; le tour médian :")
    print(f"baseline pymodbus brut + insertion brute : {base_s:.3f} s"
          f" (dont insertions {base_w:.3f} s)")  # fmt: skip
    print(f"Carnet de bout en bout                   : {ours_s:.3f} s"
          f" (dont démarrage {startup_s:.3f} s, écritures {ours_w:.3f} s)")  # fmt: skip
    for p in pairs:
        assert p["ours"][4] - p["ours"][3] == p["baseline"][4] - p["baseline"][3] == p["ours"][2]
    print(f"ratio={float(np.median(ratios)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
