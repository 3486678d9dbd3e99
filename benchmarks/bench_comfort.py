"""Comfort figures speed: `contract.comfort` (one vectorised interval join for all bookings and
heating increments) against the named baseline "per-booking loop" (for each booking, slice its
room's readings with pandas and compute the same figures; for each heating hour, test it
against the building's occupied intervals), on the same generated data; results must agree.

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
    starts = t0 + rng.integers(0, days * 24, (n_rooms, per_room)) * 3600
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


def baseline(temps, bookings, increments, tol=1.0, max_gap=comfort.DEFAULT_MAX_GAP_S):
    """Per-booking loop: the straightforward way, one pandas slice per booking."""
    by_room = {r: g.sort_values("ts") for r, g in temps.groupby("room_id")}
    rows = []
    for b in bookings.itertuples(index=False):
        g = by_room[b.room_id]
        ts = g["ts"].to_numpy()
        val = g["temp_c"].to_numpy()
        i0 = max(np.searchsorted(ts, b.start_ts, side="right") - 1, 0)
        i1 = np.searchsorted(ts, b.end_ts, side="left")
        covered = ok = 0.0
        first_ok = None
        short = -np.inf
        for i in range(i0, i1):
            nxt = ts[i + 1] if i + 1 < len(ts) else ts[i] + max_gap
            s0, s1 = max(ts[i], b.start_ts), min(min(nxt, ts[i] + max_gap), b.end_ts)
            if s1 <= s0:
                continue
            covered += s1 - s0
            short = max(short, b.setpoint_c - val[i])
            if val[i] >= b.setpoint_c - tol:
                ok += s1 - s0
                first_ok = s0 if first_ok is None else first_ok
        late = (first_ok - b.start_ts) if first_ok is not None else (b.end_ts - b.start_ts)
        rows.append((b.booking_id, ok / covered, late / 60.0, max(short, 0.0)))
    result = pd.DataFrame(rows, columns=["booking_id", "share_ok", "minutes_late", "max_short"])
    outside = 0.0
    by_building = {k: g for k, g in bookings.groupby("building_id")}
    for inc in increments.itertuples(index=False):
        g = by_building.get(inc.building_id)
        busy = False
        if g is not None:
            starts = g["start_ts"].to_numpy() - g["preheat_min"].to_numpy() * 60
            busy = bool(((starts < inc.t1) & (g["end_ts"].to_numpy() > inc.t0)).any())
        if not busy:
            outside += inc.energy_kwh
    return result, outside


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
    t_base, (ref, ref_kwh) = timed(baseline, temps, bookings, increments)
    merged = res.merge(ref, on="booking_id")
    assert len(merged) == len(ref) == len(bookings)
    assert np.allclose(merged["share_ok_x"], merged["share_ok_y"])
    assert np.allclose(merged["minutes_late_x"], merged["minutes_late_y"])
    assert np.allclose(merged["max_shortfall_c"], merged["max_short"])
    assert np.isclose(out_kwh, ref_kwh)
    print(f"contract.comfort        : {t_ours * 1000:9.1f} ms")
    print(f"baseline per-booking loop: {t_base * 1000:9.1f} ms (same figures)")
    print(f"ratio={t_base / t_ours:.1f}")


if __name__ == "__main__":
    main()
