"""Rollups of a sole writer's last few flushes, merged at once.

The poller writes every minute a reading per channel; merging each flush into today's rollup
row of every channel rewrote 10 000 rows a minute at 500 devices x 20 points, more than
the readings' own insert. Its rows of the current local day wait here for a few minutes and
are merged together (`carnet.store._merge_appended`, the same arithmetic), so the rollups of
today lag the readings by at most that much. What keeps it exact:

- only rows of the writer's local today wait, and only while the day's end is further than
  the lag: a day is complete in the rollups before it can be closed (`carnet.periods` closes
  only complete periods), and spool replays, late or out-of-order rows merge at once;
- each waiting batch is flagged (`import_batch.rollups_pending`, cleared by the merge): a
  writer that stopped without merging (killed, power cut) leaves its days to rebuild, which
  `recover` does at the next start;
- another writer may rebuild a channel-day from the readings meanwhile (an import, a revert,
  a factor changed), its row then counting waiting readings already: rows rebuilt carry the
  data version they read (`daily_rollup.rebuilt_version`), and a merge after anyone else's
  commit rebuilds from the readings the channel-days marked since its first waiting flush
  instead of adding to them.

State is staged in the writer's transaction and adopted at its commit only (`begin`,
`commit`, `discard`), like `carnet.store.Tail`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select, update

from carnet import store, versions
from carnet.models import ImportBatch
from carnet.timeutil import local_dates, local_midnight_epoch

ROLLUP_LAG_S = 300  # the poller's rollups of today lag its readings by at most this much

_BATCH = ImportBatch.__table__


@dataclass(frozen=True)
class _State:
    rows: tuple[pd.DataFrame, ...] = ()  # normalised readings, stored, not yet in the rollups
    # per channel, the last valid reading before its first waiting row (p_ts, p_value,
    # p_quality; NaN when none), as the pre-insert probe or the writer's tail answered
    after: pd.DataFrame | None = None
    batch_ids: tuple[int, ...] = ()
    since_version: int | None = None  # rows rebuilt with a marker from this on may count them
    epoch: str | None = None  # of the database the rows were stored in (a restore changes it)
    first_ts: int | None = None  # the earliest instant the waiting figures touch
    last_ts: int | None = None
    tail: object = None  # the writer's Tail when the first row waited (see `foreign`)


class PendingRollups:
    """The waiting rows of one writer. `add` stages a flush's rows (all new, after everything
    stored), `merge` merges everything staged; `begin` opens a transaction's staging from
    the committed state, `commit` adopts it, `discard` drops it."""

    def __init__(self) -> None:
        self._committed = _State()
        self._staged = _State()

    # --- transaction ------------------------------------------------------------------------

    def begin(self) -> None:
        self._staged = self._committed

    def commit(self) -> None:
        self._committed = self._staged

    def discard(self) -> None:
        self._staged = self._committed

    # --- what waits -------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        return sum(len(f) for f in self._staged.rows)

    @property
    def batch_ids(self) -> tuple[int, ...]:
        return self._staged.batch_ids

    @property
    def first_ts(self) -> int | None:
        return self._staged.first_ts

    @property
    def last_ts(self) -> int | None:
        return self._staged.last_ts

    def foreign(self, tail) -> bool:
        """Somebody else committed since the first row waited: the writer's tail memo, kept
        across its own commits only, is no longer the one it was."""
        return bool(self._staged.rows) and tail is not self._staged.tail

    def add(
        self, conn: Connection, frame: pd.DataFrame, after: pd.DataFrame, batch_id: int | None,
        tail=None,
    ) -> None:  # fmt: skip
        """Stage `frame` (normalised, just inserted, each channel's rows after everything
        stored: `after` is the pre-insert answer of `carnet.store._probe_after`)."""
        st = self._staged
        ts = frame["ts"].to_numpy(dtype="int64")
        p_ts = after["p_ts"].to_numpy(dtype="float64")
        lo = int(ts.min())
        if len(p_ts) and not np.isnan(p_ts).all():
            lo = min(lo, int(np.nanmin(p_ts)))
        prev = after[["p_ts", "p_value", "p_quality"]]
        if st.after is None:
            merged_after = prev
        else:  # a channel's first waiting row keeps the answer of its first flush
            new = prev[~prev.index.isin(st.after.index)]
            merged_after = pd.concat([st.after, new]) if len(new) else st.after
        since, epoch = st.since_version, st.epoch
        if not st.rows:
            epoch, version = _version(conn)
            since = version + 1
        self._staged = replace(
            st,
            rows=(*st.rows, frame[store.READING_COLUMNS]),
            after=merged_after,
            batch_ids=st.batch_ids + (() if batch_id is None else (int(batch_id),)),
            since_version=since,
            epoch=epoch,
            first_ts=lo if st.first_ts is None else min(st.first_ts, lo),
            last_ts=int(ts.max()) if st.last_ts is None else max(st.last_ts, int(ts.max())),
            tail=tail if not st.rows else st.tail,
        )

    def may_wait(self, now_s: float, lag_s: float) -> bool:
        """The staged rows may wait for a later flush: all of them (and the readings before
        them that their figures touch) on the local day of `now_s`, that day ending more than
        `lag_s` from now, and the first of them less than `lag_s` old."""
        st = self._staged
        if not st.rows or lag_s <= 0:
            return False
        day = local_dates(np.array([int(now_s)], dtype="int64"))
        start = int(local_midnight_epoch(day)[0])
        end = int(local_midnight_epoch(day + np.timedelta64(1, "D"))[0])
        return (
            st.first_ts >= start
            and st.last_ts < end
            and now_s + lag_s < end
            and (now_s - st.first_ts < lag_s)
        )

    def merge(
        self, conn: Connection, channels: pd.DataFrame | None = None, check: bool = False
    ) -> int:
        """Merge every staged row into the rollups, in `conn`'s transaction, and clear the
        batches' flags. `check`: somebody else committed since the first row waited
        (`foreign`): the channel-days rebuilt since are rebuilt again from the readings
        instead of added to. Returns the rows merged or rebuilt."""
        st = self._staged
        if not st.rows:
            return 0
        if check and _version(conn)[0] != st.epoch:
            # the database was replaced (a restore): the rows, their batches and the rollups
            # they would go to are another database's; the restored one has its own flags
            self._staged = _State()
            return 0
        rows = pd.concat(st.rows, ignore_index=True) if len(st.rows) > 1 else st.rows[0]
        n = len(rows)
        if check:
            again = _rebuilt_since(conn, rows, st.first_ts, st.last_ts, st.since_version)
            if len(again):
                redo = rows["channel_id"].isin(again).to_numpy()
                store.refresh_rollups(conn, rows[redo], channels=channels)
                rows = rows[~redo]
        if len(rows):
            size = rows.groupby("channel_id").size()
            appended = st.after.reindex(size.index)
            appended.insert(0, "stored", size.to_numpy(dtype="float64"))
            store.forget_windows(conn)
            store.refresh_rollups(conn, rows, known=rows, appended=appended, channels=channels)
        if st.batch_ids:
            conn.execute(
                update(_BATCH)
                .where(_BATCH.c.id.in_(list(st.batch_ids)))
                .values(rollups_pending=False)
            )
        self._staged = _State()
        return n


def _version(conn: Connection) -> tuple[str, int]:
    """(epoch, version) of the data as this transaction sees it."""
    epoch, version = conn.exec_driver_sql(versions.READ_EPOCH_VERSION).one()
    return str(epoch), int(version)


def _rebuilt_since(
    conn: Connection, rows: pd.DataFrame, first_ts: int, last_ts: int, since: int
) -> np.ndarray:
    """Channels of `rows` with a rollup row of the waiting days rebuilt with a marker from
    `since` on: another writer rebuilt them from the readings after the first row waited."""
    ids = np.unique(rows["channel_id"].to_numpy(dtype="int64"))
    days = local_dates(np.array([first_ts, last_ts], dtype="int64"))
    id_list = ",".join(map(str, ids.tolist()))
    result = conn.exec_driver_sql(
        f"SELECT DISTINCT channel_id FROM daily_rollup WHERE rebuilt_version >= {int(since)}"
        f" AND day >= '{days[0]}' AND day <= '{days[1]}' AND channel_id IN ({id_list})"
    )
    try:
        return np.array(sorted(int(c) for (c,) in result.fetchall()), dtype="int64")
    finally:
        result.close()


def recover(conn: Connection, source: str, channels: pd.DataFrame | None = None) -> int:
    """Rebuild from the readings the rollups of `source`'s batches still flagged pending (a
    writer of that source stopped without merging them), then clear the flags. Returns the
    batches recovered. One indexed read when there are none."""
    ids = conn.execute(
        select(_BATCH.c.id).where(_BATCH.c.rollups_pending, _BATCH.c.source == source)
    ).scalars().all()  # fmt: skip
    if not ids:
        return 0
    id_list = ",".join(str(int(i)) for i in ids)
    result = conn.exec_driver_sql(
        "SELECT channel_id, MIN(ts), MAX(ts) FROM reading"
        f" WHERE batch_id IN ({id_list}) GROUP BY channel_id"
    )
    try:
        spans = result.fetchall()
    finally:
        result.close()
    if spans:
        c = np.array([s[0] for s in spans], dtype="int64")
        touched = pd.DataFrame(
            {
                "channel_id": np.concatenate([c, c]),
                "ts": np.array([s[1] for s in spans] + [s[2] for s in spans], dtype="int64"),
            }
        )
        store.refresh_rollups(conn, touched, channels=channels)
    conn.execute(update(_BATCH).where(_BATCH.c.id.in_(ids)).values(rollups_pending=False))
    return len(ids)
