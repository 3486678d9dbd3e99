"""The day figures of later readings are added to the stored ones by the database
(`carnet.store.merge_daily`): after every flush of a minute, each figure is what a full
recompute gives, the share of the day covered rounded as numpy rounds (half to even, where
SQLite's round() goes half away from zero), and a day rolled up before covered seconds were
kept is rebuilt from its readings rather than merged. SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from carnet.increments import COVER_CAP_S
from carnet.store import write_readings
from tests.helpers.rollup_town import KINDS
from tests.helpers.rollup_town import channels as _channels
from tests.helpers.rollup_town import full_recompute as _full_recompute
from tests.helpers.rollup_town import rollups as _rollups

DAY1 = int(pd.Timestamp("2025-03-31", tz="Europe/Paris").timestamp())  # after a 23-hour day


def _minute(ts: int, k: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"channel_id": list(KINDS), "ts": ts,
         "value": [1000.0 + 2.5 * k, 3.0 + k % 4, 18.0 + (k * 7) % 5], "quality": 0}
    )  # fmt: skip


def test_each_minute_flush_leaves_the_figures_of_a_full_recompute(engine):
    """A flush per minute on a normal day: covered seconds go 3600, 3660, ... through 4860 s,
    where 4860 / 86400 = 0.05625 is a tie at four decimals (numpy: 0.0562)."""
    _channels(engine)
    for k in range(24):
        write_readings(engine, _minute(DAY1 + 60 * k, k))
        merged = _rollups(engine)
        instant = merged[merged["channel_id"] == 3].iloc[-1]
        covered_s = COVER_CAP_S + 60 * k
        assert instant["covered_s"] == covered_s
        assert instant["coverage"] == np.round(covered_s / 86_400, 4)
        assert instant["n_readings"] == k + 1
        if covered_s == 4860:
            assert instant["coverage"] == 0.0562  # half to even, not 0.0563
    full = _full_recompute(engine)
    pd.testing.assert_frame_equal(merged, full, check_exact=False, rtol=1e-9, atol=1e-12,
                                  check_dtype=False)  # fmt: skip


def test_a_flush_across_midnight_merges_both_days(engine):
    """The last minutes of a 23-hour day and the first of the next, in one flush after the
    day's readings: each day merged with its own length."""
    _channels(engine)
    frames = [_minute(DAY1 - 60 * (30 - k), k) for k in range(25)]
    write_readings(engine, pd.concat(frames, ignore_index=True))
    later = [_minute(DAY1 - 60 * (30 - k), k) for k in range(25, 40)]
    write_readings(engine, pd.concat(later, ignore_index=True))
    merged = _rollups(engine)
    assert merged["day"].nunique() == 2
    pd.testing.assert_frame_equal(merged, _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-12, check_dtype=False)  # fmt: skip


def test_a_day_rolled_up_without_covered_seconds_is_rebuilt_not_merged(engine):
    _channels(engine)
    write_readings(engine, pd.concat([_minute(DAY1 + 60 * k, k) for k in range(10)]))
    with engine.begin() as conn:  # as a rollup written before covered seconds were kept
        conn.execute(text("UPDATE daily_rollup SET covered_s = NULL WHERE channel_id = 3"))
    write_readings(engine, _minute(DAY1 + 600, 10))
    merged = _rollups(engine)
    assert merged["covered_s"].notna().all()
    instant = merged[merged["channel_id"] == 3].iloc[-1]
    assert instant["n_readings"] == 11
    pd.testing.assert_frame_equal(merged, _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-12, check_dtype=False)  # fmt: skip
