"""Portfolio page speed: `carnet.queries.last_readings` (one backward walk of the
(channel_id, ts) key per channel) against the named baseline "group-by scan" (the previous
query: MAX(ts) GROUP BY channel over every reading, joined back), on the same SQLite database of
N channels with a season of hourly readings each. Both must give the same last readings.

    python benchmarks/bench_portfolio.py [--channels N] [--hours H] [--quick]

The last line is `ratio=R`: baseline time over ours (higher is better).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
from sqlalchemy import text

BASELINE_SQL = (
    "SELECT r.channel_id, r.ts, r.value FROM reading r JOIN ("
    " SELECT channel_id, MAX(ts) AS ts FROM reading WHERE value IS NOT NULL"
    " GROUP BY channel_id) m ON m.channel_id = r.channel_id AND m.ts = r.ts"
)


def build(engine, n_channels: int, hours: int, rng) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO building (code, name) VALUES ('B', 'Bâtiment')"),
        )
        bid = conn.execute(text("SELECT id FROM building WHERE code = 'B'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO channel (code, building_id, quantity, kind, unit)"
                " VALUES (:code, :b, 'temp_indoor_c', 'instant', 'degC')"
            ),
            [{"code": f"C{i}", "b": bid} for i in range(n_channels)],
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM channel ORDER BY id"))]
    ts = 1_700_000_000 + 3600 * np.arange(hours, dtype="int64")
    values = rng.normal(19.0, 1.5, n_channels * hours)
    values[rng.random(values.size) < 0.02] = np.nan  # gap markers
    frame = pd.DataFrame(
        {
            "channel_id": np.repeat(ids, hours),
            "ts": np.tile(ts, n_channels),
            "value": values,
            "quality": 0,
        }
    )
    with engine.begin() as conn:
        frame.to_sql("reading", conn, if_exists="append", index=False, chunksize=100_000)


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=60)
    parser.add_argument("--hours", type=int, default=5000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    channels, hours, repeat = args.channels, args.hours, 5
    if args.quick:
        channels, hours, repeat = 30, 3000, 3
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CARNET_HOME"] = tmp
        from carnet.db import get_engine
        from carnet.queries import last_readings

        engine = get_engine(f"sqlite:///{tmp}/bench.sqlite")
        build(engine, channels, hours, np.random.default_rng(7))

        def baseline():
            with engine.connect() as conn:
                return pd.read_sql_query(text(BASELINE_SQL), conn)

        t_base, base = best_of(baseline, repeat)
        t_ours, ours = best_of(lambda: last_readings(engine), repeat)
        key = ["channel_id", "ts", "value"]
        a = base[key].sort_values("channel_id").reset_index(drop=True)
        b = ours[key].sort_values("channel_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        print(f"{channels} channels x {hours} hourly readings ({channels * hours:,} rows)")
        print(f"group-by scan (baseline): {t_base * 1000:.1f} ms")
        print(f"last_readings (ours):     {t_ours * 1000:.1f} ms")
        engine.dispose()
    print(f"ratio={t_base / t_ours:.1f}")


if __name__ == "__main__":
    main()
