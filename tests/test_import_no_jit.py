"""An import's transaction runs without JIT on PostgreSQL, as the poller's flush does: the
per-channel seeks of the store were compiled at every statement once a month's partition had
statistics (about 1 s for a 20 ms statement). Only that transaction: the server default stays."""

from __future__ import annotations

import pytest

from carnet.db import session_scope
from carnet.models import Building, Channel
from ingest import import_run
from ingest.importer import import_file


def test_an_import_runs_without_jit_on_postgresql(engine, tmp_path, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with session_scope(engine) as s:
        b = Building(code="B", name="B")
        s.add(b)
        s.flush()
        s.add(Channel(code="B-T", building_id=b.id, quantity="temp_indoor_c", kind="instant",
                      unit="degC"))  # fmt: skip
    seen = []
    upsert = import_run.upsert_readings

    def spy(conn, *args, **kwargs):
        seen.append(conn.exec_driver_sql("SHOW jit").scalar_one())
        return upsert(conn, *args, **kwargs)

    monkeypatch.setattr(import_run, "upsert_readings", spy)
    path = tmp_path / "releves.csv"
    path.write_text("channel,timestamp,value\nB-T,2024-12-01T08:00:00+01:00,19.5\n")
    report = import_file(engine, path)
    assert report.rows_inserted == 1
    assert seen == ["off"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar_one() == "on"  # the server's default
