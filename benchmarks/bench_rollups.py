"""Rollup refresh after a poll-sized write: `carnet.store.refresh_rollups` (a handful of
set-based statements for all channels, daily figures vectorised across channels) against the
named baseline "per-channel refresh" (for each channel: look up its neighbours, read its window,
compute its days with `daily_from_readings`, delete and insert its rows), on the same SQLite
database: N channels (half index, half instant) with a day of 10-minute history each, then one
new reading per channel, as a Modbus poller flush writes them. Both must give the same rollups.

    python benchmarks/bench_rollups.py [--channels N] [--flushes F] [--quick]

The last line is `ratio=R`: our throughput (readings refreshed per second) over the baseline's.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
from sqlalchemy import text

from carnet.db import make_engine, upgrade
from carnet.increments import daily_from_readings
from carnet.store import _channel_meta, insert_daily, refresh_rollups, upsert_readings
from carnet.timeutil import local_dates, local_midnight_epoch

T0 = 1_760_000_400  # 09/10/2025, a whole number of 10-minute steps


def per_channel_refresh(conn, touched: pd.DataFrame) -> int:
    """The baseline: the straightforward loop, several queries and one pandas pass per channel."""
    meta = _channel_meta(conn, touched["channel_id"].unique())
    written = 0
    for channel_id, group in touched.groupby("channel_id"):
        lo, hi = int(group["ts"].min()), int(group["ts"].max())
        prev = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": channel_id, "t": lo},
        ).scalar()
        day_lo, day_hi = local_dates([prev if prev is not None else lo, hi])
        start, end = local_midnight_epoch([day_lo, day_hi + np.timedelta64(1, "D")])
        before = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": channel_id, "t": int(start)},
        ).scalar()
        q_lo = int(before) if before is not None else int(start)
        readings = pd.read_sql_query(
            text(
                "SELECT ts, value, quality FROM reading WHERE channel_id = :c"
                " AND ts >= :lo AND ts < :hi ORDER BY ts"
            ),
            conn,
            params={"c": int(channel_id), "lo": q_lo, "hi": int(end)},
        )
        daily = daily_from_readings(readings, meta.loc[channel_id])
        daily = daily[(daily["day"] >= day_lo) & (daily["day"] <= day_hi)]
        conn.execute(
            text("DELETE FROM daily_rollup WHERE channel_id = :c AND day >= :a AND day <= :b"),
            {
                "c": int(channel_id),
                "a": pd.Timestamp(day_lo).date(),
                "b": pd.Timestamp(day_hi).date(),
            },
        )
        insert_daily(conn, daily.assign(channel_id=int(channel_id)))
        written += len(daily)
    return written


def database(n_channels: int, tmp: str, name: str):
    engine = make_engine(f"sqlite:///{tmp}/{name}.sqlite")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channel (id, code, quantity, kind, unit) VALUES"
                " (:i, :c, 'q', :k, 'kWh')"
            ),
            [
                {"i": i, "c": f"C{i}", "k": "index" if i % 2 else "instant"}
                for i in range(1, n_channels + 1)
            ],
        )
        ids = np.arange(1, n_channels + 1)
        steps = np.arange(144)  # the day before: 10-minute history
        history = pd.DataFrame(
            {
                "channel_id": np.repeat(ids, len(steps)),
                "ts": T0 + np.tile(steps, n_channels) * 600,
                "value": np.tile(steps, n_channels) * 1.0,
            }
        )
        upsert_readings(conn, history)
    return engine


def flush_frames(n_channels: int, flushes: int) -> list[pd.DataFrame]:
    ids = np.arange(1, n_channels + 1)
    return [
        pd.DataFrame({"channel_id": ids, "ts": T0 + (144 + k) * 600, "value": 144.0 + k})
        for k in range(flushes)
    ]


def run(refresh, n_channels: int, flushes: int, tmp: str, name: str) -> tuple[float, pd.DataFrame]:
    engine = database(n_channels, tmp, name)
    elapsed = 0.0
    for frame in flush_frames(n_channels, flushes):
        with engine.begin() as conn:
            upsert_readings(conn, frame, refresh=False)
            t = time.perf_counter()
            refresh(conn, frame)
            elapsed += time.perf_counter() - t
    rollups = pd.read_sql_query(text("SELECT * FROM daily_rollup ORDER BY channel_id, day"), engine)
    engine.dispose()
    return elapsed, rollups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--flushes", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 channels, 3 flushes")
    args = parser.parse_args()
    if args.quick:
        args.channels, args.flushes = 300, 3
    n = args.channels * args.flushes
    with tempfile.TemporaryDirectory() as tmp:
        ours_s, ours = run(refresh_rollups, args.channels, args.flushes, tmp, "ours")
        base_s, base = run(per_channel_refresh, args.channels, args.flushes, tmp, "base")
    pd.testing.assert_frame_equal(ours, base, check_dtype=False)
    print(f"{args.channels} points de mesure, {args.flushes} écritures d'une mesure par point")
    print(f"refresh_rollups (Carnet)      : {n / ours_s:12,.0f} mesures/s ({ours_s:.2f} s)")
    print(f"per-channel refresh (baseline): {n / base_s:12,.0f} mesures/s ({base_s:.2f} s)")
    print(f"ratio={base_s / ours_s:.1f}")


if __name__ == "__main__":
    main()
