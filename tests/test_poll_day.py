"""benchmarks/bench_poll_day.py's day loop on a tiny site, a few simulated minutes across an
hour's change, so that the benchmark cannot rot: every round's rows are stored on both sides
and the per-hour report has one row per simulated hour (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from carnet.db import session_scope
from carnet.models import Building, Channel
from ingest.modbus import writer

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_poll_day.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_poll_day", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_day_loop_stores_every_round_and_reports_each_simulated_hour(tmp_path, monkeypatch):
    bench = _bench()
    monkeypatch.setenv("CARNET_HOME", str(tmp_path))
    server = os.environ.get("CARNET_TEST_DATABASE_URL", "")
    server = server if server.startswith("postgresql") else None
    gateways, units, rounds = 1, 2, 4
    points = gateways * units * bench.POINTS
    minutes = range(58, 58 + rounds)  # 00:58, 00:59, 01:00, 01:01

    day, after, after_peer, db_label = bench.run_day(server, tmp_path, gateways, units, 1,
                                                     minutes)  # fmt: skip

    history = 1440 * points  # one earlier day of 60-second readings, on both sides
    assert (day.before, day.before_peer) == (history, history)
    assert day.rounds == rounds and day.stored == rounds * points
    assert after - day.before == after_peer - day.before_peer == rounds * points
    hours = day.hours()
    assert [(h.hour, h.rounds, h.rows_after) for h in hours] == [
        (0, 2, history + 2 * points),
        (1, 2, history + 4 * points),
    ]
    assert all(h.flush_max_s >= h.flush_median_s > 0 and h.rss_mib > 0 for h in hours)
    assert all(h.flush_cpu_median_s > 0 for h in hours)
    assert day.hwm_kib >= max(day.rss_kib) > 0

    lines = bench.report_lines(day, after, after_peer, db_label, gateways * units, gateways, 1)
    assert lines[0].startswith("base : SQLite" if server is None else "base : PostgreSQL")
    assert [line[:4] for line in lines if line[:2].isdigit()] == ["00h ", "01h "]
    assert lines[-1].startswith("ratio=") and float(lines[-1][6:]) > 0


def test_a_poller_flush_runs_without_jit_on_postgresql(engine, tmp_path, monkeypatch):
    """JIT compiled the flush's per-channel seeks once the day's partition had statistics
    (about 1 s per flush for a 20 ms statement, bench_poll_day): the writer's transaction
    turns it off, and only that transaction."""
    if engine.dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with session_scope(engine) as s:
        b = Building(code="B", name="B")
        s.add(b)
        s.flush()
        channel = Channel(code="C", building_id=b.id, quantity="x", kind="instant", unit="u")
        s.add(channel)
        s.flush()
        channel_id = channel.id
    seen = []
    upsert = writer.upsert_readings

    def spy(conn, *args, **kwargs):
        seen.append(conn.exec_driver_sql("SHOW jit").scalar_one())
        return upsert(conn, *args, **kwargs)

    monkeypatch.setattr(writer, "upsert_readings", spy)
    frame = pd.DataFrame({"channel_id": [channel_id], "ts": [1_764_543_600], "value": [1.0],
                          "quality": [0]})  # fmt: skip
    report = writer.Writer(spool_dir=tmp_path / "spool").flush(frame, [], [])
    assert report.written and report.stored == 1
    assert seen == ["off"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar_one() == "on"  # the server's default
