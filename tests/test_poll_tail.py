"""The poller keeps, per channel, the end of what it stored (last instant, last valid reading)
between its own flushes, so that a flush reads nothing back from `reading`; another writer's
commit (a CSV import of the same channels) drops it and the next flush probes the table again,
leaving the rollups a full recompute gives. SQLite and PostgreSQL. On SQLite, its write-ahead
log is copied back into the database every few flushes rather than at each commit."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import event

from ingest.modbus.writer import SQLITE_AUTOCHECKPOINT_PAGES, SQLITE_CHECKPOINT_FLUSHES, Writer
from tests.helpers.reading_reads import ReadingReads
from tests.helpers.rollup_town import KINDS, SPRING, import_readings
from tests.helpers.rollup_town import channels as _channels
from tests.helpers.rollup_town import full_recompute as _full_recompute
from tests.helpers.rollup_town import rollups as _rollups

T0 = SPRING + 4 * 3600


def _minute(k: int) -> pd.DataFrame:
    """The three channels' readings of minute `k` (a rising index, an interval, an instant)."""
    return pd.DataFrame(
        {
            "channel_id": list(KINDS),
            "ts": T0 + 60 * k,
            "value": [1000.0 + 0.5 * k, 0.2 + 0.01 * k, 19.0 + k % 3],
            "quality": 0,
        }
    )


def _import_minute(engine, tmp_path, k: int) -> None:
    """Minute `k` of the three channels from a file: another writer's commit."""
    import_readings(engine, tmp_path, _minute(k), f"minute{k}")


def _same_as_recompute(engine) -> None:
    pd.testing.assert_frame_equal(_rollups(engine), _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_dtype=False)  # fmt: skip


def test_flushes_after_the_pollers_own_read_nothing_from_reading(engine, db_url, tmp_path):
    _channels(engine)
    writer = Writer(db_url, tmp_path / "spool", source="test")
    with ReadingReads(engine) as first:
        assert writer.flush(_minute(0), [], []).written
    assert first.statements >= 1  # the probe: what came before, is anything stored after
    with ReadingReads(engine) as reads:
        for k in range(1, 4):
            assert writer.flush(_minute(k), [], []).stored == len(KINDS)
        # a flush without the instant channel (its point unread), then with it again
        assert writer.flush(_minute(4).iloc[:2], [], []).stored == 2
        assert writer.flush(_minute(5), [], []).stored == len(KINDS)
    assert reads.statements == 0, reads.log
    _same_as_recompute(engine)


def test_an_import_between_two_flushes_drops_the_tail(engine, db_url, tmp_path):
    """Minute 2 imported from a file between the poller's flushes of minutes 1 and 3: kept,
    the poller's tail would name minute 1 as the reading before minute 3, and the index's
    increment from 1 to 2 would be counted twice."""
    _channels(engine)
    writer = Writer(db_url, tmp_path / "spool", source="test")
    for k in (0, 1):
        assert writer.flush(_minute(k), [], []).written
    _import_minute(engine, tmp_path, 2)
    with ReadingReads(engine) as reads:
        assert writer.flush(_minute(3), [], []).stored == len(KINDS)
    assert reads.statements >= 1  # probed again
    with ReadingReads(engine) as reads:  # the probe's answer makes a new tail
        assert writer.flush(_minute(4), [], []).stored == len(KINDS)
    assert reads.statements == 0, reads.log
    _same_as_recompute(engine)


def test_rollup_pages_keep_room_for_the_flushes_updates(engine):
    """PostgreSQL: each flush rewrites today's rollup row of every channel; with room left in
    the page (fillfactor, migration 0017) the new version stays there without an index entry."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with engine.connect() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'daily_rollup'"
        ).scalar_one()
    assert "fillfactor=70" in (options or [])


def test_a_writer_warmed_during_the_first_round_reads_nothing_at_its_first_flush(
    engine, db_url, tmp_path
):
    """The poller's first round: the writer reads the limits and the end of each channel's
    readings (minute 0, stored before it started) while the devices are read; its first
    flush then reads nothing from `reading`, and the index's increment from minute 0 counts."""
    _channels(engine)
    _import_minute(engine, tmp_path, 0)
    writer = Writer(db_url, tmp_path / "spool", source="test")
    with ReadingReads(engine) as warm:
        assert writer.warm(list(KINDS), T0 + 60)
    assert warm.statements >= 1
    with ReadingReads(engine) as reads:
        for k in (1, 2):
            assert writer.flush(_minute(k), [], []).stored == len(KINDS)
    assert reads.statements == 0, reads.log
    _same_as_recompute(engine)


def test_a_warm_tail_is_dropped_by_a_commit_before_the_first_flush(engine, db_url, tmp_path):
    """Minute 1 imported between the warm-up and the first flush (minute 2): the warm tail
    would name minute 0 as the reading before minute 2; the flush probes instead."""
    _channels(engine)
    _import_minute(engine, tmp_path, 0)
    writer = Writer(db_url, tmp_path / "spool", source="test")
    assert writer.warm(list(KINDS), T0 + 60)
    _import_minute(engine, tmp_path, 1)
    with ReadingReads(engine) as reads:
        assert writer.flush(_minute(2), [], []).stored == len(KINDS)
    assert reads.statements >= 1
    _same_as_recompute(engine)


def test_no_warm_tail_when_readings_are_stored_from_its_instant_on(engine, db_url, tmp_path):
    """Warmed for instants from minute 1 on while minute 1 is already stored: no tail is
    kept (a later row might not be an append); the first flush probes and stays right."""
    _channels(engine)
    for k in (0, 1):
        _import_minute(engine, tmp_path, k)
    writer = Writer(db_url, tmp_path / "spool", source="test")
    assert writer.warm(list(KINDS), T0 + 60)
    with ReadingReads(engine) as reads:
        assert writer.flush(_minute(2), [], []).stored == len(KINDS)
    assert reads.statements >= 1
    _same_as_recompute(engine)


def test_sqlite_log_is_copied_back_every_few_flushes_and_at_close(engine, db_url, tmp_path):
    """SQLite: a flush rewrites the same pages every minute (each channel's last leaf of
    `reading`, its day's rollup); SQLite's own checkpoint, past 1 000 pages of log, copied
    them back into the database at nearly every commit of a large site (a third of a
    10 000-point flush). The poller's connections checkpoint only past a much longer log, and
    the poller copies it back every few flushes and when it closes."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    _channels(engine)
    pragmas: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "wal_" in statement:
            pragmas.append(statement)

    def copies() -> int:
        return sum("wal_checkpoint(PASSIVE)" in s for s in pragmas)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        writer = Writer(db_url, tmp_path / "spool", source="test")
        for k in range(2 * SQLITE_CHECKPOINT_FLUSHES + 1):
            assert writer.flush(_minute(k), [], []).stored == len(KINDS)
            assert copies() == (k + 1) // SQLITE_CHECKPOINT_FLUSHES
        assert f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}" in pragmas
        writer.close()  # the last flush's log
        assert copies() == 3
        writer.close()  # nothing written since: nothing to copy
        assert copies() == 3
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    _same_as_recompute(engine)
