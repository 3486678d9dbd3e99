"""Index and rollup arithmetic on frames: consumption between index readings, its spread over
local days, the day figures of many channels, and frames of the record with waiting rows laid
over them.

No database here: `carnet.store` writes what these compute, `carnet.frames` loads what they read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carnet.kinds import ChannelKind, Quality
from carnet.timeutil import day_length_s, local_dates, local_midnight_epoch

UNIT_KWH = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}  # an energy unit's kWh
# a sample (instant or interval) reading covers the time since the channel's previous valid
# reading, at most an hour (the first reading of a channel: an hour): additive per day, so a
# day's rollup merges with later readings exactly (`carnet.store.merge_daily`)
COVER_CAP_S = 3600.0
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
    "value_sum",  # sum of the day's values (index: its consumption), what a merge adds to
    "covered_s",  # seconds of the day covered (index: by intervals), exact
]
STAT_COLUMNS = [
    "channel_id", "day", "value_sum", "min_value", "max_value", "n_readings", "covered_s",
    "estimated",
]  # fmt: skip


def increments(
    readings: pd.DataFrame, modulus: pd.Series, resets: pd.DataFrame | None
) -> pd.DataFrame:
    """Consumption of each interval between consecutive valid index readings of the same
    channel (see `index_increments`), for many channels at once."""
    valid = _sorted(readings[readings["value"].notna()])
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
    return increments(frame, mod, res).drop(columns="channel_id")


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
    parts = split_at_local_midnight(increments(readings, meta["modulus"], resets))
    if not len(parts):
        return pd.DataFrame()
    keys = [parts["channel_id"], parts["day"]]
    grouped = parts.groupby(keys)
    out = pd.DataFrame(
        {
            "value_sum": grouped["value"].sum(min_count=1),
            "covered_s": grouped["seconds"].sum(),
            "estimated": grouped["estimated"].any(),
            "n_readings": grouped["value"].size(),
            "min_value": np.nan,
            "max_value": np.nan,
        }
    )
    # one unknown interval makes the whole day unknown, never an undercount
    out.loc[parts["value"].isna().groupby(keys).any(), "value_sum"] = np.nan
    return out


def _sorted(readings: pd.DataFrame) -> pd.DataFrame:
    """By channel then instant (stable), without a sort when they already are."""
    ch = readings["channel_id"].to_numpy(dtype="int64")
    ts = readings["ts"].to_numpy(dtype="int64")
    if len(ch) < 2 or ((ch[1:] > ch[:-1]) | ((ch[1:] == ch[:-1]) & (ts[1:] >= ts[:-1]))).all():
        return readings
    return readings.sort_values(["channel_id", "ts"], kind="stable")


def _sample_daily(readings: pd.DataFrame, prev: pd.Series | None) -> pd.DataFrame:
    """Sum, min, max, count and covered seconds of each channel-day; `prev`: per channel, the
    last valid reading before these (NaN: none), which the first one's cover runs from."""
    valid = _sorted(readings[readings["value"].notna()])
    if not len(valid):
        return pd.DataFrame()
    ch = valid["channel_id"].to_numpy(dtype="int64")
    ts = valid["ts"].to_numpy(dtype="int64")
    gap = np.empty(len(ts), dtype=float)
    gap[1:] = np.diff(ts)
    first = np.r_[True, ch[1:] != ch[:-1]]
    before = (
        np.full(first.sum(), np.nan)
        if prev is None
        else pd.Series(prev, dtype="float64").reindex(ch[first]).to_numpy()
    )
    gap[first] = np.where(np.isnan(before), COVER_CAP_S, ts[first] - before)
    day = local_dates(ts)
    value = valid["value"].to_numpy(dtype=float)
    cover = np.minimum(gap, COVER_CAP_S)
    est = valid["quality"].to_numpy() == Quality.ESTIMATED
    # rows sorted by channel then instant, so each channel-day is one run of rows
    start = np.flatnonzero(np.r_[True, (ch[1:] != ch[:-1]) | (day[1:] != day[:-1])])
    index = pd.MultiIndex.from_arrays([ch[start], day[start]], names=["channel_id", "day"])
    if len(start) == len(ch):
        # one reading per channel-day (a poller's flush): the figures are the readings', no
        # grouping (whose overhead at a flush a minute outweighed the sums)
        return pd.DataFrame(
            {"value_sum": value, "min_value": value, "max_value": value,
             "n_readings": np.ones(len(ch), dtype="int64"), "covered_s": cover,
             "estimated": est},
            index=index,
        )  # fmt: skip
    # the sums grouped by run number (pandas' compensated sum, as by channel and day: the
    # same figures to the last bit); the rest reduced over the runs
    lengths = np.diff(np.r_[start, len(ch)])
    run = np.repeat(np.arange(len(start)), lengths)
    sums = pd.DataFrame({"value": value, "cover": cover}).groupby(run).sum()
    return pd.DataFrame(
        {
            "value_sum": sums["value"].to_numpy(),
            "min_value": np.minimum.reduceat(value, start),
            "max_value": np.maximum.reduceat(value, start),
            "n_readings": lengths,
            "covered_s": sums["cover"].to_numpy(),
            "estimated": np.logical_or.reduceat(est, start),
        },
        index=index,
    )


def _default_factor(meta: pd.DataFrame) -> pd.Series:
    """kWh per unit when no dated factor applies: the channel's own, else from its unit."""
    at, units = pd.factorize(meta["unit"].astype(str))  # a few units for thousands of channels
    by_unit = np.array([UNIT_KWH.get(u.lower(), np.nan) for u in units] + [np.nan])[at]
    own = meta["kwh_per_unit"].astype(float)
    return own.fillna(pd.Series(by_unit, index=meta.index))


def daily_stats(
    readings: pd.DataFrame,
    meta: pd.DataFrame,
    resets: pd.DataFrame | None = None,
    prev: pd.Series | None = None,
) -> pd.DataFrame:
    """The additive figures of each channel-day (`STAT_COLUMNS`): what `finish_daily` turns
    into rollups and what `carnet.store.merge_daily` adds later readings to. `prev` (sample channels):
    per channel, the last valid reading before `readings`."""
    if not len(readings):
        return pd.DataFrame(columns=STAT_COLUMNS)
    index_ids = meta.index[(meta["kind"] == ChannelKind.INDEX).to_numpy()]
    is_index = np.isin(readings["channel_id"].to_numpy(), index_ids.to_numpy())
    frames = [
        f
        for f in (
            _index_daily(readings[is_index], meta, resets) if is_index.any() else None,
            _sample_daily(readings[~is_index], prev) if (~is_index).any() else None,
        )
        if f is not None and len(f)
    ]
    if not frames:
        return pd.DataFrame(columns=STAT_COLUMNS)
    out = pd.concat(frames).reset_index(names=["channel_id", "day"])
    out["day"] = np.asarray(out["day"].to_numpy(), dtype="datetime64[D]")
    out["n_readings"] = out["n_readings"].astype("int64")
    out["estimated"] = out["estimated"].astype(bool)
    return out[STAT_COLUMNS].sort_values(["channel_id", "day"], ignore_index=True)


def finish_daily(
    stats: pd.DataFrame, meta: pd.DataFrame, factors: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rollup rows (`DAILY_COLUMNS`) from channel-day figures: the sum (index, interval) or the
    mean (instant), the share of the day covered, and the energy with the factor in force."""
    if not len(stats):
        return pd.DataFrame(columns=DAILY_COLUMNS)
    out = stats.copy()
    days = np.asarray(out["day"].to_numpy(), dtype="datetime64[D]")
    out["day"] = days
    at = meta.index.get_indexer(out["channel_id"].to_numpy(dtype="int64"))
    kind = np.where(at >= 0, meta["kind"].to_numpy(dtype=object)[at], None)
    n = out["n_readings"].to_numpy(dtype=float)
    total = out["value_sum"].to_numpy(dtype=float)
    out["value"] = np.where(kind == ChannelKind.INSTANT, total / np.maximum(n, 1), total)
    out["coverage"] = np.minimum(out["covered_s"].to_numpy() / day_length_s(days), 1.0).round(4)
    factor = np.where(at >= 0, _default_factor(meta).to_numpy(dtype=float)[at], np.nan)
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
    factor[kind == ChannelKind.INSTANT] = np.nan
    out["energy_kwh"] = out["value"].to_numpy(dtype=float) * factor
    out["n_readings"] = out["n_readings"].astype("int64")
    out["estimated"] = out["estimated"].astype(bool)
    out = out[DAILY_COLUMNS]
    key = out["channel_id"].to_numpy(dtype="int64") * 1_000_000 + days.astype("int64")
    if len(key) > 1 and not (np.diff(key) > 0).all() or days.min() < np.datetime64(0, "D"):
        return out.sort_values(["channel_id", "day"], ignore_index=True)
    return out.reset_index(drop=True)


def daily_rollups(
    readings: pd.DataFrame,
    meta: pd.DataFrame,
    resets: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
    prev: pd.Series | None = None,
) -> pd.DataFrame:
    """Local-day figures of many channels at once.

    `readings`: channel_id, ts, value, quality; `meta`: kind, unit, kwh_per_unit, modulus
    indexed by channel id; `resets`: channel_id, ts, old_final_value, new_start_value;
    `factors`: channel_id, valid_from, kwh_per_unit (in force from that local date); `prev`:
    per sample channel, its last valid reading before `readings` (see `COVER_CAP_S`).
    Index channels give consumption (differences, spread pro rata over the days they span),
    interval channels the sum, instant channels the mean; `energy_kwh` converts consumption.
    """
    return finish_daily(daily_stats(readings, meta, resets, prev), meta, factors)


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


# --- the record with waiting rows laid over it ---------------------------------------------


def overlay_readings(stored: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Stored readings with the held ones applied (a held value replaces the stored one of its
    channel and instant; held rows were kept only when they would change the record)."""
    cols = ["channel_id", "ts", "value", "quality"]
    both = pd.concat([stored[cols], held[cols]], ignore_index=True)
    both = both.drop_duplicates(["channel_id", "ts"], keep="last")
    return both.sort_values(["channel_id", "ts"], ignore_index=True)


def replace_rollups(rollups: pd.DataFrame, fresh: pd.DataFrame, days: dict) -> pd.DataFrame:
    """`rollups` (`carnet.frames.rollups` shape) with each channel's days first..last taken
    from `fresh` (`daily_rollups` output) instead."""
    if not days:
        return rollups
    day = pd.to_datetime(rollups["day"]).to_numpy().astype("datetime64[D]")
    drop = np.zeros(len(rollups), dtype=bool)
    keep_fresh = np.zeros(len(fresh), dtype=bool)
    f_day = np.asarray(fresh["day"].to_numpy(), dtype="datetime64[D]")
    for cid, (lo, hi) in days.items():  # channels with pending rows: a handful
        lo, hi = np.datetime64(lo, "D"), np.datetime64(hi, "D")
        drop |= (rollups["channel_id"].to_numpy() == cid) & (day >= lo) & (day <= hi)
        keep_fresh |= (fresh["channel_id"].to_numpy() == cid) & (f_day >= lo) & (f_day <= hi)
    new = fresh[keep_fresh].copy()
    new["day"] = pd.to_datetime(f_day[keep_fresh]).astype(rollups["day"].dtype)
    out = pd.concat([rollups[~drop], new[list(rollups.columns)]], ignore_index=True)
    return out.astype({c: rollups[c].dtype for c in ("channel_id", "n_readings")})
