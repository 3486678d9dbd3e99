"""Usage performance: was the room warm while booked, and was heat spent when nobody was there?

Pure pandas/numpy on frames loaded by `contract.comfort_load`. Times are int UTC epoch seconds.

Indoor temperature is read as a step signal: each reading holds until the next one, at most
`max_gap_s` (a longer silence is "no data", not "warm"). Intervals of many rooms or buildings
are joined in one vectorised pass by offsetting each group's timeline by a large constant, so
no Python loop runs per booking or per reading.

Figures per booking (with a setpoint and a temperature channel in its room):
- `share_ok`: booked time at or above setpoint - tolerance (and below setpoint + upper tolerance,
  when one is set), over the booked time covered by data;
- `minutes_late`: from the booking start to the first moment within tolerance (0 if warm at
  start; the whole booking if never reached);
- `max_shortfall_c`: the largest setpoint - temperature seen during the booking (0 if never below).

Energy outside use: heating increments (index differences, kWh) of hours that overlap neither a
booking of the building (pre-heating included) nor its usual schedule (`Building.schedule`,
local time) count as spent outside use; an hour touched by any use is not counted.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from contract.terms import TZ_NAME

DEFAULT_TOLERANCE_BELOW_C = 1.0
DEFAULT_MAX_GAP_S = 3 * 3600
_SPAN = np.int64(1) << np.int64(40)  # > any epoch second we store: separates groups' timelines
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

COMFORT_COLUMNS = [
    "booking_id",
    "room_id",
    "building_id",
    "start_ts",
    "end_ts",
    "setpoint_c",
    "booked_s",
    "covered_s",
    "ok_s",
    "coverage",
    "share_ok",
    "reached",
    "minutes_late",
    "max_shortfall_c",
    "min_temp_c",
]


def _keys(group_codes: np.ndarray, ts: np.ndarray) -> np.ndarray:
    return group_codes.astype("int64") * _SPAN + ts.astype("int64")


def booking_comfort(
    bookings: pd.DataFrame,
    temps: pd.DataFrame,
    tolerance_below_c: float = DEFAULT_TOLERANCE_BELOW_C,
    tolerance_above_c: float | None = None,
    max_gap_s: int = DEFAULT_MAX_GAP_S,
) -> pd.DataFrame:
    """Comfort figures per booking.

    bookings: booking_id, room_id, building_id, start_ts, end_ts, setpoint_c.
    temps: room_id, ts, temp_c (one indoor channel per room).
    Bookings without a setpoint or without any reading of their room are left out.
    """
    b = bookings[bookings["setpoint_c"].notna()]
    t = temps[temps["temp_c"].notna()]
    b = b[b["room_id"].isin(t["room_id"].unique())].reset_index(drop=True)
    if not len(b):
        return pd.DataFrame(columns=COMFORT_COLUMNS)
    rooms = pd.Index(np.unique(t["room_id"].to_numpy()))
    t = t.assign(g=rooms.get_indexer(t["room_id"])).sort_values(["g", "ts"])
    g_t = t["g"].to_numpy()
    ts = t["ts"].to_numpy(dtype="int64")
    temp = t["temp_c"].to_numpy(dtype=float)
    # each reading holds until the next reading of the same room, at most max_gap_s
    nxt = np.append(ts[1:], np.iinfo("int64").max)
    same_room_next = np.append(g_t[1:] == g_t[:-1], False)
    seg_end = np.where(same_room_next, np.minimum(nxt, ts + max_gap_s), ts + max_gap_s)
    key = _keys(g_t, ts)

    g_b = rooms.get_indexer(b["room_id"])
    start = b["start_ts"].to_numpy(dtype="int64")
    end = b["end_ts"].to_numpy(dtype="int64")
    # readings in force during [start, end): the one in force at start, up to the last before end
    first = np.searchsorted(key, _keys(g_b, start), side="right") - 1
    first = np.where((first >= 0) & (g_t[np.maximum(first, 0)] == g_b), first, first + 1)
    last = np.searchsorted(key, _keys(g_b, end), side="left")  # exclusive
    n = np.maximum(last - first, 0)
    rep = np.repeat(np.arange(len(b)), n)
    idx = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(first, n)
    s0 = np.maximum(ts[idx], start[rep])
    s1 = np.minimum(seg_end[idx], end[rep])
    dur = np.clip(s1 - s0, 0, None).astype(float)
    setpoint = b["setpoint_c"].to_numpy(dtype=float)
    value = temp[idx]
    ok = value >= setpoint[rep] - tolerance_below_c
    if tolerance_above_c is not None:
        ok &= value <= setpoint[rep] + tolerance_above_c
    ok &= dur > 0
    seg = pd.DataFrame(
        {
            "b": rep,
            "dur": dur,
            "ok_s": np.where(ok, dur, 0.0),
            "ok_start": np.where(ok, s0.astype(float), np.nan),
            "short": np.where(dur > 0, setpoint[rep] - value, np.nan),
            "temp": np.where(dur > 0, value, np.nan),
        }
    )
    agg = seg.groupby("b").agg(
        covered_s=("dur", "sum"),
        ok_s=("ok_s", "sum"),
        first_ok=("ok_start", "min"),
        max_short=("short", "max"),
        min_temp=("temp", "min"),
    )
    agg = agg.reindex(np.arange(len(b)))
    booked = (end - start).astype(float)
    covered = agg["covered_s"].fillna(0.0).to_numpy()
    ok_s = agg["ok_s"].fillna(0.0).to_numpy()
    first_ok = agg["first_ok"].to_numpy(dtype=float)
    reached = np.isfinite(first_ok)
    late_s = np.where(reached, first_ok - start, booked)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(covered > 0, ok_s / covered, np.nan)
    out = pd.DataFrame(
        {
            "booking_id": b["booking_id"].to_numpy(),
            "room_id": b["room_id"].to_numpy(),
            "building_id": b["building_id"].to_numpy(),
            "start_ts": start,
            "end_ts": end,
            "setpoint_c": setpoint,
            "booked_s": booked,
            "covered_s": covered,
            "ok_s": ok_s,
            "coverage": covered / booked,
            "share_ok": share,
            "reached": reached,
            "minutes_late": np.maximum(late_s, 0.0) / 60.0,
            "max_shortfall_c": np.clip(agg["max_short"].to_numpy(dtype=float), 0.0, None),
            "min_temp_c": agg["min_temp"].to_numpy(dtype=float),
        }
    )
    return out[out["covered_s"] > 0].reset_index(drop=True)[COMFORT_COLUMNS]


# --- occupancy ----------------------------------------------------------------------------


def parse_schedule(schedule: dict | None) -> list[tuple[int, int, int]]:
    """{"mon": ["08:00-18:00"], ...} -> [(weekday 0-6, start minute, end minute)].

    An end before the start runs past midnight; "24:00" is accepted as an end.
    """
    out = []
    for day, ranges in (schedule or {}).items():
        wd = WEEKDAYS.index(str(day).strip().lower()[:3])
        for text in [ranges] if isinstance(ranges, str) else ranges or []:
            m = _RANGE_RE.match(str(text))
            if not m:
                raise ValueError(f"plage horaire illisible « {text} » (attendu HH:MM-HH:MM)")
            h0, m0, h1, m1 = (int(x) for x in m.groups())
            a, z = h0 * 60 + m0, h1 * 60 + m1
            if z <= a:
                z += 24 * 60
            out.append((wd, a, z))
    return out


def schedule_intervals(
    schedules: dict[int, dict | None], day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """Usual occupancy of each building as UTC intervals over local dates day_from..day_to.

    Built on the local wall clock: 08:00 stays 08:00 on both sides of a DST change.
    """
    days = pd.date_range(day_from, day_to, freq="D")
    parts = []
    for building_id, schedule in schedules.items():
        for wd, a, z in parse_schedule(schedule):
            d = days[days.day_of_week == wd]
            if not len(d):
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "building_id": building_id,
                        "start_local": d + pd.to_timedelta(a, unit="min"),
                        "end_local": d + pd.to_timedelta(z, unit="min"),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({"building_id": [], "start_ts": [], "end_ts": []})
    frame = pd.concat(parts, ignore_index=True)
    start = _local_epoch(frame["start_local"])
    end = _local_epoch(frame["end_local"])
    return pd.DataFrame({"building_id": frame["building_id"], "start_ts": start, "end_ts": end})


def _local_epoch(naive: pd.Series) -> np.ndarray:
    """Local wall-clock times to epoch s; a nonexistent time moves forward, a repeated one
    takes its first occurrence."""
    idx = pd.DatetimeIndex(naive).tz_localize(
        TZ_NAME, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return idx.tz_convert("UTC").as_unit("s").asi8.astype("int64")


def merge_intervals(intervals: pd.DataFrame, group: str = "building_id") -> pd.DataFrame:
    """Union of overlapping or touching intervals per group: sorted, disjoint."""
    if not len(intervals):
        return pd.DataFrame({group: [], "start_ts": [], "end_ts": []})
    f = intervals.sort_values([group, "start_ts"]).reset_index(drop=True)
    prev_end = f.groupby(group)["end_ts"].cummax().groupby(f[group]).shift()
    new = prev_end.isna() | (f["start_ts"] > prev_end)
    f["run"] = new.cumsum()
    out = f.groupby("run").agg(
        **{group: (group, "first"), "start_ts": ("start_ts", "min"), "end_ts": ("end_ts", "max")}
    )
    return out.reset_index(drop=True)


def occupied_intervals(
    bookings: pd.DataFrame, schedules: dict[int, dict | None], day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """Per building, the union of bookings (from start - pre-heating) and the usual schedule."""
    pre = bookings["preheat_min"].fillna(0).to_numpy(dtype="int64") * 60
    booked = pd.DataFrame(
        {
            "building_id": bookings["building_id"].to_numpy(),
            "start_ts": bookings["start_ts"].to_numpy(dtype="int64") - pre,
            "end_ts": bookings["end_ts"].to_numpy(dtype="int64"),
        }
    )
    usual = schedule_intervals(schedules, day_from - dt.timedelta(days=1), day_to)
    both = pd.concat([booked, usual], ignore_index=True).astype(
        {"building_id": "int64", "start_ts": "int64", "end_ts": "int64"}
    )
    return merge_intervals(both)


def energy_outside(increments: pd.DataFrame, occupied: pd.DataFrame) -> pd.DataFrame:
    """Flag each heating increment (building_id, t0, t1, energy_kwh) that overlaps no use.

    `occupied` must be disjoint and sorted per building (`merge_intervals`). Adds `outside`.
    """
    inc = increments.reset_index(drop=True)
    if not len(inc):
        return inc.assign(outside=pd.Series([], dtype=bool))
    buildings = pd.Index(
        np.unique(
            np.concatenate([inc["building_id"].to_numpy(), occupied["building_id"].to_numpy()])
        )
    )
    occ = occupied.assign(g=buildings.get_indexer(occupied["building_id"])).sort_values(
        ["g", "start_ts"]
    )
    g_o = occ["g"].to_numpy(dtype="int64")
    o_start = _keys(g_o, occ["start_ts"].to_numpy(dtype="int64"))
    o_end = _keys(g_o, occ["end_ts"].to_numpy(dtype="int64"))
    g_i = buildings.get_indexer(inc["building_id"]).astype("int64")
    t0 = _keys(g_i, inc["t0"].to_numpy(dtype="int64"))
    t1 = _keys(g_i, inc["t1"].to_numpy(dtype="int64"))
    # the last use starting before the increment ends overlaps it iff it ends after its start
    pos = np.searchsorted(o_start, t1, side="left") - 1
    has = pos >= 0
    overlaps = np.zeros(len(inc), dtype=bool)
    overlaps[has] = o_end[pos[has]] > t0[has]
    return inc.assign(outside=~overlaps)


# --- monthly summary ----------------------------------------------------------------------


def _local_month(ts: np.ndarray) -> np.ndarray:
    local = pd.to_datetime(np.asarray(ts, dtype="int64"), unit="s", utc=True).tz_convert(TZ_NAME)
    return np.asarray(local.strftime("%Y-%m"), dtype=object)


def monthly_rooms(comfort: pd.DataFrame) -> pd.DataFrame:
    """Per room and local month (of the booking start): time-weighted share within tolerance."""
    cols = [
        "month",
        "room_id",
        "building_id",
        "bookings",
        "booked_h",
        "share_ok",
        "late_bookings",
        "mean_minutes_late",
        "max_minutes_late",
        "max_shortfall_c",
    ]
    if not len(comfort):
        return pd.DataFrame(columns=cols)
    c = comfort.assign(month=_local_month(comfort["start_ts"].to_numpy()))
    c["late"] = c["minutes_late"] > 0
    g = c.groupby(["month", "room_id", "building_id"])
    out = g.agg(
        bookings=("booking_id", "size"),
        booked_s=("booked_s", "sum"),
        covered_s=("covered_s", "sum"),
        ok_s=("ok_s", "sum"),
        late_bookings=("late", "sum"),
        mean_minutes_late=("minutes_late", "mean"),
        max_minutes_late=("minutes_late", "max"),
        max_shortfall_c=("max_shortfall_c", "max"),
    ).reset_index()
    out["booked_h"] = out["booked_s"] / 3600.0
    out["share_ok"] = out["ok_s"] / out["covered_s"]
    out["late_bookings"] = out["late_bookings"].astype("int64")
    return out[cols]


def monthly_buildings(comfort: pd.DataFrame, energy: pd.DataFrame) -> pd.DataFrame:
    """Per building and local month: comfort (time-weighted) and heating energy in/outside use.

    energy: the output of `energy_outside` (month of each increment = month of its start).
    """
    keys = ["month", "building_id"]
    parts = []
    if len(comfort):
        c = comfort.assign(month=_local_month(comfort["start_ts"].to_numpy()))
        c["late"] = c["minutes_late"] > 0
        ca = (
            c.groupby(keys)
            .agg(
                bookings=("booking_id", "size"),
                covered_s=("covered_s", "sum"),
                ok_s=("ok_s", "sum"),
                late_bookings=("late", "sum"),
                mean_minutes_late=("minutes_late", "mean"),
                max_shortfall_c=("max_shortfall_c", "max"),
            )
            .reset_index()
        )
        ca["share_ok"] = ca["ok_s"] / ca["covered_s"]
        parts.append(ca.drop(columns=["covered_s", "ok_s"]).set_index(keys))
    if len(energy):
        e = energy.assign(month=_local_month(energy["t0"].to_numpy()))
        e["outside_kwh"] = np.where(e["outside"], e["energy_kwh"], 0.0)
        ea = e.groupby(keys).agg(
            energy_kwh=("energy_kwh", "sum"), energy_outside_kwh=("outside_kwh", "sum")
        )
        ea["share_outside"] = ea["energy_outside_kwh"] / ea["energy_kwh"].where(
            ea["energy_kwh"] > 0
        )
        parts.append(ea)
    cols = keys + [
        "bookings",
        "share_ok",
        "late_bookings",
        "mean_minutes_late",
        "max_shortfall_c",
        "energy_kwh",
        "energy_outside_kwh",
        "share_outside",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, axis=1).reset_index()
    for col in cols:
        if col not in out:
            out[col] = np.nan
    out["bookings"] = out["bookings"].fillna(0).astype("int64")
    out["late_bookings"] = out["late_bookings"].fillna(0).astype("int64")
    return out.sort_values(keys).reset_index(drop=True)[cols]
