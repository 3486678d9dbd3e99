"""The poller's rollups of today wait a few minutes and are merged together (the upsert of every
channel's day row at each flush cost more than the readings' insert): they then equal a full
recompute, whatever happened meanwhile (another writer's rebuild of the same days, a commit
elsewhere, a poller stopped without merging, the day's end). SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from ingest.modbus.writer import Writer
from tests.helpers.rollup_town import KINDS, import_readings
from tests.helpers.rollup_town import channels as _channels
from tests.helpers.rollup_town import full_recompute as _full_recompute
from tests.helpers.rollup_town import rollups as _rollups

T0 = int(pd.Timestamp("2025-11-18 08:00", tz="Europe/Paris").timestamp())
LAG_S = 300


def _minute(k: float, t0: int = T0) -> pd.DataFrame:
    """The three channels' readings of minute `k` (a rising index, an interval, an instant)."""
    return pd.DataFrame(
        {
            "channel_id": list(KINDS),
            "ts": int(t0 + 60 * k),
            "value": [1000.0 + 0.5 * k, 0.2 + 0.01 * k, 19.0 + int(k) % 3],
            "quality": 0,
        }
    )


class _Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


def _writer(db_url, tmp_path, clock: _Clock, source: str = "test") -> Writer:
    return Writer(db_url, tmp_path / "spool", source=source, clock=clock, rollup_lag_s=LAG_S)


def _flush(writer: Writer, clock: _Clock, k: float, t0: int = T0) -> None:
    clock.now = int(t0 + 60 * k)
    assert writer.flush(_minute(k, t0), [], []).stored == len(KINDS)


def _waiting(engine, db_url, tmp_path, minutes: int = 3, other: bool = False):
    """The three channels (and channel 9, `other`), a writer, minutes 0.. flushed: waiting."""
    _channels(engine)
    if other:
        _channels(engine, {9: "interval"}, clear=False)
    clock = _Clock(T0)
    writer = _writer(db_url, tmp_path, clock)
    for k in range(minutes):
        _flush(writer, clock, k)
    return writer, clock


def _flagged(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT COUNT(*) FROM import_batch WHERE rollups_pending")
        ).scalar_one()


def _rollup_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM daily_rollup")).scalar_one()


def _same_as_recompute(engine) -> None:
    pd.testing.assert_frame_equal(_rollups(engine), _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_dtype=False)  # fmt: skip


def test_todays_rollups_wait_the_lag_then_equal_a_recompute(engine, db_url, tmp_path):
    writer, clock = _waiting(engine, db_url, tmp_path, 5)  # less than the lag since the first
    assert _rollup_rows(engine) == 0
    assert _flagged(engine) == 5  # each batch says its rollups wait
    assert writer.pending_rows == 5 * len(KINDS)
    _flush(writer, clock, 5)  # the lag reached: the six flushes merged together
    assert writer.pending_rows == 0
    assert _flagged(engine) == 0
    assert _rollup_rows(engine) == len(KINDS)
    _same_as_recompute(engine)


def test_close_merges_what_waits(engine, db_url, tmp_path):
    writer, clock = _waiting(engine, db_url, tmp_path)
    assert _rollup_rows(engine) == 0
    writer.close()
    assert writer.pending_rows == 0 and _flagged(engine) == 0
    _same_as_recompute(engine)


def test_a_day_rebuilt_by_another_writer_is_not_counted_twice(engine, db_url, tmp_path):
    """A reading imported between two waiting ones makes the import rebuild the day from the
    readings, waiting ones included: the poller then rebuilds that day again rather than
    adding its waiting figures to it (the index's increments would count twice)."""
    writer, clock = _waiting(engine, db_url, tmp_path)
    import_readings(engine, tmp_path, _minute(1.5), "between")  # 08:01:30, between waiting rows
    _flush(writer, clock, 3)  # somebody else committed: what waited merged first
    assert _rollup_rows(engine) == len(KINDS)
    assert writer.pending_rows == len(KINDS) and _flagged(engine) == 1  # minute 3 waits
    for k in range(4, 7):  # and the next ones with it, from the new tail
        _flush(writer, clock, k)
    writer.close()
    _same_as_recompute(engine)


def test_an_import_after_the_waiting_rows_adds_up_with_them(engine, db_url, tmp_path):
    """A later reading imported while the poller's rows wait: the import merges its own row
    onto a day that lacks the waiting ones, the poller then adds them."""
    writer, clock = _waiting(engine, db_url, tmp_path)
    import_readings(engine, tmp_path, _minute(3), "after")
    _flush(writer, clock, 4)
    writer.close()
    _same_as_recompute(engine)


def test_a_commit_elsewhere_keeps_the_waiting_rows_exact(engine, db_url, tmp_path):
    """Another writer's commit on a channel the poller does not write: nothing of the poller's
    days was rebuilt, its waiting figures are added as they are."""
    writer, clock = _waiting(engine, db_url, tmp_path, other=True)
    other = pd.DataFrame({"channel_id": [9, 9], "ts": [T0 - 7200, T0 + 30], "value": [1.0, 2.0]})
    import_readings(engine, tmp_path, other, "elsewhere")
    for k in range(3, 6):
        _flush(writer, clock, k)
    writer.close()
    _same_as_recompute(engine)


def test_a_poller_stopped_without_merging_is_rebuilt_at_the_next_start(engine, db_url, tmp_path):
    killed, clock = _waiting(engine, db_url, tmp_path, other=True)
    assert _flagged(engine) == 3 and _rollup_rows(engine) == 0
    del killed  # no close: its waiting figures are lost with it, the flags stay
    elsewhere = _writer(db_url, tmp_path / "b", clock, source="another site")
    clock.now = T0 + 600
    other = pd.DataFrame({"channel_id": [9], "ts": [T0 + 600], "value": [2.0]})
    assert elsewhere.flush(other, [], []).stored == 1
    assert _flagged(engine) >= 3  # not its batches: another source's are left alone
    elsewhere.close()
    again = _writer(db_url, tmp_path, clock)
    _flush(again, clock, 11)
    again.close()
    assert _flagged(engine) == 0
    _same_as_recompute(engine)


def test_the_days_end_and_other_days_merge_at_once(engine, db_url, tmp_path):
    """Rows within the lag of the local day's end, or of a day that is not the poller's today
    (a late or replayed frame), never wait: a day is complete in its rollups before it can
    be closed."""
    _channels(engine)
    late = int(pd.Timestamp("2025-11-18 23:57", tz="Europe/Paris").timestamp())
    clock = _Clock(late)
    writer = _writer(db_url, tmp_path, clock)
    _flush(writer, clock, 0, t0=late)
    assert writer.pending_rows == 0 and _flagged(engine) == 0
    assert _rollup_rows(engine) == len(KINDS) - 1  # an index's first reading makes no day
    writer.close()
    _same_as_recompute(engine)
    clock.now = late + 86_400  # the next day, a frame of the day before arrives
    assert writer.flush(_minute(1, late), [], []).stored == len(KINDS)
    assert writer.pending_rows == 0 and _flagged(engine) == 0
    _same_as_recompute(engine)


def test_a_database_replaced_while_rows_wait_gets_none_of_them(engine, db_url, tmp_path):
    """A restore under a running poller (a new data epoch): the waiting rows were stored in
    the database replaced; nothing of them is merged into the restored one's rollups, and its
    batches' flags (other ids) are left to its own next start."""
    from carnet import versions

    writer, clock = _waiting(engine, db_url, tmp_path)
    with engine.begin() as conn:  # the restored database: an hour earlier, nothing waiting
        conn.execute(text("DELETE FROM reading"))
        conn.execute(text("UPDATE import_batch SET rollups_pending = false"))
        conn.execute(text("INSERT INTO import_batch (source, origin, rows_read, rows_inserted,"
                          " rows_updated, rows_unchanged, rows_rejected, rows_quarantined,"
                          " status, rollups_pending, started_at) VALUES ('restored', 'modbus',"
                          " 0, 0, 0, 0, 0, 0, 'ok', true, CURRENT_TIMESTAMP)"))  # fmt: skip
    versions.new_epoch(engine)
    writer.close()
    assert writer.pending_rows == 0
    assert _rollup_rows(engine) == 0  # none of the replaced database's figures
    assert _flagged(engine) == 1  # the restored database's own flag is not the poller's


def _alongside_a_paused_import(engine, tmp_path, monkeypatch, frame: pd.DataFrame, action):
    """`action()` in a thread while an import of `frame` is stopped after rebuilding its
    rollups and before its commit; the import is let go a second later (the action waits
    for it meanwhile), then both are joined. Returns what `action` returned."""
    import threading

    from carnet import batches

    there, go = threading.Event(), threading.Event()
    real = batches.checkpoint

    def checkpoint(stage: str) -> None:
        if stage == "before_commit" and threading.current_thread().name == "import":
            there.set()
            assert go.wait(30)
        real(stage)

    monkeypatch.setattr(batches, "checkpoint", checkpoint)
    imported = threading.Thread(
        target=import_readings, args=(engine, tmp_path, frame, "between"), name="import"
    )
    imported.start()
    assert there.wait(30)
    done: list = []
    other = threading.Thread(target=lambda: done.append(action()))
    other.start()
    other.join(1.0)  # it waits for the import (or, on SQLite, for its write lock)
    go.set()
    imported.join(30)
    other.join(30)
    assert not imported.is_alive() and not other.is_alive()
    return done[0]


def test_a_merge_waiting_on_an_import_rebuilding_the_day_does_not_count_twice(
    engine, db_url, tmp_path, monkeypatch
):
    """The import has rebuilt the day, waiting readings included, and not yet committed when
    the poller merges what waits: the merge must not add those readings' figures on top of
    the import's rows once it commits (on PostgreSQL the merge used to wait for the rows'
    locks, then add to the rebuilt rows: the index's increments counted twice)."""
    writer, clock = _waiting(engine, db_url, tmp_path)
    _alongside_a_paused_import(engine, tmp_path, monkeypatch, _minute(1.5), writer.merge_pending)
    writer.close()  # whatever the merge could not do is done now
    assert writer.pending_rows == 0 and _flagged(engine) == 0
    _same_as_recompute(engine)


def test_a_flush_during_an_import_rebuilding_the_day_loses_none_of_its_figures(
    engine, db_url, tmp_path, monkeypatch
):
    """The import has rebuilt the day from the readings it could see and not yet committed
    when the poller writes a minute that merges at once (the lag reached): the import's rows
    must not overwrite the poller's figures, nor the poller add to rows that count its
    waiting readings already."""
    writer, clock = _waiting(engine, db_url, tmp_path, 5)
    clock.now = int(T0 + 60 * 5)
    _alongside_a_paused_import(
        engine, tmp_path, monkeypatch, _minute(1.5), lambda: writer.flush(_minute(5), [], [])
    )
    writer.close()
    assert writer.pending_rows == 0 and _flagged(engine) == 0
    _same_as_recompute(engine)
