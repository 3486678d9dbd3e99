"""A poller's day: readings appended after everything stored merge into the stored day figures
(sum, count, min, max, covered seconds) without the day being read back, and leave exactly
the rollups a full recompute gives: random steps, holes, gap markers and estimates, on index,
interval and instant channels, across both DST changes. SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carnet.increments import COVER_CAP_S
from carnet.kinds import Quality
from carnet.store import write_readings
from tests.helpers.reading_reads import ReadingReads
from tests.helpers.rollup_town import AUTUMN, KINDS, SPRING
from tests.helpers.rollup_town import channels as _channels
from tests.helpers.rollup_town import full_recompute as _full_recompute
from tests.helpers.rollup_town import rollups as _rollups


def _flushes(draw_gaps: list[int], start: int, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Consecutive flushes of the three channels: each channel's own random instants, values
    (a rising index), some gap markers and estimates."""
    out, t = [], {c: start for c in KINDS}
    level = {c: 100.0 for c in KINDS}
    for n in draw_gaps:
        parts = []
        for c, kind in KINDS.items():
            steps = rng.choice([60, 300, 900, 3600, 5400, 20_000], size=n)
            ts = t[c] + np.cumsum(steps)
            t[c] = int(ts[-1])
            if kind == "index":
                value = level[c] + np.cumsum(rng.uniform(0, 5, n))
                level[c] = float(value[-1])
            else:
                value = rng.normal(20, 5, n)
            quality = rng.choice(
                [Quality.MEASURED, Quality.ESTIMATED, Quality.GAP], size=n, p=[0.8, 0.1, 0.1]
            ).astype("int64")
            value = np.where(quality == Quality.GAP, np.nan, value)
            parts.append(pd.DataFrame({"channel_id": c, "ts": ts, "value": value,
                                       "quality": quality}))  # fmt: skip
        out.append(pd.concat(parts, ignore_index=True))
    return out


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    sizes=st.lists(st.integers(1, 30), min_size=2, max_size=8),
    start=st.sampled_from([SPRING, AUTUMN]),
    seed=st.integers(0, 2**31),
)
def test_appended_flushes_merge_to_what_a_full_recompute_gives(engine, sizes, start, seed):
    _channels(engine)
    for frame in _flushes(sizes, start, np.random.default_rng(seed)):
        write_readings(engine, frame)
    merged = _rollups(engine)
    assert len(merged) and merged["covered_s"].notna().all()
    full = _full_recompute(engine)
    pd.testing.assert_frame_equal(merged, full, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_dtype=False)  # fmt: skip


def test_a_mid_day_flush_reads_back_one_reading_per_channel_not_the_day(engine):
    """The day already holds 12 h of minute readings; a flush of the next minute reads the
    last valid reading before it (and counts its own rows), not the 720 of the day."""
    _channels(engine)
    t0 = SPRING + 4 * 3600
    minutes = np.arange(720)
    day = pd.concat(
        [pd.DataFrame({"channel_id": c, "ts": t0 + 60 * minutes,
                       "value": 1000.0 + minutes if KINDS[c] == "index" else 19.0})
         for c in KINDS], ignore_index=True,
    )  # fmt: skip
    write_readings(engine, day)
    nxt = pd.DataFrame({"channel_id": list(KINDS), "ts": t0 + 60 * 720, "value": 2000.0})
    with ReadingReads(engine) as reads:
        write_readings(engine, nxt)
    assert reads.scans == []
    assert reads.rows <= 3 * len(KINDS), reads.log  # not the 720 readings of each channel
    merged = _rollups(engine)
    instant = merged[merged["channel_id"] == 3].iloc[-1]
    assert instant["n_readings"] == 721  # the flush merged into the day's 720
    assert instant["covered_s"] == COVER_CAP_S + 720 * 60
    pd.testing.assert_frame_equal(merged, _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_dtype=False)  # fmt: skip
