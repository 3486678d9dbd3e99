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


def yearly_energy(consumption_daily: pd.DataFrame) -> pd.DataFrame:
    """building_id, year, energy_kwh, complete: each building's final energy per calendar year
    from its channels' daily rollups (`channel_id`, `building_id`, `day`, `energy_kwh`). A year
    is complete when every final-energy channel of the building has all its days."""
    if consumption_daily.empty:
        return pd.DataFrame(columns=["building_id", "year", "energy_kwh", "complete"])
    day = pd.to_datetime(consumption_daily["day"])
    frame = consumption_daily.assign(year=day.dt.year)
    per_channel = frame.groupby(["building_id", "channel_id", "year"]).agg(
        energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)),
        days=("energy_kwh", "count"),
    )
    per_channel = per_channel.reset_index()
    leap = pd.to_datetime(per_channel["year"].astype(str) + "-12-31").dt.day_of_year
    per_channel["full"] = per_channel["days"] >= leap
    channels = frame.groupby("building_id")["channel_id"].nunique().rename("n_channels")
    out = per_channel.groupby(["building_id", "year"]).agg(
        energy_kwh=("energy_kwh", "sum"), n_full=("full", "sum")
    )
    out = out.join(channels, on="building_id")
    out["complete"] = out["n_full"] >= out["n_channels"]
    return out.reset_index()[["building_id", "year", "energy_kwh", "complete"]]


def reference_year_of(years: pd.DataFrame, declared: int | None) -> int | None:
    """The declared reference year, else the first complete year of data (`yearly_energy` of
    one building); None without any complete year."""
    if declared is not None:
        return int(declared)
    complete = years.loc[years["complete"].astype(bool), "year"]
    return int(complete.min()) if len(complete) else None


def assujetti(area_m2) -> bool:
    """The decree applies to tertiary floor area of 1,000 m² or more."""
    return area_m2 is not None and not pd.isna(area_m2) and float(area_m2) >= 1000.0


def building_trajectory(
    years: pd.DataFrame,
    dju_by_year: pd.Series,
    reference_year: int,
    reference_kwh: float | None = None,
    last_year: int | None = None,
) -> pd.DataFrame:
    """`tertiaire_trajectory` of one building from its `yearly_energy` (complete years only
    count) and its station's DJU per year, up to 2050; `reference_kwh` defaults to the
    reference year's consumption. Rows after `last_year` keep only their targets."""
    complete = years[years["complete"].astype(bool)].set_index("year")["energy_kwh"]
    if last_year is not None:
        complete = complete[complete.index <= last_year]
    ref_kwh = reference_kwh if reference_kwh is not None else complete.get(reference_year)
    if ref_kwh is None or pd.isna(ref_kwh):
        raise LookupError(
            f"aucune consommation complète pour l'année de référence {reference_year}"
        )
    out = tertiaire_trajectory(int(reference_year), float(ref_kwh), complete, dju_by_year)
    out["gap_pct"] = (out["adjusted_kwh"] - out["target_kwh"]) / out["target_kwh"] * 100.0
    out.attrs.update({"reference_year": int(reference_year), "reference_kwh": float(ref_kwh)})
    return out
