"""The engine's reports for the CLI and the dashboards: frames in, frames out.

What they read comes from the record (`carnet.frames`); each function composes the pure
modules (baselines, CUSUM, degree days, the Décret tertiaire) on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contract.baseline.changepoint import ChangePointModel, fit_changepoint
from contract.baseline.savings import SavingsResult, avoided_energy, monthly_table, predict_frame
from contract.baseline.sufficiency import Sufficiency, baseline_sufficiency
from contract.calendar import TZ_NAME
from contract.cusum import cusum_frame
from contract.degree_days import dju_per_period, station_dju
from contract.terms import ContractTerms, season_bounds, season_label
from contract.tertiaire import tertiaire_trajectory


@dataclass
class BaselineReport:
    channel_code: str
    station_code: str
    baseline: tuple[dt.date, dt.date]
    reporting: tuple[dt.date, dt.date]
    model: ChangePointModel
    sufficiency: Sufficiency
    savings: SavingsResult
    monthly: pd.DataFrame = field(repr=False)  # baseline and reporting months
    daily: pd.DataFrame = field(repr=False)  # day, segment, energy_kwh, temp_mean_c, predicted


def fit_baseline(
    frames, freq: str = "daily", cooling: bool = False, adjustments_kwh: float = 0.0
) -> BaselineReport:
    """IPMVP option C on one channel (`carnet.frames.baseline_frames`): fit on its baseline
    days, avoided energy on its reporting days."""
    base, rep = frames.baseline_days, frames.reporting_days
    model = fit_changepoint(base, freq=freq, cooling=cooling)
    result = avoided_energy(model, rep, adjustments_kwh)
    base_pred = predict_frame(model, base)
    monthly = pd.concat([monthly_table(base_pred, "baseline"), result.monthly], ignore_index=True)
    daily = pd.concat(
        [base_pred.assign(segment="baseline"), result.daily.assign(segment="reporting")],
        ignore_index=True,
    )
    return BaselineReport(
        channel_code=frames.channel_code,
        station_code=frames.station_code,
        baseline=frames.baseline,
        reporting=frames.reporting,
        model=model,
        sufficiency=baseline_sufficiency(base, *frames.baseline),
        savings=result,
        monthly=monthly,
        daily=daily,
    )


def energy_signature_frame(report: BaselineReport, freq: str = "monthly") -> pd.DataFrame:
    """Consumption against heating degree days at the model's balance temperature, baseline and
    reporting segments, with the fitted line: per month (or day) `energy_kwh`, `hdd`,
    `predicted_kwh`, `days`, `segment`, and the method in `attrs`."""
    model = report.model
    d = report.daily.dropna(subset=["energy_kwh", "temp_mean_c"]).copy()
    tb = model.balance_temp_c
    d["hdd"] = np.maximum(0.0, tb - d["temp_mean_c"]) if tb is not None else 0.0
    d["days"] = 1
    if freq == "monthly":
        d["period"] = pd.DatetimeIndex(d["day"]).to_period("M").astype(str)
        d = (
            d.groupby(["segment", "period"], sort=False)
            .agg(
                days=("days", "sum"),
                hdd=("hdd", "sum"),
                temp_mean_c=("temp_mean_c", "mean"),
                energy_kwh=("energy_kwh", "sum"),
                predicted_kwh=("predicted_kwh", "sum"),
            )
            .reset_index()
        )
    else:
        d["period"] = pd.DatetimeIndex(d["day"]).strftime("%Y-%m-%d")
    d.attrs.update(
        {
            "model": model.name,
            "balance_temp_c": tb,
            "station": report.station_code,
            "b0_kwh_per_day": model.b0_kwh_per_day,
            "b1_kwh_per_dd": model.b1_kwh_per_dd,
        }
    )
    return d[["segment", "period", "days", "hdd", "temp_mean_c", "energy_kwh", "predicted_kwh"]]


def baseline_cusum(report: BaselineReport, freq: str = "monthly") -> pd.DataFrame:
    """CUSUM of predicted - actual over the reporting period (per month or day)."""
    rep = report.daily[report.daily["segment"] == "reporting"]
    if freq == "monthly":
        table = monthly_table(rep, "reporting").rename(columns={"observed_kwh": "energy_kwh"})
        return cusum_frame(table)
    return cusum_frame(rep.dropna(subset=["energy_kwh", "predicted_kwh"]))


def degree_days(
    temperatures,
    station_id: int,
    station_code: str,
    day_from: dt.date,
    day_to: dt.date,
    method: str = "costic",
    base_c: float = 18.0,
    freq: str = "day",
) -> pd.DataFrame:
    """DJU of a station (its `carnet.frames.station_temperatures`, with hourly readings when
    the method is "hourly") per day (day, dju, tn_c, tx_c, source) or per month (month, dju,
    days)."""
    daily = station_dju(temperatures, station_id, day_from, day_to, method, base_c)
    daily.attrs.update({"method": method, "base_c": base_c, "station": station_code})
    if freq == "day":
        return daily
    monthly = dju_per_period(daily.set_index("day")["dju"]).reset_index()
    monthly["month"] = monthly["month"].astype(str)
    monthly.attrs.update(daily.attrs)
    return monthly


def carpet_frame(
    energy: pd.DataFrame, channel_code: str, day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """Hourly consumption (kWh PCS) as local date x hour of day (0..23), for a carpet plot,
    from a channel's consumption per reading (`carnet.frames.channel_energy`: `ts`,
    `energy_kwh`).

    An index increment belongs to the local hour it starts in; the 25-hour October day adds
    both 02:00 hours together, the 23-hour March day has no 02:00 (NaN).
    """
    local = pd.to_datetime(energy["ts"].to_numpy(), unit="s", utc=True).tz_convert(TZ_NAME)
    frame = pd.DataFrame(
        {
            "date": local.tz_localize(None).normalize(),
            "hour": local.hour,
            "energy_kwh": energy["energy_kwh"].to_numpy(dtype=float),
        }
    )
    days = pd.date_range(day_from, day_to, freq="D", name="date")
    carpet = frame.pivot_table(
        index="date", columns="hour", values="energy_kwh", aggfunc="sum", dropna=False
    )
    carpet = carpet.reindex(index=days, columns=range(24))
    carpet.columns.name = "hour"
    carpet.attrs.update({"channel": channel_code, "unit": "kWh PCS"})
    return carpet


def baseline_models(
    rollups: pd.DataFrame,
    temp_mean_c: pd.Series,
    channel_ids: dict[str, int],
    baseline: tuple[dt.date, dt.date],
    freq: str = "daily",
) -> dict[str, tuple[ChangePointModel | None, Sufficiency]]:
    """The baseline model (None if it cannot be fitted) and data sufficiency of many channels
    of one station, from their rollups and the station's daily mean temperature over the
    baseline: one small regression per channel (a portfolio's model-quality column). Same fit
    as `fit_baseline`."""
    days = pd.date_range(*baseline, freq="D", name="day")
    energy = rollups["energy_kwh"].where(rollups["energy_kwh"].notna(), rollups["value"])
    key = pd.MultiIndex.from_arrays([rollups["channel_id"].to_numpy(), rollups["day"]])
    wide = pd.Series(energy.to_numpy(), index=key).groupby(level=[0, 1]).last().unstack(0)
    wide = wide.reindex(days)
    temp = temp_mean_c.reindex(days).to_numpy()
    out = {}
    for name, cid in channel_ids.items():  # one regression per channel, a dozen per contract
        values = wide[cid].to_numpy() if cid in wide.columns else np.full(len(days), np.nan)
        daily = pd.DataFrame({"day": days, "energy_kwh": values, "temp_mean_c": temp})
        try:
            model = fit_changepoint(daily, freq=freq)
        except ValueError:
            model = None
        out[name] = (model, baseline_sufficiency(daily, *baseline))
    return out


def seasons_with_data(terms: ContractTerms, span: tuple[dt.date, dt.date] | None) -> list[str]:
    """The heating seasons of a contract that its consumption channels have data in
    (`span`: their first and last day with a rollup, `carnet.frames.rollup_span`), latest
    first (what a season selector offers)."""
    if span is None:
        return []
    first, last = span
    seasons = []
    for year in range(last.year, first.year - 2, -1):  # a handful of years
        label = season_label(year)
        s_from, s_to = season_bounds(label, terms.season_start, terms.season_end)
        if s_from <= last and s_to >= first:
            seasons.append(label)
    return seasons


def tertiaire_building(terms: ContractTerms, building_code: str):
    """The contract building whose Décret tertiaire trajectory is asked for, and the complete
    past calendar years to read for it (first, last day; first > last when there is none)."""
    bt = next((b for b in terms.buildings if b.building_code == building_code), None)
    if bt is None:
        raise LookupError(f"le bâtiment {building_code} ne fait pas partie du contrat")
    if bt.reference_year is None or bt.reference_kwh is None:
        raise LookupError(f"{building_code} : année et consommation de référence non renseignées")
    this_year = pd.Timestamp.now(tz=TZ_NAME).year
    return bt, dt.date(bt.reference_year, 1, 1), dt.date(this_year - 1, 12, 31)


def tertiaire_frame(
    terms: ContractTerms,
    building_code: str,
    rollups: pd.DataFrame | None = None,
    temperatures=None,
    heating_share: float = 1.0,
    until: int = 2050,
) -> pd.DataFrame:
    """Décret tertiaire trajectory of a contract building from its reference year and kWh
    (contract terms), with each complete past calendar year's consumption (kWh PCS: the
    building channel's `rollups` over `tertiaire_building`'s days) and its climate adjustment
    by the contract's DJU (method, base; the building station's `temperatures`)."""
    bt, first, last = tertiaire_building(terms, building_code)
    actual = pd.Series(dtype=float)
    dju_year = pd.Series(dtype=float)
    if first <= last:
        years = rollups["day"].dt.year
        per_year = rollups.groupby(years)["energy_kwh"].agg(["sum", "count"])
        days_in_year = pd.Series(
            [366 if pd.Timestamp(y, 1, 1).is_leap_year else 365 for y in per_year.index],
            index=per_year.index,
        )  # one value per year
        actual = per_year["sum"].where(per_year["count"] >= days_in_year)
        if bt.station_id is not None:
            dju = station_dju(
                temperatures, bt.station_id, first, last, terms.dju_method, terms.dju_base_c
            )
            dju_year = dju.groupby(pd.DatetimeIndex(dju["day"]).year)["dju"].sum()
    out = tertiaire_trajectory(
        bt.reference_year, bt.reference_kwh, actual, dju_year, heating_share, until
    )
    out.attrs.update(
        {"building": building_code, "method": terms.dju_method, "base_c": terms.dju_base_c}
    )
    return out
