"""Migration 0016: a database holding rollups from before it upgrades with the day figures
backfilled (sum of values, covered seconds), so that the poller's next readings merge into
them; `reading.batch_id` is indexed and reverting a batch seeks it (plans checked on SQLite
and PostgreSQL, not times)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect, text

from carnet import db as carnet_db
from carnet.batches import revert_batch
from carnet.store import write_readings
from carnet.timeutil import day_length_s, local_midnight_epoch
from ingest.importer import import_file
from tests.helpers.ingest_support import load_samples

SEQ = re.compile(r"Seq Scan on reading\w* \w+\s+\(cost=[\d.]+\.\.([\d.]+)")
KINDS = {1: "index", 2: "interval", 3: "instant"}
DAY0 = int(local_midnight_epoch(np.array(["2025-03-28"], dtype="datetime64[D]"))[0])


def _channels(engine) -> None:
    with engine.begin() as conn:
        for cid, kind in KINDS.items():
            conn.execute(
                text(
                    "INSERT INTO channel (id, code, quantity, kind, unit)"
                    " VALUES (:i, :c, 'q', :k, 'u')"
                ),
                {"i": cid, "c": f"C{cid}", "k": kind},
            )


def _hours(start_h: int, n: int) -> pd.DataFrame:
    ts = DAY0 + 3600 * (start_h + np.arange(n, dtype="int64"))
    return pd.concat(
        [pd.DataFrame({"channel_id": c, "ts": ts,
                       "value": 500.0 + 2.5 * np.arange(start_h, start_h + n)
                       if KINDS[c] == "index" else 18.0 + (np.arange(n) % 7)})
         for c in KINDS], ignore_index=True,
    )  # fmt: skip


def _rollups(engine) -> pd.DataFrame:
    frame = pd.read_sql_query(text("SELECT * FROM daily_rollup ORDER BY channel_id, day"), engine)
    return frame.assign(day=pd.to_datetime(frame["day"]).dt.date)


def test_0015_rollups_are_backfilled_and_take_the_next_readings(engine):
    _channels(engine)
    write_readings(engine, _hours(0, 60))  # 28/03 to 30/03 (23 h: the spring change)
    exact = _rollups(engine)
    carnet_db.downgrade(engine, "0015")
    columns = {c["name"] for c in inspect(engine).get_columns("daily_rollup")}
    assert not {"value_sum", "covered_s"} & columns
    old = pd.read_sql_query(text("SELECT * FROM daily_rollup ORDER BY channel_id, day"), engine)
    assert len(old) == len(exact) == 9

    carnet_db.reset_engines()
    engine = carnet_db.get_engine(str(engine.url.render_as_string(hide_password=False)))
    carnet_db.upgrade(engine)
    got = _rollups(engine)
    cols = ["channel_id", "day", "value", "energy_kwh", "min_value", "max_value",
            "n_readings", "coverage", "estimated"]  # fmt: skip
    pd.testing.assert_frame_equal(got[cols], exact[cols], check_dtype=False)
    # what the rows held gives back their figures: the sum exactly, the seconds to the
    # rounding of the coverage (4 decimals of a day)
    np.testing.assert_allclose(got["value_sum"], exact["value_sum"], rtol=1e-12)
    days = np.asarray(pd.to_datetime(got["day"]).to_numpy(), dtype="datetime64[D]")
    assert (np.abs(got["covered_s"] - exact["covered_s"]) <= 1e-4 * day_length_s(days)).all()
    assert {"value_sum", "covered_s"} <= {
        c["name"] for c in inspect(engine).get_columns("daily_rollup")
    }
    assert any(ix["column_names"] == ["batch_id"] for ix in inspect(engine).get_indexes("reading"))

    write_readings(engine, _hours(60, 6))  # the next hours merge into the backfilled day
    after = _rollups(engine).set_index(["channel_id", "day"])
    instant = pd.concat([_hours(0, 60), _hours(60, 6)]).query("channel_id == 3")
    local = pd.to_datetime(instant["ts"], unit="s", utc=True).dt.tz_convert("Europe/Paris")
    mean = instant.groupby(local.dt.date)["value"].mean()
    for day, value in mean.items():
        assert after.loc[(3, day), "value"] == pytest.approx(value)
        assert after.loc[(3, day), "n_readings"] == (local.dt.date == day).sum()


def _plan(conn, statement: str, parameters) -> str:
    """The plan of a statement as the revert ran it, with its own parameters."""
    sqlite = conn.dialect.name == "sqlite"
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
        return "\n".join(str(r[-1] if sqlite else r[0]) for r in cur.fetchall())
    finally:
        cur.close()


def test_reverting_a_batch_seeks_its_rows_by_the_batch_index(engine, tmp_path):
    load_samples(engine)
    with engine.connect() as conn:
        channel = conn.execute(
            text("SELECT id FROM channel WHERE code = 'MAIRIE-CONSEIL-T'")
        ).scalar_one()
    hours = 24 * 400
    history = pd.DataFrame({"channel_id": channel, "ts": DAY0 - 3600 * (hours - np.arange(hours)),
                            "value": 19.0})  # fmt: skip
    write_readings(engine, history, batch_id=None)
    path = tmp_path / "jour.csv"
    stamps = pd.date_range("2025-03-28", periods=24, freq="h", tz="Europe/Paris")
    path.write_text("channel,timestamp,value\n" + "".join(
        f"MAIRIE-CONSEIL-T,{t.isoformat()},20.5\n" for t in stamps), encoding="utf-8")  # fmt: skip
    report = import_file(engine, path)
    assert report.rows_inserted == 24
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    seen: list[str] = []

    from sqlalchemy import event

    def listen(conn, cursor, statement, parameters, context, executemany):
        sql = statement.lstrip()
        if "r.batch_id = " in sql or sql.startswith("DELETE FROM reading WHERE batch_id"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        revert_batch(engine, report.batch_id, actor="gestionnaire", why="essai")
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert seen, "the revert reads the batch's readings"
    with engine.connect() as conn:
        for statement, parameters in seen:
            plan = _plan(conn, statement, parameters)
            if conn.dialect.name == "sqlite":
                assert "INDEX ix_reading_batch_id (batch_id=?)" in plan, (statement, plan)
            else:  # every month by its index; a partition of a few pages may be read whole
                assert "batch_id_idx" in plan, (statement, plan)
                assert all(float(c) < 20 for c in SEQ.findall(plan)), plan
    with engine.connect() as conn:
        left = conn.execute(text("SELECT COUNT(*) FROM reading WHERE channel_id = :c"),
                            {"c": channel}).scalar_one()  # fmt: skip
    assert left == hours
