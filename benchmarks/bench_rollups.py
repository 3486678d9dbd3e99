"""Rollup refresh after a poll-sized write: `carnet.store.refresh_rollups` against the named
baseline "one set-based SQL statement" (the touched channels and local days in two temporary
tables, their rows deleted, then one INSERT ... SELECT with window functions computing every
channel's daily figures: mean, min, max, count and coverage of the instant channels, the index
channels' differences spread over the days), on the same kind of database: N channels (half
index, half instant) with a day of 10-minute history each, then one new reading per channel, as
a Modbus poller flush writes them. Both must give the same `daily_rollup` rows.

    python benchmarks/bench_rollups.py [--channels N] [--flushes F] [--quick] [--postgres]

Prints the database and the table sizes; the last line is `ratio=R` = SQL time / our time
(1.0: as fast as the single statement).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scratch_db import add_database_argument, label, scratch, server_url
from sqlalchemy import text

from carnet.db import make_engine, upgrade
from carnet.store import refresh_rollups, upsert_readings
from carnet.timeutil import local_dates, local_midnight_epoch

T0 = 1_760_000_400  # 09/10/2025, a whole number of 10-minute steps


ROLLUP_SQL = """
WITH r AS MATERIALIZED (
  SELECT rd.channel_id, rd.ts, rd.value, rd.quality, c.kind, c.unit, c.kwh_per_unit,
         LAG(rd.ts) OVER w AS prev_ts, LAG(rd.value) OVER w AS prev_value,
         LAG(rd.quality) OVER w AS prev_quality
  FROM reading rd
  JOIN bench_touched t ON t.channel_id = rd.channel_id
  JOIN channel c ON c.id = rd.channel_id
  WHERE rd.value IS NOT NULL
    AND rd.ts >= :lo AND rd.ts < :hi
  WINDOW w AS (PARTITION BY rd.channel_id ORDER BY rd.ts)
), samples AS (
  SELECT r.channel_id, b.day, AVG(r.value) AS value, CAST(NULL AS DOUBLE PRECISION) AS energy_kwh,
         MIN(r.value) AS min_value, MAX(r.value) AS max_value, COUNT(*) AS n_readings,
         SUM(CASE WHEN r.prev_ts IS NULL OR r.ts - r.prev_ts > 3600 THEN 3600
                  ELSE r.ts - r.prev_ts END) AS seconds,
         SUM(r.value) AS value_sum, MAX(b.d1 - b.d0) AS day_s,
         MAX(CASE WHEN r.quality = 1 THEN 1 ELSE 0 END) AS estimated
  FROM r JOIN bench_days b ON r.ts >= b.d0 AND r.ts < b.d1
  WHERE r.kind <> 'index'
  GROUP BY r.channel_id, b.day
), parts AS (
  SELECT r.channel_id, b.day, b.d1 - b.d0 AS day_s, r.unit, r.kwh_per_unit,
         CASE WHEN r.ts < b.d1 THEN r.ts ELSE b.d1 END
           - CASE WHEN r.prev_ts > b.d0 THEN r.prev_ts ELSE b.d0 END AS seconds,
         r.ts - r.prev_ts AS span_s,
         CASE WHEN r.value >= r.prev_value AND r.quality <> 4
              THEN r.value - r.prev_value END AS delta,
         CASE WHEN r.quality = 1 OR r.prev_quality = 1 OR r.prev_ts < b.d0 OR r.ts > b.d1
              THEN 1 ELSE 0 END AS estimated
  FROM r JOIN bench_days b ON r.ts > b.d0 AND r.prev_ts < b.d1
  WHERE r.kind = 'index' AND r.prev_ts IS NOT NULL
), indexes AS (
  SELECT channel_id, day,
         CASE WHEN COUNT(delta) = COUNT(*) THEN SUM(delta * seconds / span_s) END AS value,
         MAX(COALESCE(kwh_per_unit, CASE LOWER(unit) WHEN 'kwh' THEN 1.0 WHEN 'wh' THEN 0.001
                                                    WHEN 'mwh' THEN 1000.0 END)) AS factor,
         COUNT(*) AS n_readings, SUM(seconds) AS seconds, MAX(day_s) AS day_s,
         MAX(estimated) AS estimated
  FROM parts GROUP BY channel_id, day
)
INSERT INTO daily_rollup (channel_id, day, value, energy_kwh, min_value, max_value, n_readings,
                          coverage, estimated, value_sum, covered_s)
SELECT channel_id, day, value, energy_kwh, min_value, max_value, n_readings,
       ROUND(CAST(CASE WHEN 1.0 * seconds / day_s < 1 THEN 1.0 * seconds / day_s ELSE 1 END
                  AS NUMERIC), 4),
       estimated = 1, value_sum, seconds
FROM samples
UNION ALL
SELECT channel_id, day, value, value * factor, CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS DOUBLE PRECISION), n_readings,
       ROUND(CAST(CASE WHEN 1.0 * seconds / day_s < 1 THEN 1.0 * seconds / day_s ELSE 1 END
                  AS NUMERIC), 4),
       estimated = 1, value, seconds
FROM indexes
"""


def set_based_refresh(conn, touched: pd.DataFrame) -> None:
    """The baseline: the touched channels and their local days (with their UTC bounds) in two
    temporary tables, the days' rows deleted, then one INSERT ... SELECT computes them all
    (window functions for the index differences and each reading's cover, one GROUP BY per
    kind).
    It assumes what the benchmark's data has (the previous reading less than a day back, no
    meter resets, no dated conversion factors), so it is the lower bound of the work."""
    conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS bench_touched (channel_id BIGINT)"))
    conn.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS bench_days (day DATE, d0 BIGINT, d1 BIGINT)")
    )
    conn.execute(text("DELETE FROM bench_touched"))
    conn.execute(text("DELETE FROM bench_days"))
    ids = np.unique(touched["channel_id"].to_numpy(dtype="int64"))
    ts = touched["ts"].to_numpy(dtype="int64")
    first, last = local_dates([ts.min(), ts.max()])
    days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    bounds = local_midnight_epoch(np.append(days, days[-1] + np.timedelta64(1, "D")))
    conn.execute(
        text("INSERT INTO bench_touched (channel_id) VALUES (:c)"), [{"c": int(c)} for c in ids]
    )
    conn.execute(
        text("INSERT INTO bench_days (day, d0, d1) VALUES (:day, :d0, :d1)"),
        [
            {"day": pd.Timestamp(d).date(), "d0": int(bounds[i]), "d1": int(bounds[i + 1])}
            for i, d in enumerate(days)
        ],
    )
    conn.execute(
        text(
            "DELETE FROM daily_rollup WHERE channel_id IN (SELECT channel_id FROM bench_touched)"
            " AND day IN (SELECT day FROM bench_days)"
        )
    )
    conn.execute(text(ROLLUP_SQL), {"lo": int(bounds[0]) - 86400, "hi": int(bounds[-1])})


def database(url: str, n_channels: int):
    engine = make_engine(url)
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


def run(refresh, url: str, n_channels: int, flushes: int) -> tuple[float, pd.DataFrame, int]:
    engine = database(url, n_channels)
    elapsed = 0.0
    for frame in flush_frames(n_channels, flushes):
        with engine.begin() as conn:
            upsert_readings(conn, frame, refresh=False)
            t = time.perf_counter()
            refresh(conn, frame)
            elapsed += time.perf_counter() - t
    rollups = pd.read_sql_query(text("SELECT * FROM daily_rollup ORDER BY channel_id, day"), engine)
    rollups = rollups.drop(columns=["rebuilt_version"])  # who wrote a row, not its figures
    with engine.connect() as conn:
        size = conn.execute(text("SELECT count(*) FROM reading")).scalar_one()
    engine.dispose()
    return elapsed, rollups, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--flushes", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 channels, 3 flushes")
    add_database_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.channels, args.flushes = 300, 3
    n = args.channels * args.flushes
    server = server_url(args)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, refresh in (("ours", refresh_rollups), ("base", set_based_refresh)):
            url, drop = scratch(server, Path(tmp))
            try:
                results[name] = run(refresh, url, args.channels, args.flushes)
                db_label = label(url)
            finally:
                drop()
    (ours_s, ours, size), (base_s, base, _) = results["ours"], results["base"]
    pd.testing.assert_frame_equal(ours, base, check_dtype=False)
    print(f"base : {db_label}, table reading : {size} lignes, daily_rollup : {len(ours)} lignes")
    print(f"{args.channels} points de mesure, {args.flushes} écritures d'une mesure par point")
    print(f"refresh_rollups (Carnet)         : {n / ours_s:12,.0f} mesures/s ({ours_s:.3f} s)")
    print(f"one set-based SQL (baseline)     : {n / base_s:12,.0f} mesures/s ({base_s:.3f} s)")
    print("ratio = temps de la requête SQL / temps de Carnet (mêmes cumuls)")
    print(f"ratio={base_s / ours_s:.3f}")


if __name__ == "__main__":
    main()
