"""Bulk, idempotent writes of readings and the local-day rollups computed from them.

Readings go through a temporary table so that one set-based statement counts what is new,
what changed and what is unchanged, and one `INSERT ... ON CONFLICT DO UPDATE` applies it:
re-importing the same rows changes nothing; what a batch replaces is kept first in
`reading_overwrite` (see `carnet.batches.revert_batch`). Rollups are recomputed for the
affected local days only, vectorised with pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from carnet import partitions, pg_copy, versions
from carnet.closing import hold_closed
from carnet.increments import (
    DAILY_COLUMNS,
    daily_rollups,
    daily_stats,
    finish_daily,
)
from carnet.kinds import ChannelKind, Quality
from carnet.timeutil import day_length_s, local_dates, local_midnight_epoch

if TYPE_CHECKING:
    from carnet.pending_rollups import PendingRollups

READING_COLUMNS = ["channel_id", "ts", "value", "quality"]
TMP = "tmp_reading_upsert"


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    held: int = 0  # rows that would change a closed period, kept apart (carnet.closing)
    held_periods: list = field(default_factory=list)  # the ClosedRef they touch

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        periods = self.held_periods + [p for p in other.held_periods if p not in self.held_periods]
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.held + other.held,
            periods,
        )

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def normalise_readings(frame: pd.DataFrame) -> pd.DataFrame:
    """Types the columns, defaults quality to measured, keeps the last of duplicate keys."""
    missing = set(READING_COLUMNS[:3]) - set(frame.columns)
    if missing:
        raise ValueError(f"readings frame lacks columns {sorted(missing)}")
    out = pd.DataFrame(
        {
            "channel_id": frame["channel_id"].astype("int64").to_numpy(),
            "ts": frame["ts"].astype("int64").to_numpy(),
            "value": pd.to_numeric(frame["value"], errors="raise").astype("float64").to_numpy(),
            "quality": (
                frame["quality"].astype("int64").to_numpy()
                if "quality" in frame
                else np.zeros(len(frame), dtype="int64")
            ),
        }
    )
    out.loc[out["value"].isna() & (out["quality"] < Quality.GAP), "quality"] = int(Quality.GAP)
    dup = duplicated_keys(out["channel_id"].to_numpy(), out["ts"].to_numpy())
    return out[~dup] if dup.any() else out


def duplicated_keys(channel_id: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Mask of (channel, ts) keys that appear again later (keep the last). A frame sorted by
    key, the usual case, is recognised in one pass without hashing."""
    key = channel_id.astype("int64") * 10_000_000_000 + ts.astype("int64")
    if len(key) < 2 or (np.diff(key) > 0).all():
        return np.zeros(len(key), dtype=bool)
    return pd.Series(key).duplicated(keep="last").to_numpy()


def _analyse(conn: Connection, table: str) -> None:
    """Statistics of a temporary table just filled, so that the join with `reading` seeks its
    key per row: unanalysed, it looks big to the planner, which then scans `reading` whole
    (PostgreSQL) or builds a temporary index of it (SQLite, once `reading` has statistics).
    SQLite samples a few hundred rows per index (`analysis_limit`), not the whole table."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table}"))
    else:
        conn.exec_driver_sql("PRAGMA analysis_limit = 400")
        conn.execute(text(f"ANALYZE temp.{table}"))


def _load_temp(conn: Connection, frame: pd.DataFrame) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {TMP} (channel_id integer, ts bigint,"
                " value double precision, quality smallint) ON COMMIT DROP"
            )
        )
        conn.execute(text(f"TRUNCATE {TMP}"))
        _copy_binary(conn, TMP, frame, None, with_batch=False)
        _analyse(conn, TMP)
    else:
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {TMP} (channel_id INTEGER, ts INTEGER,"
                " value REAL, quality INTEGER, PRIMARY KEY (channel_id, ts))"
            )
        )
        conn.execute(text(f"DELETE FROM {TMP}"))
        values = frame["value"].astype(object).where(frame["value"].notna(), None)
        rows = zip(
            frame["channel_id"].tolist(),
            frame["ts"].tolist(),
            values.tolist(),
            frame["quality"].tolist(),
            strict=True,
        )
        raw = conn.connection.driver_connection
        raw.executemany(f"INSERT INTO {TMP} VALUES (?, ?, ?, ?)", rows)
        _analyse(conn, TMP)


def _copy_binary(
    conn: Connection, table: str, frame: pd.DataFrame, batch_id: int | None, with_batch: bool
) -> None:
    """PostgreSQL: `frame`'s readings (NaN value: NULL) into `table` by one binary COPY (see
    `carnet.pg_copy`: no number is formatted as text, nor parsed back by the server)."""
    columns = [
        ("int4", frame["channel_id"].to_numpy(dtype="int64")),
        ("int8", frame["ts"].to_numpy(dtype="int64")),
        ("float8", frame["value"].to_numpy(dtype="float64")),
        ("int2", frame["quality"].to_numpy(dtype="int64")),
    ]
    names = "channel_id, ts, value, quality"
    if with_batch:
        columns.append(("int4", None if batch_id is None else int(batch_id)))
        names += ", batch_id"
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT binary)") as copy,
    ):
        copy.write(pg_copy.binary_payload(columns))


_CHANGED = (
    "(r.value IS DISTINCT FROM t.value OR r.quality <> t.quality)"
    f" AND NOT (r.quality = {int(Quality.MEASURED)} AND t.quality = {int(Quality.ESTIMATED)})"
    f" AND NOT (t.quality IN ({int(Quality.GAP)}, {int(Quality.INVALID)})"
    " AND r.value IS NOT NULL)"
)


READINGS_LOCK_KEY = 0x636172_6E6574  # "carnet": PostgreSQL's advisory lock of the readings


def take_write_lock(conn: Connection) -> None:
    """Take the readings' write lock for the rest of the transaction, before the reads that
    decide what it writes to `reading` and `daily_rollup` (one writer of those at a time, as
    SQLite has it anyway). SQLite: the database's write lock, waiting `busy_timeout` for it
    (a transaction that read first may hold a snapshot another writer has since moved past,
    and SQLite then refuses its first write at once). PostgreSQL: a transaction-level
    advisory lock. Without it, an import rebuilding a day from the readings and a poller
    merging its figures into that day could each decide from a view the other was changing:
    the merge waited for the rebuilt rows' locks, then added readings they counted already,
    and a rebuild could overwrite figures committed after it read. Pages, the logbook and
    bookings never take it. Taken again in the same transaction, it is already held."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DELETE FROM reading WHERE 0")
    elif conn.dialect.name == "postgresql":  # held again at once: a counter until the end
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({READINGS_LOCK_KEY})")


def upsert_readings(
    conn: Connection,
    frame: pd.DataFrame,
    batch_id: int | None = None,
    refresh: bool = True,
    chunk_rows: int = 500_000,
    channels: pd.DataFrame | None = None,
    tail: Tail | None = None,
    pending: PendingRollups | None = None,
    appends: Appends | None = None,
    before_send: Callable[[], None] | None = None,
) -> UpsertCounts:
    """Insert or update readings keyed on (channel_id, ts) inside the caller's transaction.

    A measured value replaces an estimate, never the reverse; a gap marker never erases a value.
    `channels` (optional): kind, unit, kwh_per_unit and modulus by channel id, current in this
    transaction (the poller's cached `channel_limits`), so that the rollups do not read them
    and the channels it names need no existence check. `tail` (optional): what the caller, the
    only writer since, knows of the end of each channel's stored readings (see `Tail`): when
    every row comes after it, the pre-insert probe is not run; the tail this write leaves is
    staged on it. `pending` (optional, the poller's `carnet.pending_rollups.PendingRollups`):
    rows all new after everything stored are staged there instead of merged into the rollups
    (the caller merges them later); any other write merges what waits there first.
    `appends` (optional, an import's `Appends`): probed with these rows before they are
    written, for the rollups of the whole file. `before_send` (optional): called just before
    the rows go to the database (the import reads its next piece while the server takes them).
    """
    take_write_lock(conn)
    frame = normalise_readings(frame)
    frame, held = hold_closed(conn, frame, batch_id)  # later data for a closed period waits
    counts = UpsertCounts(held=held.rows, held_periods=held.periods)
    if len(frame):  # PostgreSQL: a month's partition, the foreign key checked once per batch
        ids = frame["channel_id"].to_numpy()
        if channels is None or not np.isin(ids, channels.index.to_numpy()).all():
            partitions.check_channels(conn, ids)
        partitions.ensure_for(conn, frame["ts"].to_numpy())
    # one chunk to refresh (the poller's flush): one probe answers both "is every row new"
    # and "what came just before them", the insert and the rollup merge read nothing more
    after = None
    if tail is not None:
        tail.discard()
    if refresh and 0 < len(frame) <= chunk_rows:
        after = _tail_answer(conn, frame, tail) if tail is not None else None
        if after is None:
            after = _probe_after(conn, frame)
    if appends is not None and len(frame):
        appends.probe(conn, frame)
    if pending is not None and after is None and pending.rows:
        # rows that are not all appends: what waits is merged before they are written (the
        # merge takes the readings just before the waiting ones from what it was told)
        pending.merge(conn, channels)
    try:
        for start in range(0, len(frame), chunk_rows):
            chunk = frame.iloc[start : start + chunk_rows]
            counts = counts + _upsert_chunk(conn, chunk, batch_id, before_send)
    finally:
        conn.info.pop(_NOTHING_FROM, None)
    if refresh and len(frame) and pending is not None:
        if counts.inserted == len(frame) and after is not None:
            pending.add(conn, frame, after, batch_id, tail)
        else:  # what waits, then these rows' days rebuilt or merged as usual
            pending.merge(conn, channels)
            pending = None
    if refresh and len(frame) and pending is None:
        # rows all new: the rollups take them as they are, without reading them back
        fresh = counts.inserted == len(frame)
        refresh_rollups(
            conn,
            frame,
            known=frame[READING_COLUMNS] if fresh else None,
            appended=after if fresh else None,
            channels=channels,
        )
    if tail is not None:
        fresh = len(frame) > 0 and counts.inserted == len(frame) and after is not None
        tail.stage(_next_tail(tail.known, frame, after) if fresh else None)
    return counts


class Tail:
    """Per channel (index), the end of its stored readings as a sole writer (the poller) left
    it: `last_ts`, the last instant stored, and the last valid reading (p_ts, p_value,
    p_quality; NaN when none), which is what `_probe_after` answers for readings after
    `last_ts`. True only while nobody else committed: the holder keeps it in a
    `versions.Memo`, which drops it at any other writer's commit. `upsert_readings` stages
    what its write leaves (nothing: the tail is dropped at commit); `commit()` after the
    transaction committed, never after a rollback (the staged tail is then discarded)."""

    def __init__(self) -> None:
        self.known: pd.DataFrame | None = None
        self._staged: pd.DataFrame | None = None
        self._has_staged = False

    def stage(self, frame: pd.DataFrame | None) -> None:
        self._staged, self._has_staged = frame, True

    def discard(self) -> None:
        self._staged, self._has_staged = None, False

    def commit(self) -> None:
        if self._has_staged:
            self.known = self._staged
        self.discard()


_TAIL_COLUMNS = ["last_ts", "p_ts", "p_value", "p_quality"]
_BEFORE_COLUMNS = ["p_ts", "p_value", "p_quality"]


class Appends:
    """What an import learns, piece by piece, of what its channels held after its rows. In a
    file of appends (the usual export: each piece after everything stored) the rollups then
    merge the file's figures knowing each channel's last valid reading before its first row,
    without counting the channel's rows back from the table (`_appended`: a count across
    every month's partition). Each piece is probed before it is written (`_probe_after`),
    which costs what the all-new check it spares costs (`_nothing_stored_in_range` reads its
    answer). The write lock is held from the first probe to the commit: rows found after
    none of a piece's channels, and written in order, are all the table holds from each
    channel's first row on. Once a piece is not all appends nothing more is probed and the
    rollups ask as usual."""

    def __init__(self) -> None:
        self.before: pd.DataFrame | None = None  # p_ts, p_value, p_quality by channel
        self.broken = False

    def probe(self, conn: Connection, frame: pd.DataFrame) -> None:
        if self.broken:
            return
        after = _probe_after(conn, frame)
        if after is None:
            self.broken, self.before = True, None
            return
        seen = after[_BEFORE_COLUMNS]  # a channel seen before keeps its first answer
        if self.before is None:
            self.before = seen
        elif not seen.index.isin(self.before.index).all():
            self.before = pd.concat([self.before, seen[~seen.index.isin(self.before.index)]])

    def answer(self, known: pd.DataFrame) -> pd.DataFrame | None:
        """`_appended`'s answer for `known`, every row the import wrote; None when a piece
        was not all appends."""
        if self.broken or self.before is None:
            return None
        size = known.groupby("channel_id").size()
        out = self.before.reindex(size.index)
        out.insert(0, "stored", size.to_numpy(dtype="float64"))
        return out


def _tail_answer(conn: Connection, frame: pd.DataFrame, tail: Tail) -> pd.DataFrame | None:
    """`_probe_after`'s answer taken from `tail`, when it knows every channel of `frame` and
    each one's rows all come after its last stored instant; None otherwise. Marks the span
    clear as the probe does, without a statement: the window table the probe would leave is
    loaded only if the merge needs it (meter replacements and factors of index channels)."""
    known = tail.known
    if known is None:
        return None
    span = frame.groupby("channel_id")["ts"].agg(["min", "max", "size"])
    same = known.index.equals(span.index)  # the poller's case: the same channels each flush
    last = (known["last_ts"] if same else known["last_ts"].reindex(span.index)).to_numpy()
    if np.isnan(last).any() or not (span["min"].to_numpy() > last).all():
        return None
    conn.info[_NOTHING_FROM] = span["min"]
    conn.info[_WINDOWS_UNLOADED] = True  # loaded by whoever needs them (`_merge_appended`)
    out = (
        known[["p_ts", "p_value", "p_quality"]]
        if same
        else known.loc[span.index, ["p_ts", "p_value", "p_quality"]]
    )
    out = out.copy()
    out.insert(0, "stored", span["size"].to_numpy(dtype="float64"))
    return out


def _next_tail(
    known: pd.DataFrame | None, frame: pd.DataFrame, after: pd.DataFrame
) -> pd.DataFrame:
    """The tail once `frame` (all new, after everything stored: `after` is its pre-insert
    answer) is stored: its last instant per channel, its last valid reading or, when it has
    none, the one before it; the channels it does not name keep theirs. On numpy arrays: a
    flush a minute, where pandas' per-call overhead outweighed the work."""
    c = frame["channel_id"].to_numpy(dtype="int64")
    t = frame["ts"].to_numpy(dtype="int64")
    v = frame["value"].to_numpy(dtype="float64")
    q = frame["quality"].to_numpy(dtype="int64")
    if len(c) > 1 and not (np.diff(c * 10_000_000_000 + t) > 0).all():
        order = np.lexsort((t, c))
        c, t, v, q = c[order], t[order], v[order], q[order]
    end = np.r_[c[1:] != c[:-1], True]
    ids = c[end]
    ids_index = pd.Index(ids, name="channel_id")
    prev = after if after.index.equals(ids_index) else after.reindex(ids_index)
    p_ts = prev["p_ts"].to_numpy(dtype="float64", copy=True)
    p_value = prev["p_value"].to_numpy(dtype="float64", copy=True)
    p_quality = prev["p_quality"].to_numpy(dtype="float64", copy=True)
    ok = ~np.isnan(v)
    cv = c[ok]
    vend = np.r_[cv[1:] != cv[:-1], True] if len(cv) else np.zeros(0, dtype=bool)
    at = np.searchsorted(ids, cv[vend])
    p_ts[at] = t[ok][vend]
    p_value[at] = v[ok][vend]
    p_quality[at] = q[ok][vend]
    new = pd.DataFrame(
        {"last_ts": t[end].astype("float64"), "p_ts": p_ts, "p_value": p_value,
         "p_quality": p_quality},
        index=ids_index,
    )  # fmt: skip
    if known is None or not len(known) or known.index.isin(ids).all():
        return new
    return pd.concat([known[~known.index.isin(ids)], new])[_TAIL_COLUMNS]


def stored_tail(conn: Connection, channel_ids, from_ts: int) -> pd.DataFrame | None:
    """A `Tail`'s `known` for channels about to receive readings from `from_ts` on, read
    before they arrive (the poller, while its first round is read): when nothing is stored
    from `from_ts` on, each channel's last valid reading before it, and `from_ts - 1` as the
    last instant stored (all a tail must know: later rows are then appends). None when some
    channel already has readings from `from_ts` on (the write probes as usual). The probe
    of the first write, made ahead: the same statement (`_probe_after`)."""
    ids = np.unique(np.asarray(channel_ids, dtype="int64"))
    if not len(ids):
        return None
    frame = pd.DataFrame({"channel_id": ids, "ts": np.full(len(ids), int(from_ts), "int64")})
    try:
        after = _probe_after(conn, frame)
    finally:
        conn.info.pop(_NOTHING_FROM, None)  # that answer served this frame, not a write
    if after is None:
        return None
    out = after[["p_ts", "p_value", "p_quality"]].copy()
    out.insert(0, "last_ts", float(int(from_ts) - 1))
    return out[_TAIL_COLUMNS]


_NOTHING_FROM = "carnet_store_nothing_from"  # conn.info: the span `_probe_after` found clear
_WINDOWS_UNLOADED = "carnet_store_windows_unloaded"  # conn.info: `_tail_answer` skipped them


def forget_windows(conn: Connection) -> None:
    """The window table no longer holds the windows of the rows about to be merged (a merge
    of rows stored by earlier transactions, `carnet.pending_rollups`): loaded again if needed."""
    conn.info[_WINDOWS_UNLOADED] = True


def _probe_after(conn: Connection, frame: pd.DataFrame) -> pd.DataFrame | None:
    """When the table holds nothing from each channel's first instant in `frame` on (the
    poller's case: readings after everything stored), per channel the last valid reading
    before it (p_ts, p_value, p_quality; NaN when none) and `stored`, the rows the channel
    will hold from that instant once `frame` is inserted (its own); None otherwise. One
    statement over the window table, which it leaves loaded with each channel's (first,
    last) instants; the answer is kept on the connection for `_nothing_stored_in_range`."""
    span = frame.groupby("channel_id")["ts"].agg(["min", "max", "size"])
    _load_windows(conn, span.index, span["min"], span["max"])
    later = "FROM reading r WHERE r.channel_id = w.channel_id AND r.ts >= w.a"
    before = (
        " FROM reading r WHERE r.channel_id = w.channel_id AND r.ts < w.a"
        " AND r.value IS NOT NULL ORDER BY r.channel_id DESC, r.ts DESC LIMIT 1"
    )
    if conn.dialect.name == "postgresql":  # seeks per channel, never a semi-join's scan
        sql = (
            f"SELECT w.channel_id, x.hit, p.ts, p.value, p.quality FROM {WINDOWS} w"
            f" LEFT JOIN LATERAL (SELECT 1 AS hit {later} LIMIT 1) x ON true"
            f" LEFT JOIN LATERAL (SELECT r.ts, r.value, r.quality{before}) p ON true"
        )
    else:
        sql = (
            f"SELECT w.channel_id, EXISTS (SELECT 1 {later}), p.ts, p.value, p.quality"
            f" FROM {WINDOWS} w LEFT JOIN reading p ON p.channel_id = w.channel_id"
            f" AND p.ts = (SELECT r.ts{before})"
        )
    result = conn.execute(text(sql))
    rows = result.cursor.fetchall()
    result.close()
    out = pd.DataFrame(rows, columns=["channel_id", "hit", "p_ts", "p_value", "p_quality"])
    out = out.astype("float64").astype({"channel_id": "int64"}).set_index("channel_id")
    if (out["hit"].fillna(0) > 0).any():
        return None
    conn.info[_NOTHING_FROM] = span["min"]
    out["stored"] = span["size"].reindex(out.index).astype("float64")
    return out[["stored", "p_ts", "p_value", "p_quality"]]


def _nothing_stored_in_range(conn: Connection, frame: pd.DataFrame) -> bool:
    """True when no reading exists between the chunk's first and last instant of each of its
    channels: every row is then new (one statement, an indexed probe per channel). Answered
    without a query when `_probe_after` found nothing from an earlier first instant on (that
    answer serves one chunk: it is taken off the connection)."""
    span = frame.groupby("channel_id")["ts"].agg(["min", "max"])
    clear = conn.info.pop(_NOTHING_FROM, None)
    if clear is not None:
        first = clear.reindex(span.index)
        if first.notna().all() and (span["min"] >= first).all():
            return True
    _load_windows(conn, span.index, span["min"], span["max"])
    probe = (
        "SELECT 1 FROM reading r WHERE r.channel_id = w.channel_id AND r.ts >= w.a"
        " AND r.ts <= w.b LIMIT 1"
    )
    if conn.dialect.name == "postgresql":  # a seek per channel, never a semi-join's scan
        sql = f"SELECT 1 FROM {WINDOWS} w CROSS JOIN LATERAL ({probe}) x LIMIT 1"
    else:
        sql = f"SELECT 1 FROM {WINDOWS} w WHERE EXISTS ({probe}) LIMIT 1"
    hit = conn.execute(text(sql)).first()
    return hit is None


_ROWS_PER_INSERT = 1000  # x 4 parameters per statement (SQLite allows 32,766)


def _sqlite_insert_many(raw, frame: pd.DataFrame, batch_id: int | None) -> None:
    """Multi-row INSERTs of 1,000 rows: about twice as fast as one statement per row. The
    batch, the same for every row, is written in the statement rather than bound per row (a
    fifth of the binding). A NaN value is bound as NULL by SQLite."""
    flat = frame[READING_COLUMNS].to_numpy(dtype=object)  # Python ints and floats
    batch = "NULL" if batch_id is None else str(int(batch_id))
    sql = "INSERT INTO reading (channel_id, ts, value, quality, batch_id) VALUES "
    row = f"(?, ?, ?, ?, {batch})"
    full = len(flat) // _ROWS_PER_INSERT * _ROWS_PER_INSERT
    if full:
        raw.executemany(
            sql + ",".join([row] * _ROWS_PER_INSERT),
            flat[:full].reshape(-1, _ROWS_PER_INSERT * 4).tolist(),
        )
    rest = flat[full:]
    if len(rest):
        raw.execute(sql + ",".join([row] * len(rest)), rest.ravel().tolist())


def _keep_overwritten(conn: Connection, batch_id: int) -> None:
    """Before the upsert: copy the readings it will change into `reading_overwrite`, so that
    the batch can be reverted exactly (one set-based statement; updates only). A reading the
    batch itself wrote earlier (another chunk of the same file) keeps its first image."""
    conn.execute(
        text(
            "INSERT INTO reading_overwrite (batch_id, channel_id, ts, old_value, old_quality,"
            " old_batch_id) SELECT :batch, r.channel_id, r.ts, r.value, r.quality, r.batch_id"
            f" FROM {TMP} t JOIN reading r ON r.channel_id = t.channel_id AND r.ts = t.ts"
            f" WHERE {_CHANGED} AND r.batch_id IS DISTINCT FROM :batch"
            " ON CONFLICT (batch_id, channel_id, ts) DO NOTHING"
        ),
        {"batch": int(batch_id)},
    )


def _upsert_chunk(
    conn: Connection,
    frame: pd.DataFrame,
    batch_id: int | None,
    before_send: Callable[[], None] | None = None,
) -> UpsertCounts:
    all_new = _nothing_stored_in_range(conn, frame)
    if before_send is not None:
        before_send()
    if all_new:
        # all new: insert directly, no temp table to compare (a concurrent writer of the same
        # keys makes this fail loudly on the primary key, never duplicates or loses a value)
        versions.touch(conn)  # written on the driver's cursor, unseen by the engine
        raw = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            _copy_binary(conn, "reading", frame, batch_id, with_batch=True)
        else:
            _sqlite_insert_many(raw, frame, batch_id)
        return UpsertCounts(len(frame), 0, 0)
    _load_temp(conn, frame)
    row = conn.execute(
        text(
            "SELECT"
            " COALESCE(SUM(CASE WHEN r.channel_id IS NULL THEN 1 ELSE 0 END), 0),"
            f" COALESCE(SUM(CASE WHEN r.channel_id IS NOT NULL AND {_CHANGED}"
            " THEN 1 ELSE 0 END), 0)"
            f" FROM {TMP} t LEFT JOIN reading r ON r.channel_id = t.channel_id AND r.ts = t.ts"
        )
    ).one()
    inserted, updated = int(row[0]), int(row[1])
    if updated and batch_id is not None:
        _keep_overwritten(conn, batch_id)
    changed = _CHANGED.replace("r.", "reading.").replace("t.", "excluded.")
    conn.execute(
        text(
            "INSERT INTO reading (channel_id, ts, value, quality, batch_id)"
            f" SELECT channel_id, ts, value, quality, :batch FROM {TMP} WHERE true"
            " ON CONFLICT (channel_id, ts) DO UPDATE SET value = excluded.value,"
            " quality = excluded.quality, batch_id = excluded.batch_id"
            f" WHERE {changed}"
        ),
        {"batch": batch_id},
    )
    return UpsertCounts(inserted, updated, len(frame) - inserted - updated)


def write_readings(
    engine: Engine, frame: pd.DataFrame, batch_id: int | None = None
) -> UpsertCounts:
    """Upsert in its own transaction and refresh the rollups."""
    with engine.begin() as conn:
        return upsert_readings(conn, frame, batch_id=batch_id)


# --- rollups -------------------------------------------------------------------------------

WINDOWS = "tmp_rollup_window"


def _meta_of(conn: Connection, ids: np.ndarray, channels: pd.DataFrame | None) -> pd.DataFrame:
    """`_channel_meta` of `ids`, taken from `channels` when it names them all."""
    if channels is not None and pd.Index(ids).isin(channels.index).all():
        return channels.loc[ids, ["kind", "unit", "kwh_per_unit", "modulus"]]
    return _channel_meta(conn, ids)


def _channel_meta(conn: Connection, channel_ids) -> pd.DataFrame:
    ids = ",".join(str(int(c)) for c in channel_ids)
    return pd.read_sql_query(
        text(f"SELECT id, kind, unit, kwh_per_unit, modulus FROM channel WHERE id IN ({ids})"),
        conn,
    ).set_index("id")


def _load_windows(conn: Connection, channel_id, lo, hi) -> None:
    """(channel, a, b) rows in a temporary table, so that one statement serves all channels:
    a poller flush touches thousands of channels and a query per channel would dominate.
    Filled on the driver's cursor (arrays on PostgreSQL, tuples on SQLite): the engine's
    per-row parameter handling costs more than the statements that read through it."""
    conn.info.pop(_WINDOWS_UNLOADED, None)
    c = np.asarray(channel_id, dtype="int64")
    a = np.asarray(lo, dtype="int64")
    b = np.asarray(hi, dtype="int64")
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {WINDOWS} (channel_id integer PRIMARY KEY,"
                " a bigint, b bigint) ON COMMIT DROP"
            )
        )
        conn.execute(text(f"TRUNCATE {WINDOWS}"))
        if len(c):
            with raw.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {WINDOWS} (channel_id, a, b) SELECT * FROM"
                    " unnest(%s::integer[], %s::bigint[], %s::bigint[])",
                    (_int_array(c), _int_array(a), _int_array(b)),
                )
    else:
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {WINDOWS} (channel_id INTEGER PRIMARY KEY,"
                " a INTEGER, b INTEGER)"
            )
        )
        conn.execute(text(f"DELETE FROM {WINDOWS}"))
        if len(c):
            raw.executemany(
                f"INSERT INTO {WINDOWS} (channel_id, a, b) VALUES (?, ?, ?)",
                zip(c.tolist(), a.tolist(), b.tolist(), strict=True),
            )
    if len(c):
        _analyse(conn, WINDOWS)


def _int_array(values: np.ndarray) -> str:
    """A PostgreSQL array literal of integers ('{1,2,3}'): the driver adapts a list element
    by element, which cost more than the statement it fills."""
    return "{" + ",".join(values.astype(str).tolist()) + "}"


def _neighbours(conn: Connection, channel_id, before, from_) -> pd.DataFrame:
    """Per channel: the last valid reading strictly before `before` and the first at or after
    `from_` (NaN when none), in one statement walking the primary-key index from the bound:
    an index interval runs between valid readings, a gap marker is not one of its ends.
    Ordered by the whole key (channel_id, ts), so that PostgreSQL merges the months'
    partitions walking each key index from the bound (ordered by ts alone it sorts every
    reading of the channel on that side)."""
    _load_windows(conn, channel_id, before, from_)
    rows = conn.execute(
        text(
            "SELECT w.channel_id,"
            " (SELECT r.ts FROM reading r WHERE r.channel_id = w.channel_id AND r.ts < w.a"
            " AND r.value IS NOT NULL ORDER BY r.channel_id DESC, r.ts DESC LIMIT 1),"
            " (SELECT r.ts FROM reading r WHERE r.channel_id = w.channel_id AND r.ts >= w.b"
            " AND r.value IS NOT NULL ORDER BY r.channel_id, r.ts LIMIT 1)"
            f" FROM {WINDOWS} w"
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["channel_id", "prev", "next"], dtype="float64")
    frame["channel_id"] = frame["channel_id"].astype("int64")
    return frame.set_index("channel_id").reindex(np.asarray(channel_id, dtype="int64"))


def refresh_rollups(
    conn: Connection,
    touched: pd.DataFrame,
    known: pd.DataFrame | None = None,
    appended: pd.DataFrame | None = None,
    channels: pd.DataFrame | None = None,
) -> int:
    """Bring the daily rollups of every local day the touched readings can affect up to date.

    A new index reading changes the interval that ends at it and the one that starts at it,
    a sample reading the cover of the next one (see `carnet.increments.COVER_CAP_S`), so the
    window extends to the next valid reading (and the previous one for an index). `known`
    (optional, normalised readings) must be exactly what the table holds for its keys (rows
    just inserted, none updated): a channel whose known rows come after everything stored
    for it merges them into its stored day figures (`_merge_appended`, the poller's case);
    the others are recomputed over whole days (`recompute_daily`). `appended`: what
    `_probe_after` answered before `known` was inserted (the window table still as it left
    it); `channels`: see `upsert_readings`.
    """
    take_write_lock(conn)
    span = touched.groupby("channel_id")["ts"].agg(["min", "max"])
    meta = _meta_of(conn, span.index.to_numpy(dtype="int64"), channels)
    if known is not None and len(known):
        merged = _merge_appended(conn, known, span, meta, appended)
        span = span.drop(merged)
        if not len(span):
            return len(merged)
    ids = span.index.to_numpy(dtype="int64")
    lo = span["min"].to_numpy(dtype="int64", copy=True)
    hi = span["max"].to_numpy(dtype="int64", copy=True)
    index = (meta["kind"].reindex(ids) == ChannelKind.INDEX).to_numpy()
    near = _neighbours(conn, ids, lo, hi + 1)
    lo[index] = np.where(near["prev"].notna(), near["prev"].fillna(0), lo)[index]
    hi = np.where(near["next"].notna(), near["next"].fillna(0), hi).astype("int64")
    return recompute_daily(
        conn, list(zip(ids.tolist(), lo.tolist(), hi.tolist(), strict=True)), known
    )


def _appended(conn: Connection, span: pd.DataFrame) -> pd.DataFrame:
    """Per channel of `span` (min, max, size of rows just inserted): how many readings the
    table holds from `min` on, and its last valid reading before `min` (ts, value, quality;
    NaN when none). One statement; each channel costs a seek and a count of its own rows."""
    _load_windows(conn, span.index, span["min"], span["max"])
    before = (
        " FROM reading r WHERE r.channel_id = w.channel_id AND r.ts < w.a"
        " AND r.value IS NOT NULL ORDER BY r.channel_id DESC, r.ts DESC LIMIT 1"
    )
    count = "(SELECT COUNT(*) FROM reading r WHERE r.channel_id = w.channel_id AND r.ts >= w.a)"
    head = f"SELECT w.channel_id, {count}, p.ts, p.value, p.quality FROM {WINDOWS} w"
    if conn.dialect.name == "postgresql":
        sql = f"{head} LEFT JOIN LATERAL (SELECT r.ts, r.value, r.quality{before}) p ON true"
    else:
        sql = (
            f"{head} LEFT JOIN reading p ON p.channel_id = w.channel_id"
            f" AND p.ts = (SELECT r.ts{before})"
        )
    rows = conn.execute(text(sql)).all()
    out = pd.DataFrame(rows, columns=["channel_id", "stored", "p_ts", "p_value", "p_quality"])
    return out.astype("float64").astype({"channel_id": "int64"}).set_index("channel_id")


def _merge_appended(
    conn: Connection,
    known: pd.DataFrame,
    span: pd.DataFrame,
    meta: pd.DataFrame,
    appended: pd.DataFrame | None = None,
) -> pd.Index:
    """Rollups of the channels whose known rows are all the table holds from their first
    instant on (nothing stored after them) and all that was touched: their figures are merged
    into the stored ones of those days, no reading read back but the
    last one before them, nor any stored figure: the database adds them up (`merge_daily`).
    `appended`: that answer, found before the insert (`_probe_after`, `_tail_answer`), else
    asked now (`_appended`); the window table holds each channel's (first, last) instants for
    the reads of resets and factors. Returns the channels so handled."""
    rows = known[known["channel_id"].isin(span.index)]
    got = rows.groupby("channel_id")["ts"].agg(["min", "max", "size"])
    same = span.reindex(got.index)
    got = got[(same["min"] == got["min"]).to_numpy() & (same["max"] == got["max"]).to_numpy()]
    if not len(got):
        return pd.Index([], dtype="int64")
    info = (_appended(conn, got) if appended is None else appended).reindex(got.index)
    got = got[(info["stored"] == got["size"]).to_numpy()]
    if not len(got):
        return pd.Index([], dtype="int64")
    info = info.loc[got.index]
    rows = rows[rows["channel_id"].isin(got.index)]
    is_index = (meta["kind"].reindex(got.index) == ChannelKind.INDEX).to_numpy()
    before = info[is_index & info["p_ts"].notna().to_numpy()]
    lead = pd.DataFrame(
        {
            "channel_id": before.index.to_numpy(dtype="int64"),
            "ts": before["p_ts"].to_numpy(dtype="int64"),
            "value": before["p_value"].to_numpy(dtype=float),
            "quality": before["p_quality"].to_numpy(dtype="int64"),
        }
    )
    readings = pd.concat([lead, rows[READING_COLUMNS]], ignore_index=True)
    first = info["p_ts"].where(is_index, np.nan).fillna(got["min"])
    if (meta["kind"].reindex(got.index) == ChannelKind.INSTANT).all():
        resets, factors = None, None  # means: neither replacements nor energy to convert
    else:
        if conn.info.pop(_WINDOWS_UNLOADED, False):
            _load_windows(conn, got.index, got["min"], got["max"])
        resets, factors = _resets_factors(conn, since=first)
    added = daily_stats(readings, meta, resets, prev=info["p_ts"])
    if not len(added):
        return got.index
    redo = merge_daily(conn, finish_daily(added, meta, factors), meta)
    return got.index.drop(redo) if len(redo) else got.index


def _resets_factors(
    conn: Connection, since: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Meter replacements within the windows loaded, and the conversion factors of their
    channels. `since` (by channel id): the windows' real first instants, when the table holds
    later ones; only its channels are answered (replacements are rare: those up to each
    window's end are read, then cut in pandas, rather than the window table reloaded)."""
    lower = " AND i.ts >= w.a" if since is None else ""
    resets = pd.read_sql_query(
        text(
            "SELECT i.channel_id, i.ts, i.old_final_value, i.new_start_value FROM index_reset i"
            f" JOIN {WINDOWS} w ON i.channel_id = w.channel_id{lower} AND i.ts <= w.b"
        ),
        conn,
    )
    factors = pd.read_sql_query(
        text(
            "SELECT f.channel_id, f.valid_from, f.kwh_per_unit FROM conversion_factor f"
            f" JOIN {WINDOWS} w ON f.channel_id = w.channel_id"
        ),
        conn,
    )
    if since is not None:
        a = since.reindex(resets["channel_id"].to_numpy()).to_numpy(dtype=float)
        resets = resets[resets["ts"].to_numpy(dtype=float) >= a].reset_index(drop=True)
        factors = factors[factors["channel_id"].isin(since.index)].reset_index(drop=True)
    return resets, factors


def _per_window(conn: Connection, columns: str) -> str:
    """SELECT `columns` of the readings of each window, the window table driving: one range
    seek of the (channel_id, ts) key per window, whatever the size of `reading`. A plain join
    lets the planner scan `reading` whole when it misjudges the (unanalysed) temporary
    table: SQLite's CROSS JOIN and PostgreSQL's LATERAL (fenced by OFFSET 0, else the planner
    flattens it back into a join) fix the order."""
    if conn.dialect.name == "postgresql":
        return (
            f"SELECT {columns} FROM {WINDOWS} w CROSS JOIN LATERAL (SELECT * FROM reading r"
            " WHERE r.channel_id = w.channel_id AND r.ts >= w.a AND r.ts <= w.b OFFSET 0) r"
            " ORDER BY r.channel_id, r.ts"
        )
    return (
        f"SELECT {columns} FROM {WINDOWS} w CROSS JOIN reading r"
        " WHERE r.channel_id = w.channel_id AND r.ts >= w.a AND r.ts <= w.b"
        " ORDER BY r.channel_id, r.ts"
    )


def _fetch_window_readings(conn: Connection, empty: bool = False) -> pd.DataFrame:
    """(channel_id, ts, value, quality) of every window, straight from the driver's cursor:
    a rollup window can hold millions of rows, and building SQLAlchemy rows for each costs
    more than the rollup itself. `empty`: the frame of no rows, without a query."""
    rows = []
    if not empty:
        result = conn.execute(text(_per_window(conn, "r.channel_id, r.ts, r.value, r.quality")))
        rows = result.cursor.fetchall()
        result.close()
    if not rows:
        return pd.DataFrame(
            {
                "channel_id": np.array([], "int64"),
                "ts": np.array([], "int64"),
                "value": np.array([], float),
                "quality": np.array([], "int64"),
            }
        )
    arr = np.array(rows, dtype=float)  # NULL -> NaN; ids, ts and quality are exact in float64
    return pd.DataFrame(
        {
            "channel_id": arr[:, 0].astype("int64"),
            "ts": arr[:, 1].astype("int64"),
            "value": arr[:, 2],
            "quality": arr[:, 3].astype("int64"),
        }
    )


def _window_readings(conn: Connection, w: pd.DataFrame, known: pd.DataFrame | None) -> pd.DataFrame:
    """The readings of every window [q_lo, q_hi]. Where the table holds nothing but known rows
    between the first and the last of them (same count, from the key index: the known rows
    are all stored), those are taken as they are and only the rest of the window is read,
    before and after them: a batch of new days reads back its edges (for an index channel
    the reading before it and the end of that reading's day), not itself."""
    whole = w.set_index("channel_id")[["q_lo", "q_hi"]].set_axis(["a", "b"], axis=1)
    parts, edges = [], [whole]
    if known is not None and len(known):
        rows = known.merge(w[["channel_id", "q_lo", "q_hi"]], on="channel_id")
        rows = rows[(rows["ts"] >= rows["q_lo"]) & (rows["ts"] <= rows["q_hi"])]
        span = rows.groupby("channel_id")["ts"].agg(["min", "max", "size"])
        if len(span):
            _load_windows(conn, span.index, span["min"], span["max"])
            stored = conn.execute(
                text(
                    "SELECT w.channel_id, (SELECT COUNT(*) FROM reading r WHERE"
                    " r.channel_id = w.channel_id AND r.ts >= w.a AND r.ts <= w.b)"
                    f" FROM {WINDOWS} w"
                )
            ).all()
            n = pd.Series(dict(stored), dtype="float64").reindex(span.index)
            span = span[(n == span["size"]).to_numpy()]
        if len(span):
            parts.append(rows[rows["channel_id"].isin(span.index)][READING_COLUMNS])
            edges = [
                pd.concat(
                    [
                        whole.drop(span.index),
                        pd.DataFrame({"a": whole.loc[span.index, "a"], "b": span["min"] - 1}),
                    ]
                ),
                pd.DataFrame({"a": span["max"] + 1, "b": whole.loc[span.index, "b"]}),
            ]
    for edge in edges:
        edge = edge[edge["a"] <= edge["b"]]
        if len(edge):
            _load_windows(conn, edge.index, edge["a"], edge["b"])
            parts.append(_fetch_window_readings(conn))
    if not parts:
        return _fetch_window_readings(conn, empty=True)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.sort_values(["channel_id", "ts"], ignore_index=True)


def recompute_daily(
    conn: Connection, windows: list[tuple[int, int, int]], known: pd.DataFrame | None = None
) -> int:
    """Rebuild the rollup rows of whole local days covering each (channel, ts_from, ts_to).

    A handful of statements whatever the number of channels. `known`: readings the caller
    has just inserted (normalised, none updated), used instead of re-reading the table when
    they are all it holds in a window's days (index channels add their two neighbours).
    """
    if not windows:
        return 0
    w = (
        pd.DataFrame(windows, columns=["channel_id", "ts_lo", "ts_hi"])
        .astype("int64")
        .groupby("channel_id", as_index=False)
        .agg(ts_lo=("ts_lo", "min"), ts_hi=("ts_hi", "max"))
    )
    meta = _channel_meta(conn, w["channel_id"])
    w["day_lo"] = local_dates(w["ts_lo"].to_numpy())
    w["day_hi"] = local_dates(w["ts_hi"].to_numpy())
    start = local_midnight_epoch(w["day_lo"].to_numpy())
    end = local_midnight_epoch(w["day_hi"].to_numpy() + np.timedelta64(1, "D"))
    # an index interval that starts in the window may begin before it: take one more
    # reading on each side; a sample reading's cover runs from the one before
    is_index = (w["channel_id"].map(meta["kind"]) == ChannelKind.INDEX).to_numpy()
    near = _neighbours(conn, w["channel_id"], start, end)
    prev, nxt = near["prev"].to_numpy(), near["next"].to_numpy()
    w["q_lo"] = np.where(is_index & ~np.isnan(prev), np.nan_to_num(prev), start).astype("int64")
    w["q_hi"] = np.where(is_index & ~np.isnan(nxt), np.nan_to_num(nxt), end - 1).astype("int64")

    readings = _window_readings(conn, w, known)

    _load_windows(conn, w["channel_id"], w["q_lo"], w["q_hi"])
    resets, factors = _resets_factors(conn)
    before = pd.Series(np.where(is_index, np.nan, prev), index=w["channel_id"].to_numpy())
    daily = daily_rollups(readings, meta, resets, factors, prev=before)
    bounds = w.set_index("channel_id")
    keep = (daily["day"].to_numpy() >= bounds["day_lo"].reindex(daily["channel_id"]).to_numpy()) & (
        daily["day"].to_numpy() <= bounds["day_hi"].reindex(daily["channel_id"]).to_numpy()
    )
    daily = daily[keep]
    conn.execute(
        text("DELETE FROM daily_rollup WHERE channel_id = :c AND day >= :a AND day <= :b"),
        [
            {"c": int(c), "a": pd.Timestamp(a).date(), "b": pd.Timestamp(b).date()}
            for c, a, b in zip(w["channel_id"], w["day_lo"], w["day_hi"], strict=True)
        ],
    )
    insert_daily(conn, daily)
    return len(daily)


_DAILY_INSERT = (
    "INSERT INTO daily_rollup (channel_id, day, value, energy_kwh, min_value, max_value,"
    " n_readings, coverage, estimated, value_sum, covered_s) VALUES ({})"
)
_DAILY_UPDATE = (
    " ON CONFLICT (channel_id, day) DO UPDATE SET value = excluded.value,"
    " energy_kwh = excluded.energy_kwh, min_value = excluded.min_value,"
    " max_value = excluded.max_value, n_readings = excluded.n_readings,"
    " coverage = excluded.coverage, estimated = excluded.estimated,"
    " value_sum = excluded.value_sum, covered_s = excluded.covered_s,"
    " rebuilt_version = excluded.rebuilt_version"
)


def _daily_columns(conn: Connection, daily: pd.DataFrame) -> list[list]:
    """The rollup rows column by column, as the driver binds them: NaN as NULL (None for
    PostgreSQL; SQLite binds a NaN as NULL itself), days as 'YYYY-MM-DD' (SQLite) or dates."""
    out = daily[DAILY_COLUMNS]
    days = np.asarray(out["day"].to_numpy(), dtype="datetime64[D]")
    sqlite = conn.dialect.name == "sqlite"
    cols = [
        out["channel_id"].to_numpy(dtype="int64").tolist(),
        days.astype(str).tolist() if sqlite else days.astype(object).tolist(),
    ]
    for c in DAILY_COLUMNS[2:]:
        col = out[c]
        if c == "n_readings":
            cols.append(col.to_numpy(dtype="int64").tolist())
        elif c == "estimated":
            cols.append(col.to_numpy(dtype=bool).tolist())
        elif sqlite:
            cols.append(col.to_numpy(dtype=float).tolist())
        else:
            cols.append(col.astype(object).where(col.notna(), None).tolist())
    return cols


_DAILY_TMP = "tmp_daily_rows"
_PG_DAILY = [("int4", "channel_id"), ("int4", "day"), ("float8", "value"),
             ("float8", "energy_kwh"), ("float8", "min_value"), ("float8", "max_value"),
             ("int4", "n_readings"), ("float8", "coverage"), ("int2", "estimated"),
             ("float8", "value_sum"), ("float8", "covered_s")]  # fmt: skip
_PG_SQL_TYPES = {"int2": "smallint", "int4": "integer", "float8": "float8"}
_PG_DAILY_TMP_COLUMNS = ", ".join(f"{name} {_PG_SQL_TYPES[t]}" for t, name in _PG_DAILY)


def _pg_write_daily(raw, daily: pd.DataFrame, tail: str, rebuilt: int | None = None) -> int:
    """PostgreSQL: the rows by one binary COPY (`carnet.pg_copy`, built by numpy) into a
    temporary table kept by the connection, then one INSERT ... SELECT from it. The text
    arrays this replaces cost more to format in Python and to parse on the server than the
    upsert itself. Days travel as days since 1970, flags as 0/1."""
    columns = []
    for pg_type, name in _PG_DAILY:
        col = daily[name].to_numpy()
        if name == "day":
            col = np.asarray(col, dtype="datetime64[D]").astype("int64")
        elif pg_type == "float8":
            col = col.astype("float64")
        else:
            col = col.astype("int64")
        columns.append((pg_type, col))
    select = ", ".join(
        "DATE '1970-01-01' + day" if name == "day" else
        "estimated <> 0" if name == "estimated" else name
        for _, name in _PG_DAILY
    )  # fmt: skip
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_DAILY_TMP} ({_PG_DAILY_TMP_COLUMNS})"
            f" ON COMMIT DELETE ROWS; DELETE FROM {_DAILY_TMP}"
        )
        with cur.copy(f"COPY {_DAILY_TMP} FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(pg_copy.binary_payload(columns))
        if rebuilt is not None:
            select += f", {int(rebuilt)}"
        cur.execute(
            _daily_insert(rebuilt).replace("VALUES ({})", f"SELECT {select} FROM {_DAILY_TMP}")
            + tail
        )
        return cur.rowcount


_DAILY_ROWS_PER_INSERT = 500  # x 11 parameters per statement (SQLite allows 32,766)


def _daily_insert(rebuilt: int | None) -> str:
    """`_DAILY_INSERT`, with the rebuild marker when the rows are rebuilt from readings."""
    if rebuilt is None:
        return _DAILY_INSERT
    return _DAILY_INSERT.replace(" covered_s)", " covered_s, rebuilt_version)")


def rebuild_marker(conn: Connection) -> int:
    """The data version now, which rows rebuilt from the readings read after it carry
    (`daily_rollup.rebuilt_version`): a writer that merges the figures of readings it stored
    earlier (`carnet.pending_rollups`) tells by it the channel-days rebuilt since, whose rows
    may already count them. Read after the readings the rebuild used: versions only grow."""
    return int(conn.exec_driver_sql(versions.READ_VERSION).scalar_one())


def _write_daily(
    conn: Connection, daily: pd.DataFrame, tail: str = "", rebuilt: bool = False
) -> int:
    """A binary COPY and one statement on PostgreSQL (`_pg_write_daily`), multi-row VALUES of
    500 rows on SQLite (about twice as fast as a statement per row): both on the driver's
    cursor. `tail`: the statement's ON CONFLICT clause, if any; `rebuilt`: the rows are
    rebuilt from the readings, and carry the marker (`rebuild_marker`). Returns the rows the
    statements inserted or updated (an ON CONFLICT DO UPDATE ... WHERE false counts none)."""
    if not len(daily):
        return 0
    marker = rebuild_marker(conn) if rebuilt else None
    versions.touch(conn)  # written on the driver's cursor, unseen by the engine
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        return _pg_write_daily(raw, daily, tail, marker)
    done = 0
    one = (
        "("
        + ", ".join(["?"] * len(DAILY_COLUMNS))
        + ("" if marker is None else f", {marker}")
        + ")"
    )
    flat = [v for row in zip(*_daily_columns(conn, daily), strict=True) for v in row]
    step = _DAILY_ROWS_PER_INSERT * len(DAILY_COLUMNS)
    full = len(flat) // step * step
    if full:
        sql = _daily_insert(marker).replace("({})", ", ".join([one] * _DAILY_ROWS_PER_INSERT))
        sql += tail
        done += raw.executemany(sql, [flat[i : i + step] for i in range(0, full, step)]).rowcount
    if full < len(flat):
        rest = (len(flat) - full) // len(DAILY_COLUMNS)
        sql = _daily_insert(marker).replace("({})", ", ".join([one] * rest)) + tail
        done += raw.execute(sql, flat[full:]).rowcount
    return done


def insert_daily(conn: Connection, daily: pd.DataFrame) -> None:
    """Insert rollup rows (columns of `DAILY_COLUMNS`), rebuilt from the readings."""
    _write_daily(conn, daily, rebuilt=True)


def upsert_daily(conn: Connection, daily: pd.DataFrame) -> None:
    """Insert or replace rollup rows (the merged figures of days already stored)."""
    _write_daily(conn, daily, _DAILY_UPDATE, rebuilt=True)


def _merge_tail(dialect: str, instant: bool, day_s: float) -> str:
    """ON CONFLICT clause adding a day's figures of later readings to the stored ones, the
    arithmetic of `carnet.increments.finish_daily` over two sets of readings, in SQL (counts,
    sums and covered seconds add, min and max combine skipping NULL, an unknown sum stays
    unknown; the mean of an instant channel, the share of the day covered rounded as numpy
    rounds, half to even). The energy adds up: the factor in force on a day is the same for
    both sides (a factor changed later refreshes the days it applies to). A stored day
    without covered seconds (rolled up before they were kept) is left alone: not counted,
    the caller rebuilds it."""
    d, e = "daily_rollup", "excluded"
    total = f"({d}.value_sum + {e}.value_sum)"
    n = f"({d}.n_readings + {e}.n_readings)"
    covered = f"({d}.covered_s + COALESCE({e}.covered_s, 0))"
    if dialect == "postgresql":
        lo = f"LEAST({d}.min_value, {e}.min_value)"
        hi = f"GREATEST({d}.max_value, {e}.max_value)"
        mean = f"{total} / GREATEST({n}, 1)"
        coverage = f"round(LEAST({covered} / {day_s!r}, 1.0) * 10000.0) / 10000.0"
    else:  # SQLite: min()/max() of a NULL are NULL, round() goes half away from zero
        lo = (f"min(COALESCE({d}.min_value, {e}.min_value),"
              f" COALESCE({e}.min_value, {d}.min_value))")  # fmt: skip
        hi = (f"max(COALESCE({d}.max_value, {e}.max_value),"
              f" COALESCE({e}.max_value, {d}.max_value))")  # fmt: skip
        mean = f"{total} / max({n}, 1)"
        y = f"(min({covered} / {day_s!r}, 1.0) * 10000.0)"
        whole = f"CAST({y} AS INTEGER)"
        coverage = (f"({whole} + (CASE WHEN {y} - {whole} > 0.5 OR ({y} - {whole} = 0.5"
                    f" AND {whole} % 2 = 1) THEN 1 ELSE 0 END)) / 10000.0")  # fmt: skip
    value = mean if instant else total
    energy = "NULL" if instant else f"{d}.energy_kwh + {e}.energy_kwh"
    return (
        f" ON CONFLICT (channel_id, day) DO UPDATE SET value = {value}, energy_kwh = {energy},"
        f" min_value = {lo}, max_value = {hi}, n_readings = {n}, coverage = {coverage},"
        f" estimated = ({d}.estimated OR {e}.estimated), value_sum = {total},"
        f" covered_s = {covered} WHERE {d}.covered_s IS NOT NULL"
    )


def merge_daily(conn: Connection, fresh: pd.DataFrame, meta: pd.DataFrame) -> np.ndarray:
    """Add rollup rows of later readings (`finish_daily` of their figures alone) to the stored
    days, in the database: a day not yet stored is inserted as it is, a stored one takes the
    sum (`_merge_tail`). Nothing is read back: a flush a minute touches a day of every
    channel, and reading those rows to merge them in pandas cost more than the merge. One
    statement per day length and kind of mean (a flush holds one or two local days).
    Returns the channels with a stored day that could not be merged (rolled up before
    covered seconds were kept): the caller recomputes them from their readings."""
    if not len(fresh):
        return np.array([], dtype="int64")
    days = np.asarray(fresh["day"].to_numpy(), dtype="datetime64[D]")
    day_s = day_length_s(days)
    instant = (fresh["channel_id"].map(meta["kind"]) == ChannelKind.INSTANT).to_numpy()
    done = 0
    for length in np.unique(day_s):
        for kind in (True, False):
            part = (day_s == length) & (instant == kind)
            if part.any():
                tail = _merge_tail(conn.dialect.name, kind, float(length))
                done += _write_daily(conn, fresh[part], tail)
    if done == len(fresh):
        return np.array([], dtype="int64")
    ids = ",".join(map(str, np.unique(fresh["channel_id"].to_numpy(dtype="int64")).tolist()))
    legacy = conn.execute(
        text(
            "SELECT DISTINCT channel_id FROM daily_rollup WHERE covered_s IS NULL"
            f" AND channel_id IN ({ids}) AND day >= :lo AND day <= :hi"
        ),
        {"lo": pd.Timestamp(days.min()).date(), "hi": pd.Timestamp(days.max()).date()},
    ).scalars()
    return np.array(sorted(legacy), dtype="int64")
