"""Comfort figures speed: `contract.comfort` (one vectorised interval join for all bookings and
heating increments, any reading times) against the named baseline "grid closed form" (numpy on
the regular 15-minute grid the data has: prefix sums, running minima, a sparse table, a
difference array; see `baseline`), on the same generated data; results must agree.
No database: both sides take the frames in memory.

N rooms (one building each) with a season of 15-minute indoor temperatures, ~4 bookings a week
per room, and hourly heating increments.

    python benchmarks/bench_comfort.py [--rooms N] [--quick]

The last line is `ratio=R`: baseline time over ours (higher is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from contract import comfort

START = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)


def generate(n_rooms: int, days: int, rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    t0 = int(START.timestamp())
    ts = t0 + np.arange(days * 96, dtype="int64") * 900
    temps = pd.DataFrame(
        {
            "room_id": np.repeat(np.arange(n_rooms), len(ts)),
            "ts": np.tile(ts, n_rooms),
            "temp_c": rng.normal(18.5, 1.5, n_rooms * len(ts)),
        }
    )
    per_room = days * 4 // 7
    starts = t0 + rng.integers(0, days * 24 - 4, (n_rooms, per_room)) * 3600  # ends in the data
    starts.sort(axis=1)
    starts = starts[:, ::2]  # thin out so that bookings rarely overlap (not needed, but tidy)
    k = starts.shape[1]
    bookings = pd.DataFrame(
        {
            "booking_id": np.arange(n_rooms * k),
            "room_id": np.repeat(np.arange(n_rooms), k),
            "building_id": np.repeat(np.arange(n_rooms), k),
            "start_ts": starts.ravel(),
            "end_ts": starts.ravel() + rng.integers(1, 5, n_rooms * k) * 3600,
            "setpoint_c": rng.choice([18.0, 19.0, 20.0], n_rooms * k),
            "preheat_min": rng.choice([0, 30, 60, 90], n_rooms * k),
        }
    )
    hours = t0 + np.arange(days * 24, dtype="int64") * 3600
    increments = pd.DataFrame(
        {
            "building_id": np.repeat(np.arange(n_rooms), len(hours)),
            "t0": np.tile(hours, n_rooms),
            "t1": np.tile(hours + 3600, n_rooms),
            "energy_kwh": rng.uniform(0, 30, n_rooms * len(hours)),
        }
    )
    return temps, bookings, increments


def ours(temps, bookings, increments) -> tuple[pd.DataFrame, float]:
    result = comfort.booking_comfort(bookings, temps)
    pre = bookings["preheat_min"].to_numpy() * 60
    occupied = comfort.merge_intervals(
        pd.DataFrame(
            {
                "building_id": bookings["building_id"],
                "start_ts": bookings["start_ts"] - pre,
                "end_ts": bookings["end_ts"],
            }
        )
    )
    energy = comfort.energy_outside(increments, occupied)
    return result, float(energy.loc[energy["outside"], "energy_kwh"].sum())


def _range_min(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """min(values[rows, lo:hi]) for every query at once: a sparse table of minima over
    power-of-two windows, two lookups per query."""
    table = [values]
    width = 1
    while 2 * width <= values.shape[1]:
        prev = table[-1]
        table.append(np.minimum(prev[:, :-width], prev[:, width:]))
        width *= 2
    k = np.floor(np.log2(hi - lo)).astype(int)
    out = np.empty(len(lo))
    for level in np.unique(k):  # a dozen levels, not one pass per booking
        sel = k == level
        t = table[level]
        out[sel] = np.minimum(t[rows[sel], lo[sel]], t[rows[sel], hi[sel] - (1 << level)])
    return out


def baseline(temps, bookings, increments, tol=comfort.DEFAULT_TOLERANCE_BELOW_C):
    """Closed form on the regular grid: readings every 15 min as a rooms x steps matrix, bookings
    on grid boundaries; prefix sums give the share at the setpoint, a reversed running minimum
    the first step at it, a sparse table the coldest step; heating hours against a per-building
    occupied-hours grid built from a difference array. Knows the data's shape, so it is the
    strongest form of these figures, not a general one."""
    rooms = np.sort(temps["room_id"].unique())
    t = temps.sort_values(["room_id", "ts"])
    t0 = int(t["ts"].min())
    steps = len(t) // len(rooms)
    grid = t["temp_c"].to_numpy(dtype=float).reshape(len(rooms), steps)
    row = np.searchsorted(rooms, bookings["room_id"].to_numpy())
    start = bookings["start_ts"].to_numpy(dtype="int64")
    end = bookings["end_ts"].to_numpy(dtype="int64")
    lo, hi = (start - t0) // 900, (end - t0) // 900
    setpoint = bookings["setpoint_c"].to_numpy(dtype=float)
    share = np.empty(len(bookings))
    late_min = np.empty(len(bookings))
    index = np.arange(steps)
    for sp in np.unique(setpoint):  # three setpoints: one grid pass each
        sel = setpoint == sp
        ok = grid >= sp - tol
        prefix = np.concatenate([np.zeros((len(rooms), 1)), np.cumsum(ok, axis=1)], axis=1)
        r, a, b = row[sel], lo[sel], hi[sel]
        share[sel] = (prefix[r, b] - prefix[r, a]) / (b - a)
        first = np.where(ok, index, steps)[:, ::-1]
        first = np.minimum.accumulate(first, axis=1)[:, ::-1]  # next step at the setpoint
        j = first[r, a]
        late_min[sel] = np.where(j < b, (j - a) * 15.0, (b - a) * 15.0)
    coldest = _range_min(grid, lo, hi, row)
    result = pd.DataFrame(
        {
            "booking_id": bookings["booking_id"].to_numpy(),
            "share_ok": share,
            "minutes_late": late_min,
            "max_short": np.maximum(setpoint - coldest, 0.0),
        }
    )
    buildings = np.sort(increments["building_id"].unique())
    h0 = int(increments["t0"].min())
    hours = len(increments) // len(buildings)
    busy = np.zeros((len(buildings), hours + 1), dtype="int64")
    b_row = np.searchsorted(buildings, bookings["building_id"].to_numpy())
    occ_start = start - bookings["preheat_min"].to_numpy(dtype="int64") * 60
    first_h = np.clip((occ_start - h0) // 3600, 0, hours)
    last_h = np.clip(-((h0 - end) // 3600), 0, hours)  # ceil: the hour the use ends in
    np.add.at(busy, (b_row, first_h), 1)
    np.add.at(busy, (b_row, last_h), -1)
    occupied = np.cumsum(busy, axis=1)[:, :hours] > 0
    inc = increments.sort_values(["building_id", "t0"])
    energy = inc["energy_kwh"].to_numpy(dtype=float).reshape(len(buildings), hours)
    return result, float(energy[~occupied].sum())


def timed(func, *args, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = func(*args)
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--days", type=int, default=212)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rooms, args.days = min(args.rooms, 10), min(args.days, 90)
    rng = np.random.default_rng(7)
    temps, bookings, increments = generate(args.rooms, args.days, rng)
    print(
        f"{args.rooms} rooms, {args.days} days: {len(temps):,} readings, "
        f"{len(bookings):,} bookings, {len(increments):,} heating hours"
    )
    t_ours, (res, out_kwh) = timed(ours, temps, bookings, increments, repeat=3)
    t_base, (ref, ref_kwh) = timed(baseline, temps, bookings, increments, repeat=3)
    merged = res.merge(ref, on="booking_id")
    assert len(merged) == len(ref) == len(bookings)
    assert np.allclose(merged["share_ok_x"], merged["share_ok_y"])
    assert np.allclose(merged["minutes_late_x"], merged["minutes_late_y"])
    assert np.allclose(merged["max_shortfall_c"], merged["max_short"])
    assert np.isclose(out_kwh, ref_kwh)
    print(f"contract.comfort        : {t_ours * 1000:9.1f} ms")
    print(f"baseline grid closed form: {t_base * 1000:9.1f} ms (same figures)")
    print("base : aucune (les deux côtés calculent sur les mêmes tableaux en mémoire)")
    print(f"ratio={t_base / t_ours:.3f}")


if __name__ == "__main__":
    main()
