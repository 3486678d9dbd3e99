"""Avoided energy (IPMVP option C): the baseline model on the reporting period's weather,
minus what was measured, plus or minus non-routine adjustments; and normal-year consumption."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contract.baseline import metrics
from contract.baseline.changepoint import ChangePointModel, usable_days


@dataclass(frozen=True)
class SavingsResult:
    observed_kwh: float
    predicted_kwh: float
    adjustments_kwh: float
    savings_kwh: float
    savings_pct: float  # percent of the adjusted baseline
    fsu: float  # fraction, at 90 % confidence
    m: int  # reporting points (days or months)
    days_used: int
    monthly: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)
    daily: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)

    @property
    def fsu_ok(self) -> bool:
        return bool(np.isfinite(self.fsu) and abs(self.fsu) <= metrics.FSU_MAX)


def predict_frame(model: ChangePointModel, daily: pd.DataFrame) -> pd.DataFrame:
    """day, energy_kwh (observed, may be NaN), temp_mean_c, predicted_kwh (NaN without weather)."""
    frame = daily[["day", "energy_kwh", "temp_mean_c"]].copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.normalize()
    frame["predicted_kwh"] = model.predict_daily(frame["temp_mean_c"])
    return frame.sort_values("day").reset_index(drop=True)


def monthly_table(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """Per local month: observed and predicted over the days that have both."""
    both = frame.dropna(subset=["energy_kwh", "predicted_kwh"])
    g = both.groupby(pd.DatetimeIndex(both["day"]).to_period("M"))
    out = pd.DataFrame(
        {
            "days": g.size(),
            "temp_mean_c": g["temp_mean_c"].mean(),
            "observed_kwh": g["energy_kwh"].sum(),
            "predicted_kwh": g["predicted_kwh"].sum(),
        }
    )
    out["savings_kwh"] = out["predicted_kwh"] - out["observed_kwh"]
    out.index = out.index.astype(str)
    out.index.name = "month"
    out.insert(0, "period", period)
    return out.reset_index()


def avoided_energy(
    model: ChangePointModel, reporting: pd.DataFrame, adjustments_kwh: float = 0.0
) -> SavingsResult:
    """Savings = adjusted baseline - actual + adjustments, over reporting days with data."""
    frame = predict_frame(model, reporting)
    both = usable_days(frame).merge(frame[["day", "predicted_kwh"]], on="day")
    observed = float(both["energy_kwh"].sum())
    predicted = float(both["predicted_kwh"].sum())
    savings = predicted - observed + adjustments_kwh
    fraction = savings / predicted if predicted else float("nan")
    monthly = monthly_table(frame, "reporting")
    m = len(both) if model.freq == "daily" else len(monthly)
    fsu = metrics.fractional_savings_uncertainty(
        model.cvrmse, model.n, model.p, m, fraction, model.rho
    )
    return SavingsResult(
        observed_kwh=observed,
        predicted_kwh=predicted,
        adjustments_kwh=adjustments_kwh,
        savings_kwh=savings,
        savings_pct=fraction * 100.0,
        fsu=fsu,
        m=m,
        days_used=len(both),
        monthly=monthly,
        daily=frame,
    )


def typical_year_temperatures(temp_mean_c: pd.Series) -> pd.Series:
    """Mean temperature per day of year (1..365) over the years given: a local normal year."""
    idx = pd.DatetimeIndex(temp_mean_c.index)
    doy = np.minimum(idx.day_of_year - ((idx.is_leap_year) & (idx.day_of_year > 59)), 365)
    return temp_mean_c.groupby(np.asarray(doy)).mean().rename_axis("day_of_year")


def normal_year_kwh(model: ChangePointModel, normal_temp_mean_c) -> float:
    """Consumption of a normal (typical) year: the model on its 365 daily mean temperatures."""
    return float(np.nansum(model.predict_daily(np.asarray(normal_temp_mean_c, dtype=float))))
