"""Poller throughput vs a bare pymodbus read loop over the same registers, in the same run.

N simulated devices of 20 points (16 holding registers points in one block, 4 float32 CDAB input
points in another) behind one loopback Modbus TCP server running in a separate process, so the
server does not share the GIL with the clients being measured. Both sides read the same blocks
over one connection, one device after the other (as on an RS-485 line), and decode every value:
the baseline with `convert_from_registers`, ours through the whole poller (block plan, decoding,
quality flags, buffering, alarm tracking). Writing to the database is reported on its own line.

    python benchmarks/bench_poll.py [--devices N] [--rounds R] [--quick]

The last line is `ratio=R` (poller points/s divided by baseline points/s; aim >= 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOLDING = [("int16", 1)] * 10 + [("uint16", 1)] * 2 + [("uint32", 2)] * 4  # 16 points, 20 regs
INPUT = [("float32", 2)] * 4  # 4 points, 8 regs


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


def serve(port: int, devices: int) -> None:
    """Child process: the loopback server with `devices` units."""
    from tests.helpers.modbus_sim import FakeDevice, SimServer, encode

    async def main():
        sims = []
        for unit in range(1, devices + 1):
            d = FakeDevice(unit, holding_size=64, input_size=64)
            d.set("holding", 0, [(unit * 7 + j) & 0x7FFF for j in range(20)])
            for k in range(4):
                d.set("input", 2 * k, encode(unit + k / 4, "float32", "CDAB"))
            sims.append(d)
        await SimServer(sims, port=port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


async def bare_round(client, devices: int) -> int:
    """The baseline: read both blocks of each device and convert each value with pymodbus."""
    conv = client.convert_from_registers
    types = {"int16": client.DATATYPE.INT16, "uint16": client.DATATYPE.UINT16,
             "uint32": client.DATATYPE.UINT32, "float32": client.DATATYPE.FLOAT32}  # fmt: skip
    n = 0
    values = []
    for unit in range(1, devices + 1):
        rr = await client.read_holding_registers(0, count=20, device_id=unit)
        regs, at = rr.registers, 0
        for kind, width in HOLDING:
            values.append(conv(regs[at : at + width], types[kind]))
            at += width
        rr = await client.read_input_registers(0, count=8, device_id=unit)
        regs, at = rr.registers, 0
        for kind, width in INPUT:
            values.append(conv(regs[at : at + width], types[kind], word_order="little"))
            at += width
        n += len(HOLDING) + len(INPUT)
    return n


async def measure(port: int, devices: int, rounds: int, poller, with_flush: bool) -> dict:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
    await client.connect()
    await bare_round(client, devices)  # warm up both sides
    await poller.poll_round()
    best = {"bare": float("inf"), "poller": float("inf")}
    points = {"bare": 0, "poller": 0}
    for _ in range(rounds):  # interleaved, best of: the same machine noise for both
        t = time.perf_counter()
        points["bare"] = await bare_round(client, devices)
        best["bare"] = min(best["bare"], time.perf_counter() - t)
        t = time.perf_counter()
        results = await poller.poll_round()
        best["poller"] = min(best["poller"], time.perf_counter() - t)
        points["poller"] = sum(r.points_read for r in results)
        assert all(r.points_failed == 0 for r in results)
    client.close()
    rows, flush_s, report = poller.buffered_rows, None, None
    if with_flush:  # one rollup refresh per channel: slow on a loaded machine, not in --quick
        t = time.perf_counter()
        report = await poller.flush()
        flush_s = time.perf_counter() - t
    poller.close()
    return {"best": best, "points": points, "flush_rows": rows, "flush_s": flush_s,
            "flushed": report is not None and report.written}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="moins d'une minute")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.devices)
        return 0
    if args.quick:
        args.devices, args.rounds = min(args.devices, 30), min(args.rounds, 10)
    devices = min(args.devices, 247)

    from tests.helpers.modbus_sim import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--devices", str(devices)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the benchmark server did not start")
        with tempfile.TemporaryDirectory() as home:
            os.environ["CARNET_HOME"] = home
            os.environ["CARNET_DATABASE_URL"] = f"sqlite:///{home}/bench.sqlite"
            poller = build_poller(port, devices)
            res = asyncio.run(measure(port, devices, args.rounds, poller, not args.quick))
    finally:
        server.terminate()
        server.wait(10)

    bare_pps = res["points"]["bare"] / res["best"]["bare"]
    ours_pps = res["points"]["poller"] / res["best"]["poller"]
    per_device_s = res["best"]["poller"] / devices
    print(f"{devices} équipements x 20 points, {args.rounds} tours, meilleur tour de chaque côté")
    print(f"baseline pymodbus brut : {bare_pps:10.0f} points/s ({res['best']['bare']:.3f} s/tour)")
    print(
        f"poller Carnet          : {ours_pps:10.0f} points/s ({res['best']['poller']:.3f} s/tour)"
    )
    print(f"un cycle de 60 s couvre ~{int(60 / per_device_s)} équipements par passerelle")
    if res["flush_s"] is not None:
        print(f"écriture en base (hors ratio) : {res['flush_rows']} mesures, {devices * 20} voies,"
              f" en {res['flush_s']:.3f} s ({'ok' if res['flushed'] else 'échec'})")  # fmt: skip
    print(f"ratio={ours_pps / bare_pps:.3f}")
    return 0


def build_poller(port: int, devices: int):
    from carnet.db import get_engine, session_scope
    from carnet.models import Building, Channel
    from ingest.modbus.config import parse_config
    from ingest.modbus.poller import Poller

    specs = point_specs()
    map_path = Path(os.environ["CARNET_HOME"]) / "bench-device.yaml"
    import yaml

    map_path.write_text(yaml.safe_dump({"model": "bench-device", "points": specs}))
    engine = get_engine()
    with session_scope(engine) as s:
        b = Building(code="BENCH", name="Bench")
        s.add(b)
        for unit in range(1, devices + 1):
            for p in specs:
                s.add(Channel(code=f"D{unit}-{p['key']}", building=b, quantity="x",
                              kind="instant", unit="u"))  # fmt: skip
    config = parse_config({"gateways": [{
        "code": "GW-BENCH", "host": "127.0.0.1", "port": port, "timeout_s": 5, "retries": 0,
        "devices": [{"unit": u, "map": str(map_path),
                     "channels": {p["key"]: f"D{u}-{p['key']}" for p in specs}}
                    for u in range(1, devices + 1)],
    }]}, "bench")  # fmt: skip
    return Poller(config)


if __name__ == "__main__":
    sys.exit(main())
