"""The day figures of sample channels (`carnet.increments._sample_daily`, reduced over runs of
rows) against the plain statement of them: each valid reading's Paris date and cover, grouped
by channel and day. Exactly the same figures, sums to the last bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.increments import COVER_CAP_S, _sample_daily
from carnet.kinds import Quality

MARCH_2025_S = 1_742_774_400  # 24/03/2025 00:00 UTC: the summer-time change within reach


def _plainly(readings: pd.DataFrame, prev: pd.Series | None) -> pd.DataFrame:
    valid = readings[readings["value"].notna()].sort_values(["channel_id", "ts"], kind="stable")
    before = valid.groupby("channel_id")["ts"].shift()
    if prev is not None:
        before = before.fillna(valid["channel_id"].map(prev))
    cover = (valid["ts"] - before).fillna(COVER_CAP_S).clip(upper=COVER_CAP_S)
    day = pd.to_datetime(valid["ts"], unit="s", utc=True).dt.tz_convert("Europe/Paris")
    frame = valid.assign(
        day=day.dt.tz_localize(None).dt.floor("D"),
        cover=cover.astype(float),
        est=valid["quality"] == Quality.ESTIMATED,
    )
    grouped = frame.groupby(["channel_id", "day"])
    return pd.DataFrame(
        {
            "value_sum": grouped["value"].sum(),
            "min_value": grouped["value"].min(),
            "max_value": grouped["value"].max(),
            "n_readings": grouped["value"].size(),
            "covered_s": grouped["cover"].sum(),
            "estimated": grouped["est"].any(),
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    channels=st.integers(1, 4),
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    shuffled=st.booleans(),
    with_prev=st.booleans(),
)
def test_day_figures_are_the_plain_grouping(channels, n, seed, shuffled, with_prev):
    rng = np.random.default_rng(seed)
    ch = np.sort(rng.integers(1, channels + 1, n))
    ts = np.empty(n, dtype="int64")
    for c in np.unique(ch):
        at = ch == c
        steps = rng.choice([1, 60, 600, 3600, 5400, 40_000, 90_000], size=at.sum())
        ts[at] = MARCH_2025_S - 3 * 86_400 + np.cumsum(steps)
    value = rng.normal(20, 5, n) * rng.choice([1.0, 1e-7, 1e9], n)  # sums that round
    value[rng.random(n) < 0.1] = np.nan
    readings = pd.DataFrame(
        {"channel_id": ch, "ts": ts, "value": value, "quality": rng.choice([0, 1, 2], n)}
    )
    if shuffled:
        readings = readings.sample(frac=1, random_state=seed % 2**31)
    prev = None
    if with_prev:
        prev = pd.Series(MARCH_2025_S - 4 * 86_400 + rng.integers(0, 86_400, channels),
                         index=np.arange(1, channels + 1), dtype="float64")  # fmt: skip
    ours = _sample_daily(readings, prev)
    plain = _plainly(readings, prev)
    if not len(plain):
        assert not len(ours)
        return
    ours = ours.set_axis(
        ours.index.set_levels(pd.to_datetime(ours.index.levels[1]), level=1)
    )  # the plain days are timestamps
    pd.testing.assert_frame_equal(ours, plain, check_exact=True, check_dtype=False,
                                  check_index_type=False)  # fmt: skip
