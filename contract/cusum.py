"""CUSUM of (predicted - actual): the slope changes when savings start or stop."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cusum(predicted, actual) -> pd.Series:
    """Running sum of predicted - actual (positive and rising = saving). Periods where either
    is missing add nothing, so a gap flattens the curve instead of breaking it."""
    pred = pd.Series(predicted, dtype="float64")
    act = pd.Series(actual, dtype="float64")
    if isinstance(predicted, pd.Series):
        act.index = pred.index
    diff = (pred - act).where(pred.notna() & act.notna(), 0.0)
    out = diff.cumsum()
    out.name = "cusum"
    return out


def cusum_frame(frame: pd.DataFrame, predicted: str = "predicted_kwh", actual: str = "energy_kwh"):
    """The frame with `difference` and `cusum` columns added (sorted as given)."""
    out = frame.copy()
    out["difference"] = (out[predicted] - out[actual]).astype("float64")
    out["cusum"] = cusum(out[predicted], out[actual]).to_numpy()
    return out


def turning_points(series: pd.Series, min_run: int = 3) -> pd.Index:
    """Where the CUSUM's trend changes sign and keeps it for `min_run` periods."""
    step = np.sign(np.diff(np.asarray(series, dtype=float), prepend=0.0))
    s = pd.Series(step, index=series.index)
    run = s.groupby((s != s.shift()).cumsum()).transform("size")
    change = (s != s.shift()) & (run >= min_run) & (s != 0)
    return series.index[change.to_numpy()][1:]
