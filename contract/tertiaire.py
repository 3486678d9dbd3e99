"""Décret tertiaire: -40 % (2030), -50 % (2040), -60 % (2050) of final energy against a
reference year, for tertiary buildings over 1,000 m², climate-adjusted.

The climate adjustment applies to the heating share of consumption: a year colder than the
reference year is brought back to the reference year's DJU,
`adjusted = actual * ((1 - h) + h * DJU_ref_year / DJU_year)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MILESTONES = {2030: 0.40, 2040: 0.50, 2050: 0.60}


def target_reduction(years, reference_year: int) -> np.ndarray:
    """Required reduction each year: linear from 0 at the reference year to each milestone."""
    ys = np.asarray(years, dtype=float)
    xp = np.array([reference_year, *MILESTONES.keys()], dtype=float)
    fp = np.array([0.0, *MILESTONES.values()])
    return np.interp(ys, xp, fp)


def climate_adjusted(actual_kwh, dju_year, dju_reference_year: float, heating_share: float = 1.0):
    actual = np.asarray(actual_kwh, dtype=float)
    ratio = dju_reference_year / np.asarray(dju_year, dtype=float)
    return actual * ((1.0 - heating_share) + heating_share * ratio)


def tertiaire_trajectory(
    reference_year: int,
    reference_kwh: float,
    actual_kwh_by_year: pd.Series | None = None,
    dju_by_year: pd.Series | None = None,
    heating_share: float = 1.0,
    until: int = 2050,
) -> pd.DataFrame:
    """year, reduction_pct, target_kwh, actual_kwh, dju, adjusted_kwh, on_track.

    `actual_kwh_by_year` and `dju_by_year` are indexed by calendar year; the reference year's
    DJU is the one of `dju_by_year` at `reference_year` (no adjustment when unknown).
    """
    years = pd.Index(range(reference_year, until + 1), name="year")
    reduction = target_reduction(years, reference_year)
    out = pd.DataFrame(
        {"reduction_pct": reduction * 100.0, "target_kwh": reference_kwh * (1.0 - reduction)},
        index=years,
    )
    actual = actual_kwh_by_year if actual_kwh_by_year is not None else pd.Series(dtype=float)
    dju = dju_by_year if dju_by_year is not None else pd.Series(dtype=float)
    out["actual_kwh"] = actual.reindex(years).astype("float64")
    out["dju"] = dju.reindex(years).astype("float64")
    dju_ref = dju.get(reference_year, np.nan)
    if np.isfinite(dju_ref):
        out["adjusted_kwh"] = climate_adjusted(
            out["actual_kwh"], out["dju"], dju_ref, heating_share
        )
    else:
        out["adjusted_kwh"] = out["actual_kwh"]
    out["on_track"] = (out["adjusted_kwh"] <= out["target_kwh"]).where(out["adjusted_kwh"].notna())
    return out.reset_index()
