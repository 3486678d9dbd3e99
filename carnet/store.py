"""Bulk, idempotent writes of readings and the local-day rollups computed from them.

Readings go through a temporary table so that one set-based statement counts what is new,
what changed and what is unchanged, and one `INSERT ... ON CONFLICT DO UPDATE` applies it:
re-importing the same rows changes nothing; what a batch replaces is kept first in
`reading_overwrite` (see `carnet.batches.revert_batch`). Rollups are recomputed for the
affected local days only, vectorised with pandas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from carnet import versions
from carnet.closing import hold_closed
from carnet.models import ChannelKind, Quality
from carnet.timeutil import day_length_s, local_dates, local_midnight_epoch

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
        buf = io.StringIO()
        frame[READING_COLUMNS].to_csv(buf, index=False, header=False, na_rep="")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {TMP} FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
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


_CHANGED = (
    "(r.value IS DISTINCT FROM t.value OR r.quality <> t.quality)"
    f" AND NOT (r.quality = {int(Quality.MEASURED)} AND t.quality = {int(Quality.ESTIMATED)})"
    f" AND NOT (t.quality IN ({int(Quality.GAP)}, {int(Quality.INVALID)})"
    " AND r.value IS NOT NULL)"
)


def upsert_readings(
    conn: Connection,
    frame: pd.DataFrame,
    batch_id: int | None = None,
    refresh: bool = True,
    chunk_rows: int = 500_000,
) -> UpsertCounts:
    """Insert or update readings keyed on (channel_id, ts) inside the caller's transaction.

    A measured value replaces an estimate, never the reverse; a gap marker never erases a value.
    """
    frame = normalise_readings(frame)
    frame, held = hold_closed(conn, frame, batch_id)  # later data for a closed period waits
    counts = UpsertCounts(held=held.rows, held_periods=held.periods)
    for start in range(0, len(frame), chunk_rows):
        counts = counts + _upsert_chunk(conn, frame.iloc[start : start + chunk_rows], batch_id)
    if refresh and len(frame):
        refresh_rollups(conn, frame)
    return counts


def _nothing_stored_in_range(conn: Connection, frame: pd.DataFrame) -> bool:
    """True when no reading exists between the chunk's first and last instant of each of its
    channels: every row is then new (one indexed probe per channel)."""
    span = frame.groupby("channel_id")["ts"].agg(["min", "max"])
    for channel_id, lo, hi in span.itertuples(name=None):
        hit = conn.execute(
            text("SELECT 1 FROM reading WHERE channel_id = :c AND ts >= :a AND ts <= :b LIMIT 1"),
            {"c": int(channel_id), "a": int(lo), "b": int(hi)},
        ).first()
        if hit is not None:
            return False
    return True


_ROWS_PER_INSERT = 1000  # x 5 parameters per statement (SQLite allows 32,766)


def _sqlite_insert_many(raw, frame: pd.DataFrame, batch_id: int | None) -> None:
    """Multi-row INSERTs of 1,000 rows: about twice as fast as one statement per row.
    A NaN value is bound as NULL by SQLite."""
    flat = (
        frame[READING_COLUMNS].assign(batch_id=batch_id).to_numpy(dtype=object)
    )  # Python ints and floats, which sqlite3 binds
    sql = "INSERT INTO reading (channel_id, ts, value, quality, batch_id) VALUES "
    full = len(flat) // _ROWS_PER_INSERT * _ROWS_PER_INSERT
    if full:
        raw.executemany(
            sql + ",".join(["(?, ?, ?, ?, ?)"] * _ROWS_PER_INSERT),
            flat[:full].reshape(-1, _ROWS_PER_INSERT * 5).tolist(),
        )
    rest = flat[full:]
    if len(rest):
        raw.execute(sql + ",".join(["(?, ?, ?, ?, ?)"] * len(rest)), rest.ravel().tolist())


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


def _upsert_chunk(conn: Connection, frame: pd.DataFrame, batch_id: int | None) -> UpsertCounts:
    if _nothing_stored_in_range(conn, frame):
        # all new: insert directly, no temp table to compare (a concurrent writer of the same
        # keys makes this fail loudly on the primary key, never duplicates or loses a value)
        versions.touch(conn)  # written on the driver's cursor, unseen by the engine
        raw = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            buf = io.StringIO()
            out = frame[READING_COLUMNS].copy()
            out["batch_id"] = batch_id
            out.to_csv(buf, index=False, header=False, na_rep="")
            with (
                raw.cursor() as cur,
                cur.copy(
                    "COPY reading (channel_id, ts, value, quality, batch_id)"
                    " FROM STDIN WITH (FORMAT csv)"
                ) as copy,
            ):
                copy.write(buf.getvalue())
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
DAILY_COLUMNS = [
    "channel_id",
    "day",
    "value",
    "energy_kwh",
    "min_value",
    "max_value",
    "n_readings",
    "coverage",
    "estimated",
]


def _channel_meta(conn: Connection, channel_ids) -> pd.DataFrame:
    ids = ",".join(str(int(c)) for c in channel_ids)
    return pd.read_sql_query(
        text(f"SELECT id, kind, unit, kwh_per_unit, modulus FROM channel WHERE id IN ({ids})"),
        conn,
    ).set_index("id")


def _load_windows(conn: Connection, channel_id, lo, hi) -> None:
    """(channel, a, b) rows in a temporary table, so that one statement serves all channels:
    a poller flush touches thousands of channels and a query per channel would dominate."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {WINDOWS} (channel_id integer PRIMARY KEY,"
                " a bigint, b bigint) ON COMMIT DROP"
            )
        )
        conn.execute(text(f"TRUNCATE {WINDOWS}"))
    else:
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {WINDOWS} (channel_id INTEGER PRIMARY KEY,"
                " a INTEGER, b INTEGER)"
            )
        )
        conn.execute(text(f"DELETE FROM {WINDOWS}"))
    rows = [
        {"c": int(c), "a": int(a), "b": int(b)}
        for c, a, b in zip(np.asarray(channel_id), np.asarray(lo), np.asarray(hi), strict=True)
    ]
    if rows:
        conn.execute(text(f"INSERT INTO {WINDOWS} (channel_id, a, b) VALUES (:c, :a, :b)"), rows)


def _neighbours(conn: Connection, channel_id, before, from_) -> pd.DataFrame:
    """Per channel: the last reading strictly before `before` and the first at or after
    `from_` (NaN when none), in one statement over the primary-key index."""
    _load_windows(conn, channel_id, before, from_)
    rows = conn.execute(
        text(
            f"SELECT w.channel_id,"
            " (SELECT MAX(r.ts) FROM reading r WHERE r.channel_id = w.channel_id AND r.ts < w.a),"
            " (SELECT MIN(r.ts) FROM reading r WHERE r.channel_id = w.channel_id AND r.ts >= w.b)"
            f" FROM {WINDOWS} w"
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["channel_id", "prev", "next"], dtype="float64")
    frame["channel_id"] = frame["channel_id"].astype("int64")
    return frame.set_index("channel_id").reindex(np.asarray(channel_id, dtype="int64"))


def refresh_rollups(
    conn: Connection, touched: pd.DataFrame, known: pd.DataFrame | None = None
) -> int:
    """Recompute the daily rollups of every local day the touched readings can affect.

    For an index channel a new reading changes the interval that ends at it and the one
    that starts at it, so the window extends to the neighbouring readings. `known`
    (optional, normalised readings) must be exactly what the table holds for its keys (rows
    just inserted, none updated): see `recompute_daily`.
    """
    span = touched.groupby("channel_id")["ts"].agg(["min", "max"])
    ids = span.index.to_numpy(dtype="int64")
    lo = span["min"].to_numpy(dtype="int64")
    hi = span["max"].to_numpy(dtype="int64")
    near = _neighbours(conn, ids, lo, hi + 1)
    lo = np.where(near["prev"].notna(), near["prev"].fillna(0), lo).astype("int64")
    hi = np.where(near["next"].notna(), near["next"].fillna(0), hi).astype("int64")
    return recompute_daily(
        conn, list(zip(ids.tolist(), lo.tolist(), hi.tolist(), strict=True)), known
    )


def _fetch_window_readings(conn: Connection) -> pd.DataFrame:
    """(channel_id, ts, value, quality) of every window, straight from the driver's cursor:
    a rollup window can hold millions of rows, and building SQLAlchemy rows for each costs
    more than the rollup itself."""
    result = conn.execute(
        text(
            "SELECT r.channel_id, r.ts, r.value, r.quality FROM reading r"
            f" JOIN {WINDOWS} w ON r.channel_id = w.channel_id AND r.ts >= w.a AND r.ts <= w.b"
            " ORDER BY r.channel_id, r.ts"
        )
    )
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


def _known_channels(conn: Connection, known: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """The known rows of the channels whose window holds nothing else in the table (same
    count: the known rows are all stored there). Saves re-reading what was just written."""
    rows = known.merge(windows[["channel_id", "q_lo", "q_hi"]], on="channel_id")
    rows = rows[(rows["ts"] >= rows["q_lo"]) & (rows["ts"] <= rows["q_hi"])]
    mine = rows.groupby("channel_id").size()
    if mine.empty:
        return rows.iloc[0:0]
    cand = windows.set_index("channel_id").loc[mine.index]
    _load_windows(conn, cand.index, cand["q_lo"], cand["q_hi"])
    stored = dict(
        conn.execute(
            text(
                f"SELECT w.channel_id, COUNT(r.ts) FROM {WINDOWS} w LEFT JOIN reading r"
                " ON r.channel_id = w.channel_id AND r.ts >= w.a AND r.ts <= w.b"
                " GROUP BY w.channel_id"
            )
        ).all()
    )
    same = [int(c) for c, n in mine.items() if int(stored.get(int(c), -1)) == int(n)]
    return rows[rows["channel_id"].isin(same)][READING_COLUMNS]


def recompute_daily(
    conn: Connection, windows: list[tuple[int, int, int]], known: pd.DataFrame | None = None
) -> int:
    """Rebuild the rollup rows of whole local days covering each (channel, ts_from, ts_to).

    A handful of statements whatever the number of channels. `known`: readings the caller
    has just inserted (normalised, none updated), used instead of re-reading the table for
    instant and interval channels when they are all it holds in a window.
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
    # reading on each side
    is_index = (w["channel_id"].map(meta["kind"]) == ChannelKind.INDEX).to_numpy()
    near = _neighbours(conn, w["channel_id"], start, end)
    prev, nxt = near["prev"].to_numpy(), near["next"].to_numpy()
    w["q_lo"] = np.where(is_index & ~np.isnan(prev), np.nan_to_num(prev), start).astype("int64")
    w["q_hi"] = np.where(is_index & ~np.isnan(nxt), np.nan_to_num(nxt), end - 1).astype("int64")

    parts = []
    fetch = w
    if known is not None and len(known):
        from_known = _known_channels(conn, known, w[~is_index])
        if len(from_known):
            parts.append(from_known)
            fetch = w[~w["channel_id"].isin(from_known["channel_id"].unique())]
    _load_windows(conn, fetch["channel_id"], fetch["q_lo"], fetch["q_hi"])
    parts.append(_fetch_window_readings(conn))
    readings = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    _load_windows(conn, w["channel_id"], w["q_lo"], w["q_hi"])
    resets = pd.read_sql_query(
        text(
            "SELECT i.channel_id, i.ts, i.old_final_value, i.new_start_value FROM index_reset i"
            f" JOIN {WINDOWS} w ON i.channel_id = w.channel_id AND i.ts >= w.a AND i.ts <= w.b"
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
    daily = daily_rollups(readings, meta, resets, factors)
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


def insert_daily(conn: Connection, daily: pd.DataFrame) -> None:
    """Insert rollup rows (columns of `DAILY_COLUMNS`) in one executemany."""
    if not len(daily):
        return
    out = daily[DAILY_COLUMNS].copy()
    out["day"] = pd.to_datetime(out["day"]).dt.date
    conn.execute(
        text(
            "INSERT INTO daily_rollup (channel_id, day, value, energy_kwh, min_value,"
            " max_value, n_readings, coverage, estimated) VALUES (:channel_id, :day,"
            " :value, :energy_kwh, :min_value, :max_value, :n_readings, :coverage,"
            " :estimated)"
        ),
        out.astype(object).where(out.notna(), None).to_dict("records"),
    )


def _increments(
    readings: pd.DataFrame, modulus: pd.Series, resets: pd.DataFrame | None
) -> pd.DataFrame:
    """Consumption of each interval between consecutive valid index readings of the same
    channel (see `index_increments`), for many channels at once."""
    valid = readings[readings["value"].notna()].sort_values(["channel_id", "ts"], kind="stable")
    ch = valid["channel_id"].to_numpy(dtype="int64")
    ts = valid["ts"].to_numpy(dtype="int64")
    val = valid["value"].to_numpy(dtype=float)
    q = valid["quality"].to_numpy(dtype="int64")
    same = ch[1:] == ch[:-1]
    c, t0, t1 = ch[1:][same], ts[:-1][same], ts[1:][same]
    v0, v1 = val[:-1][same], val[1:][same]
    q0, q1 = q[:-1][same], q[1:][same]
    delta = v1 - v0
    unexplained = q1 == Quality.RESET
    if resets is not None and len(resets):
        keys = pd.MultiIndex.from_arrays(
            [resets["channel_id"].to_numpy(dtype="int64"), resets["ts"].to_numpy(dtype="int64")]
        )
        pos = keys.get_indexer(pd.MultiIndex.from_arrays([c, t1]))
        has = pos >= 0
        old = resets["old_final_value"].to_numpy(dtype=float)[pos[has]]
        new = resets["new_start_value"].to_numpy(dtype=float)[pos[has]]
        delta[has] = (old - v0[has]) + (v1[has] - new)
        unexplained &= ~has
    delta[unexplained] = np.nan
    mod = modulus.reindex(c).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        roll = (delta < 0) & (mod > 0)
        delta[roll] = delta[roll] + mod[roll]
        delta[delta < 0] = np.nan
    estimated = (q0 == Quality.ESTIMATED) | (q1 == Quality.ESTIMATED)
    return pd.DataFrame(
        {"channel_id": c, "t0": t0, "t1": t1, "delta": delta, "estimated": estimated}
    )


def index_increments(
    readings: pd.DataFrame, modulus: float | None, resets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Consumption of each interval between consecutive valid index readings of one channel.

    A drop is a rollover when the channel has a modulus; at a recorded meter replacement the
    consumption is (old final - previous) + (current - new start); any other drop is unknown
    (NaN), never negative.
    """
    frame = readings[["ts", "value", "quality"]].assign(channel_id=0)
    mod = pd.Series({0: float(modulus) if modulus else np.nan})
    res = None if resets is None or not len(resets) else resets.assign(channel_id=0)
    return _increments(frame, mod, res).drop(columns="channel_id")


def split_at_local_midnight(inc: pd.DataFrame) -> pd.DataFrame:
    """Spread each interval's consumption over the local days it spans, pro rata time.

    A portion of an interval that crosses midnight is an estimate and flagged as such.
    A `channel_id` column, when present, is carried along.
    """
    if not len(inc):
        out = {"day": [], "value": [], "seconds": [], "estimated": []}
        if "channel_id" in inc:
            out = {"channel_id": [], **out}
        return pd.DataFrame(out)
    t0 = inc["t0"].to_numpy(dtype="int64")
    t1 = inc["t1"].to_numpy(dtype="int64")
    d0 = local_dates(t0)
    d1 = local_dates(t1 - 1)
    span = (d1 - d0).astype(int) + 1
    rep = np.repeat(np.arange(len(inc)), span)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    days = d0[rep] + offset.astype("timedelta64[D]")
    uniq = np.unique(np.concatenate([days, days + np.timedelta64(1, "D")]))
    midnight = local_midnight_epoch(uniq)
    day_start = midnight[np.searchsorted(uniq, days)]
    day_end = midnight[np.searchsorted(uniq, days + np.timedelta64(1, "D"))]
    seg_start = np.maximum(t0[rep], day_start)
    seg_end = np.minimum(t1[rep], day_end)
    seconds = (seg_end - seg_start).astype(float)
    share = seconds / (t1 - t0)[rep]
    value = inc["delta"].to_numpy(dtype=float)[rep] * share
    est = inc["estimated"].to_numpy(dtype=bool)[rep] | (span[rep] > 1)
    out = pd.DataFrame({"day": days, "value": value, "seconds": seconds, "estimated": est})
    if "channel_id" in inc:
        out.insert(0, "channel_id", inc["channel_id"].to_numpy(dtype="int64")[rep])
    return out


def _index_daily(readings: pd.DataFrame, meta: pd.DataFrame, resets) -> pd.DataFrame:
    parts = split_at_local_midnight(_increments(readings, meta["modulus"], resets))
    if not len(parts):
        return pd.DataFrame()
    keys = [parts["channel_id"], parts["day"]]
    grouped = parts.groupby(keys)
    out = pd.DataFrame(
        {
            "value": grouped["value"].sum(min_count=1),
            "seconds": grouped["seconds"].sum(),
            "estimated": grouped["estimated"].any(),
            "n_readings": grouped["value"].size(),
            "min_value": np.nan,
            "max_value": np.nan,
        }
    )
    # one unknown interval makes the whole day unknown, never an undercount
    out.loc[parts["value"].isna().groupby(keys).any(), "value"] = np.nan
    return out


def _sample_daily(readings: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    valid = readings[readings["value"].notna()].sort_values(["channel_id", "ts"], kind="stable")
    if not len(valid):
        return pd.DataFrame()
    ch = valid["channel_id"].to_numpy(dtype="int64")
    ts = valid["ts"].to_numpy(dtype="int64")
    same = ch[1:] == ch[:-1]
    gaps = pd.Series(np.diff(ts)[same].astype(float), index=ch[1:][same])
    step = gaps.groupby(level=0).median().reindex(np.unique(ch)).fillna(3600.0).clip(60.0, 86400.0)
    frame = pd.DataFrame(
        {
            "channel_id": ch,
            "day": local_dates(ts),
            "value": valid["value"].to_numpy(dtype=float),
            "est": valid["quality"].to_numpy() == Quality.ESTIMATED,
        }
    )
    grouped = frame.groupby(["channel_id", "day"])
    out = pd.DataFrame(
        {
            "sum": grouped["value"].sum(),
            "mean": grouped["value"].mean(),
            "min_value": grouped["value"].min(),
            "max_value": grouped["value"].max(),
            "n_readings": grouped["value"].size(),
            "estimated": grouped["est"].any(),
        }
    )
    channel = out.index.get_level_values(0)
    interval = np.asarray(channel.map(meta["kind"]) == ChannelKind.INTERVAL)
    out["value"] = np.where(interval, out["sum"], out["mean"])
    out["seconds"] = out["n_readings"].to_numpy() * step.reindex(channel).to_numpy()
    return out.drop(columns=["sum", "mean"])


def _default_factor(meta: pd.DataFrame) -> pd.Series:
    """kWh per unit when no dated factor applies: the channel's own, else from its unit."""
    by_unit = meta["unit"].astype(str).str.lower().map({"kwh": 1.0, "wh": 0.001, "mwh": 1000.0})
    return meta["kwh_per_unit"].astype(float).fillna(by_unit)


def daily_rollups(
    readings: pd.DataFrame,
    meta: pd.DataFrame,
    resets: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Local-day figures of many channels at once.

    `readings`: channel_id, ts, value, quality; `meta`: kind, unit, kwh_per_unit, modulus
    indexed by channel id; `resets`: channel_id, ts, old_final_value, new_start_value;
    `factors`: channel_id, valid_from, kwh_per_unit (in force from that local date).
    Index channels give consumption (differences, spread pro rata over the days they span),
    interval channels the sum, instant channels the mean; `energy_kwh` converts consumption.
    """
    if not len(readings):
        return pd.DataFrame(columns=DAILY_COLUMNS)
    kind = readings["channel_id"].map(meta["kind"])
    is_index = (kind == ChannelKind.INDEX).to_numpy()
    frames = [
        f
        for f in (
            _index_daily(readings[is_index], meta, resets) if is_index.any() else None,
            _sample_daily(readings[~is_index], meta) if (~is_index).any() else None,
        )
        if f is not None and len(f)
    ]
    if not frames:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    out = pd.concat(frames).reset_index(names=["channel_id", "day"])
    days = np.asarray(out["day"].to_numpy(), dtype="datetime64[D]")
    out["day"] = days
    out["coverage"] = np.minimum(out["seconds"].to_numpy() / day_length_s(days), 1.0).round(4)
    factor = np.array(out["channel_id"].map(_default_factor(meta)), dtype=float)
    if factors is not None and len(factors):
        f = factors.assign(
            valid_from=np.asarray(pd.to_datetime(factors["valid_from"]).values, "datetime64[D]")
        )
        f = f.sort_values(["channel_id", "valid_from"])
        key = out["channel_id"].to_numpy(dtype="int64") * 1_000_000 + days.astype("int64")
        fkey = f["channel_id"].to_numpy(dtype="int64") * 1_000_000 + f["valid_from"].to_numpy(
            dtype="datetime64[D]"
        ).astype("int64")
        pos = np.searchsorted(fkey, key, side="right") - 1
        ok = np.array(pos >= 0)
        ok[ok] = (
            f["channel_id"].to_numpy(dtype="int64")[pos[ok]] == out["channel_id"].to_numpy()[ok]
        )
        factor[ok] = f["kwh_per_unit"].to_numpy(dtype=float)[pos[ok]]
    instant = (out["channel_id"].map(meta["kind"]) == ChannelKind.INSTANT).to_numpy()
    factor[instant] = np.nan
    out["energy_kwh"] = out["value"].to_numpy(dtype=float) * factor
    out["n_readings"] = out["n_readings"].astype("int64")
    out["estimated"] = out["estimated"].astype(bool)
    return out[DAILY_COLUMNS].sort_values(["channel_id", "day"], ignore_index=True)


def daily_from_readings(
    readings: pd.DataFrame,
    meta: pd.Series,
    resets: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Local-day figures of one channel from its readings (ts, value, quality)."""
    one = pd.DataFrame([meta.reindex(["kind", "unit", "kwh_per_unit", "modulus"])], index=[0])
    daily = daily_rollups(
        readings[["ts", "value", "quality"]].assign(channel_id=0),
        one,
        None if resets is None or not len(resets) else resets.assign(channel_id=0),
        None if factors is None or not len(factors) else factors.assign(channel_id=0),
    )
    return daily.drop(columns="channel_id")
