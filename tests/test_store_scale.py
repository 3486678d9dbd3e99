"""Writes whose cost stays flat as `reading` grows: a batch reads back a few rows per channel
through the (channel_id, ts) key, never the table, and the rollups it leaves are those a full
recompute gives (random batches on index, interval and instant channels across both DST
changes, edits of stored readings, a closed month's held rows). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from carnet.kinds import Quality
from carnet.store import recompute_daily, write_readings
from carnet.timeutil import local_midnight_epoch
from ingest.importer import import_file
from tests.helpers.reading_reads import ReadingReads
from tests.helpers.rollup_town import channels
from tests.helpers.rollup_town import rollups as _rollups

KINDS = {1: "index", 2: "index", 3: "interval", 4: "interval", 5: "instant", 6: "instant"}
H = 3600


def _channels(engine) -> None:
    channels(engine, KINDS, clear=False)


def _hourly(channel_id: int, start: int, hours: int, base: float = 0.0) -> pd.DataFrame:
    ts = start + H * np.arange(hours, dtype="int64")
    value = base + (np.arange(hours, dtype=float) if KINDS[channel_id] == "index" else 2.0)
    return pd.DataFrame({"channel_id": channel_id, "ts": ts, "value": value})


def _history(engine, days: int, until: int) -> int:
    frames = [_hourly(c, until - days * 86400, days * 24) for c in KINDS]
    write_readings(engine, pd.concat(frames, ignore_index=True))
    return days * 24 * len(KINDS)


def _analyse(engine) -> None:
    """Statistics of the big table, as a database in service has them (with them SQLite may
    build a temporary index of `reading` rather than seek its key: the plans must not)."""
    with engine.begin() as conn:
        conn.execute(text("ANALYZE reading"))


def _full_recompute(engine) -> pd.DataFrame:
    with engine.begin() as conn:
        spans = conn.execute(
            text("SELECT channel_id, MIN(ts), MAX(ts) FROM reading GROUP BY channel_id")
        ).all()
        recompute_daily(conn, [(int(c), int(a), int(b)) for c, a, b in spans])
    return _rollups(engine)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_dtype=False)  # fmt: skip


NOW = int(local_midnight_epoch([dt.date(2025, 3, 10)])[0])


def _reads_of_a_new_day(engine) -> ReadingReads:
    batch = pd.concat([_hourly(c, NOW, 24, base=1e6) for c in KINDS], ignore_index=True)
    with ReadingReads(engine) as reads:
        counts = write_readings(engine, batch)
    assert counts.inserted == len(batch)
    return reads


def test_a_new_day_reads_a_few_rows_per_channel_whatever_the_table_holds(engine):
    _channels(engine)
    _history(engine, 2, NOW)
    small = _reads_of_a_new_day(engine)
    with engine.begin() as conn:  # behind the store's back: the rollups are made whole again
        conn.execute(text("DELETE FROM reading WHERE ts >= :t"), {"t": NOW})
        conn.execute(text("DELETE FROM daily_rollup WHERE day >= :d"), {"d": dt.date(2025, 3, 10)})
    _full_recompute(engine)
    stored = _history(engine, 120, NOW - 2 * 86400)  # 60 times the readings, earlier
    _analyse(engine)
    big = _reads_of_a_new_day(engine)
    assert stored > 60 * 24 * len(KINDS)
    assert big.rows == small.rows and big.statements == small.statements
    # neighbours, the key count of the new rows; for the 2 index channels the day before
    assert big.rows <= 3 * len(KINDS) + 2 * 26
    assert big.scans == []
    # PostgreSQL rightly scans a partition of a few pages; SQLite follows the key either way
    assert small.scans == [] or engine.dialect.name == "postgresql"
    _assert_same(_rollups(engine), _full_recompute(engine))


def test_an_edit_reads_its_days_only(engine):
    _channels(engine)
    _history(engine, 3, NOW)
    edit = pd.concat([_hourly(c, NOW - 86400 + 5 * H, 3, base=500.0) for c in KINDS])
    with ReadingReads(engine) as small:
        assert write_readings(engine, edit).updated == len(edit)
    _history(engine, 90, NOW - 3 * 86400)
    _analyse(engine)
    with ReadingReads(engine) as big:
        assert write_readings(engine, edit.assign(value=edit["value"] + 1)).updated == len(edit)
    assert big.rows == small.rows and big.scans == []
    assert small.scans == [] or engine.dialect.name == "postgresql"
    # the edited day of each channel (24 readings), its neighbours for index channels
    assert big.rows <= len(KINDS) * (24 + 8)
    _assert_same(_rollups(engine), _full_recompute(engine))


def test_an_import_reads_back_a_few_rows_per_channel(engine, tmp_path):
    """The path of `carnet import`: the rollups take the rows just written as they are."""
    _channels(engine)
    _history(engine, 60, NOW)
    _analyse(engine)
    stamps = pd.date_range("2025-03-10", periods=24 * 7, freq="h", tz="Europe/Paris")
    lines = ["channel,timestamp,value"]
    for c in KINDS:
        base = 1e6 if KINDS[c] == "index" else 0.0
        lines += [f"C{c},{t.isoformat()},{base + i:.1f}" for i, t in enumerate(stamps)]
    path = tmp_path / "week.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with ReadingReads(engine) as reads:
        report = import_file(engine, path)
    assert report.rows_inserted == len(lines) - 1, report
    assert reads.scans == []
    assert reads.rows <= 3 * len(KINDS) + 2 * 26  # not the 168 readings of each channel
    _assert_same(_rollups(engine), _full_recompute(engine))


# --- incremental against a full recompute, on random batches ------------------------------

SPRING = int(pd.Timestamp("2025-03-28 22:00", tz="UTC").timestamp())  # 30/03: 23 h
AUTUMN = int(pd.Timestamp("2025-10-24 22:00", tz="UTC").timestamp())  # 26/10: 25 h
GRID_H = 96

batches = st.lists(
    st.tuples(
        st.sampled_from(sorted(KINDS)),
        st.sampled_from([SPRING, AUTUMN]),
        st.integers(0, GRID_H - 4),  # first hour
        st.integers(4, 40),  # hours (runs of 4 or more keep each day's median step hourly)
        st.floats(0.0, 50.0),  # index base / value offset
        st.sampled_from([Quality.MEASURED, Quality.ESTIMATED, Quality.GAP]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(batches=batches)
def test_rollups_after_random_batches_equal_a_full_recompute(engine, batches):
    with engine.begin() as conn:
        for table in ("daily_rollup", "reading", "channel"):
            conn.execute(text(f"DELETE FROM {table}"))
    _channels(engine)
    for cid, seg, first, hours, base, quality in batches:
        hours = min(hours, GRID_H - first)
        frame = _hourly(cid, seg + first * H, hours, base=base)
        if KINDS[cid] != "index":
            frame["value"] = base + np.sin(np.arange(hours))
            quality = Quality.MEASURED if quality == Quality.GAP else quality  # no holes
        frame["quality"] = int(quality)
        if quality == Quality.GAP:
            frame["value"] = np.nan
        write_readings(engine, frame)
    _assert_same(_rollups(engine), _full_recompute(engine))


def test_rollups_with_a_closed_month_held_equal_a_full_recompute(contract_town, engine, capsys):
    from tests.helpers.cli import run

    assert run(capsys, "settle", "close", "--contract", "C1", "--month", "2025-10",
               "--user", "gestionnaire")[0] == 0  # fmt: skip
    gas = contract_town["ids"]["MAIRIE-GAZ"]
    stamps = pd.date_range("2025-10-30", "2025-11-03", freq="6h", tz="Europe/Paris")
    frame = pd.DataFrame(
        {"channel_id": gas, "ts": stamps.tz_convert("UTC").as_unit("s").asi8,
         "value": 90_000.0 + np.arange(len(stamps))}
    )  # fmt: skip
    counts = write_readings(engine, frame)
    assert counts.held > 0 and counts.inserted > 0
    _assert_same(_rollups(engine), _full_recompute(engine))
