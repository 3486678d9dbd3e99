"""Bulk, idempotent writes of readings and the local-day rollups computed from them.

Readings go through a temporary table so that one set-based statement counts what is new,
what changed and what is unchanged, and one `INSERT ... ON CONFLICT DO UPDATE` applies it:
re-importing the same rows changes nothing. Rollups are recomputed for the affected local
days only, vectorised with pandas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from carnet.models import ChannelKind, Quality
from carnet.timeutil import day_length_s, local_dates, local_midnight_epoch

READING_COLUMNS = ["channel_id", "ts", "value", "quality"]
TMP = "tmp_reading_upsert"


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
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
    counts = UpsertCounts()
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


def _upsert_chunk(conn: Connection, frame: pd.DataFrame, batch_id: int | None) -> UpsertCounts:
    if _nothing_stored_in_range(conn, frame):
        # all new: insert directly, no temp table to compare (a concurrent writer of the same
        # keys makes this fail loudly on the primary key, never duplicates or loses a value)
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


def _channel_meta(conn: Connection, channel_ids: list[int]) -> pd.DataFrame:
    ids = ",".join(str(int(c)) for c in channel_ids)
    return pd.read_sql_query(
        text(f"SELECT id, kind, unit, kwh_per_unit, modulus FROM channel WHERE id IN ({ids})"),
        conn,
    ).set_index("id")


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
    windows = []
    for channel_id, lo, hi in span.itertuples(name=None):  # one row per channel
        prev = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": channel_id, "t": int(lo)},
        ).scalar()
        nxt = conn.execute(
            text("SELECT MIN(ts) FROM reading WHERE channel_id = :c AND ts > :t"),
            {"c": channel_id, "t": int(hi)},
        ).scalar()
        windows.append((int(channel_id), int(prev if prev is not None else lo), int(nxt or hi)))
    return recompute_daily(conn, windows, known)


def _fetch_readings(conn: Connection, channel_id: int, lo: int, hi: int) -> pd.DataFrame:
    """(ts, value, quality) of a channel in [lo, hi], straight from the driver's cursor:
    a rollup window can hold millions of rows, and building SQLAlchemy rows for each costs
    more than the rollup itself."""
    result = conn.execute(
        text(
            "SELECT ts, value, quality FROM reading WHERE channel_id = :c"
            " AND ts >= :lo AND ts <= :hi ORDER BY ts"
        ),
        {"c": int(channel_id), "lo": int(lo), "hi": int(hi)},
    )
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return pd.DataFrame(
            {"ts": np.array([], "int64"), "value": np.array([], float), "quality": []}
        )
    arr = np.array(rows, dtype=float)  # NULL -> NaN; ts and quality are exact in float64
    return pd.DataFrame(
        {
            "ts": arr[:, 0].astype("int64"),
            "value": arr[:, 1],
            "quality": arr[:, 2].astype("int64"),
        }
    )


def _known_window(
    conn: Connection, known: dict, channel_id: int, lo: int, hi: int
) -> pd.DataFrame | None:
    """The readings of [lo, hi] from `known` when the table holds no other row there (same
    count: the known rows are all stored), else None. Saves re-reading what was just written."""
    mine = known.get(channel_id)
    if mine is None:
        return None
    ts = mine["ts"].to_numpy()
    sel = mine[(ts >= lo) & (ts <= hi)]
    stored = conn.execute(
        text("SELECT COUNT(*) FROM reading WHERE channel_id = :c AND ts >= :lo AND ts <= :hi"),
        {"c": int(channel_id), "lo": int(lo), "hi": int(hi)},
    ).scalar()
    if int(stored) != len(sel):
        return None
    return sel.sort_values("ts")[["ts", "value", "quality"]].reset_index(drop=True)


def recompute_daily(
    conn: Connection, windows: list[tuple[int, int, int]], known: pd.DataFrame | None = None
) -> int:
    """Rebuild the rollup rows of whole local days covering each (channel, ts_from, ts_to).

    `known`: readings the caller has just inserted (normalised, none updated), used instead
    of re-reading the table for instant and interval channels when they are all it holds in
    a window.
    """
    if not windows:
        return 0
    meta = _channel_meta(conn, [w[0] for w in windows])
    known_by_channel = (
        {int(c): g for c, g in known.groupby("channel_id")} if known is not None else {}
    )
    written = 0
    for channel_id, ts_lo, ts_hi in windows:
        day_lo, day_hi = local_dates([ts_lo, ts_hi])
        start, end = local_midnight_epoch([day_lo, day_hi + np.timedelta64(1, "D")])
        kind = meta.at[channel_id, "kind"]
        # an index interval that starts in the window may begin before it: take one more
        lo_q = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": channel_id, "t": int(start)},
        ).scalar()
        hi_q = conn.execute(
            text("SELECT MIN(ts) FROM reading WHERE channel_id = :c AND ts >= :t"),
            {"c": channel_id, "t": int(end)},
        ).scalar()
        q_lo = int(lo_q) if (kind == ChannelKind.INDEX and lo_q is not None) else int(start)
        q_hi = int(hi_q) if (kind == ChannelKind.INDEX and hi_q is not None) else int(end) - 1
        readings = None
        if kind != ChannelKind.INDEX and known_by_channel:
            readings = _known_window(conn, known_by_channel, channel_id, q_lo, q_hi)
        if readings is None:
            readings = _fetch_readings(conn, channel_id, q_lo, q_hi)
        resets = pd.read_sql_query(
            text(
                "SELECT ts, old_final_value, new_start_value FROM index_reset"
                " WHERE channel_id = :c AND ts >= :lo AND ts <= :hi"
            ),
            conn,
            params={"c": channel_id, "lo": q_lo, "hi": q_hi},
        )
        factors = pd.read_sql_query(
            text(
                "SELECT valid_from, kwh_per_unit FROM conversion_factor WHERE channel_id = :c"
                " ORDER BY valid_from"
            ),
            conn,
            params={"c": channel_id},
        )
        daily = daily_from_readings(readings, meta.loc[channel_id], resets, factors)
        daily = daily[(daily["day"] >= day_lo) & (daily["day"] <= day_hi)]
        conn.execute(
            text("DELETE FROM daily_rollup WHERE channel_id = :c AND day >= :a AND day <= :b"),
            {
                "c": channel_id,
                "a": pd.Timestamp(day_lo).date(),
                "b": pd.Timestamp(day_hi).date(),
            },
        )
        if len(daily):
            daily.insert(0, "channel_id", channel_id)
            daily["day"] = pd.to_datetime(daily["day"]).dt.date
            records = daily.astype(object).where(daily.notna(), None).to_dict("records")
            conn.execute(
                text(
                    "INSERT INTO daily_rollup (channel_id, day, value, energy_kwh, min_value,"
                    " max_value, n_readings, coverage, estimated) VALUES (:channel_id, :day,"
                    " :value, :energy_kwh, :min_value, :max_value, :n_readings, :coverage,"
                    " :estimated)"
                ),
                records,
            )
            written += len(daily)
    return written


def _energy_factor(
    days: np.ndarray, meta: pd.Series, factors: pd.DataFrame | None
) -> np.ndarray | None:
    """kWh per unit for each day: the conversion factor in force, else the channel's default."""
    unit = str(meta["unit"]).lower()
    default = meta.get("kwh_per_unit")
    if default is None or pd.isna(default):
        default = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}.get(unit)
    out = np.full(len(days), np.nan if default is None else float(default))
    if factors is not None and len(factors):
        valid = np.asarray(pd.to_datetime(factors["valid_from"]).values, dtype="datetime64[D]")
        pos = np.searchsorted(valid, days, side="right") - 1
        has = pos >= 0
        out[has] = factors["kwh_per_unit"].to_numpy(dtype=float)[pos[has]]
    if np.isnan(out).all():
        return None
    return out


def index_increments(
    readings: pd.DataFrame, modulus: float | None, resets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Consumption of each interval between consecutive valid index readings.

    A drop is a rollover when the channel has a modulus; at a recorded meter replacement the
    consumption is (old final - previous) + (current - new start); any other drop is unknown
    (NaN), never negative.
    """
    valid = readings[readings["value"].notna()].sort_values("ts")
    ts = valid["ts"].to_numpy(dtype="int64")
    val = valid["value"].to_numpy(dtype=float)
    q = valid["quality"].to_numpy(dtype="int64")
    if len(ts) < 2:
        return pd.DataFrame({"t0": [], "t1": [], "delta": [], "estimated": []})
    delta = np.diff(val)
    t0, t1 = ts[:-1], ts[1:]
    if resets is not None and len(resets):
        r = resets.set_index("ts")
        at_reset = np.isin(t1, r.index.to_numpy()) | (q[1:] == Quality.RESET)
        if at_reset.any():
            idx = np.flatnonzero(at_reset)
            rt = pd.Series(t1[idx])
            old = rt.map(r["old_final_value"]).to_numpy(dtype=float)
            new = rt.map(r["new_start_value"]).to_numpy(dtype=float)
            delta[idx] = (old - val[:-1][idx]) + (val[1:][idx] - new)
    elif (q[1:] == Quality.RESET).any():
        delta[q[1:] == Quality.RESET] = np.nan
    drop = delta < 0
    if modulus and drop.any():
        delta[drop] = delta[drop] + float(modulus)
    delta[delta < 0] = np.nan
    estimated = (q[:-1] == Quality.ESTIMATED) | (q[1:] == Quality.ESTIMATED)
    return pd.DataFrame({"t0": t0, "t1": t1, "delta": delta, "estimated": estimated})


def split_at_local_midnight(inc: pd.DataFrame) -> pd.DataFrame:
    """Spread each interval's consumption over the local days it spans, pro rata time.

    A portion of an interval that crosses midnight is an estimate and flagged as such.
    """
    if not len(inc):
        return pd.DataFrame({"day": [], "value": [], "seconds": [], "estimated": []})
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
    return pd.DataFrame({"day": days, "value": value, "seconds": seconds, "estimated": est})


def daily_from_readings(
    readings: pd.DataFrame,
    meta: pd.Series,
    resets: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Local-day figures of one channel from its readings (ts, value, quality)."""
    cols = [
        "day",
        "value",
        "energy_kwh",
        "min_value",
        "max_value",
        "n_readings",
        "coverage",
        "estimated",
    ]
    if not len(readings):
        return pd.DataFrame(columns=cols)
    kind = meta["kind"]
    if kind == ChannelKind.INDEX:
        parts = split_at_local_midnight(index_increments(readings, meta.get("modulus"), resets))
        if not len(parts):
            return pd.DataFrame(columns=cols)
        grouped = parts.groupby("day")
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
        out.loc[parts["value"].isna().groupby(parts["day"]).any(), "value"] = np.nan
    else:
        valid = readings[readings["value"].notna()]
        if not len(valid):
            return pd.DataFrame(columns=cols)
        ts = valid["ts"].to_numpy(dtype="int64")
        step = np.median(np.diff(np.sort(ts))) if len(ts) > 1 else 3600.0
        step = float(min(max(step, 60.0), 86400.0))
        frame = pd.DataFrame(
            {
                "day": local_dates(ts),
                "value": valid["value"].to_numpy(dtype=float),
                "est": valid["quality"].to_numpy() == Quality.ESTIMATED,
            }
        )
        grouped = frame.groupby("day")
        agg = "sum" if kind == ChannelKind.INTERVAL else "mean"
        out = pd.DataFrame(
            {
                "value": grouped["value"].agg(agg),
                "min_value": grouped["value"].min(),
                "max_value": grouped["value"].max(),
                "n_readings": grouped["value"].size(),
                "estimated": grouped["est"].any(),
            }
        )
        out["seconds"] = out["n_readings"] * step
    out.index = np.asarray(out.index, dtype="datetime64[D]")
    days = out.index.to_numpy()
    out["coverage"] = np.minimum(out["seconds"].to_numpy() / day_length_s(days), 1.0).round(4)
    out["energy_kwh"] = np.nan
    if kind != ChannelKind.INSTANT:
        factor = _energy_factor(days, meta, factors)
        if factor is not None:
            out["energy_kwh"] = out["value"].to_numpy() * factor
    out = out.reset_index(names="day")
    out["n_readings"] = out["n_readings"].astype("int64")
    out["estimated"] = out["estimated"].astype(bool)
    return out[cols]
