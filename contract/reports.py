"""The engine's entry points for the CLI and the dashboards: engine in, frames out.

Each function loads through `contract.load` and hands the frames to the pure modules; nothing
here computes a figure itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from carnet.models import ChannelKind
from carnet.store import index_increments
from carnet.timeutil import TZ_NAME, local_day_bounds
from contract import load
from contract.baseline.changepoint import ChangePointModel, fit_changepoint
from contract.baseline.savings import SavingsResult, avoided_energy, monthly_table, predict_frame
from contract.baseline.sufficiency import Sufficiency, baseline_sufficiency
from contract.cusum import cusum_frame
from contract.degree_days import dju_per_period
from contract.settlement import SettlementReport, settle


def settle_contract(
    engine: Engine,
    contract_code: str,
    season: str,
    month: str | None = None,
    as_of: dt.date | None = None,
) -> SettlementReport:
    """Settle a contract's season (or one month of it) up to `as_of` (default: yesterday,
    the last complete local day)."""
    terms, rollups, dju_daily, adjustments = load.load_settlement_inputs(
        engine, contract_code, season
    )
    if as_of is None:  # yesterday: today's consumption is still partial
        as_of = pd.Timestamp.now(tz=TZ_NAME).date() - dt.timedelta(days=1)
    return settle(terms, season, rollups, dju_daily, adjustments, month=month, as_of=as_of)


def energy_and_temperature(
    engine: Engine, channel_id: int, station_id: int, day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """day, energy_kwh (PCS; the channel's unit when it is not an energy), temp_mean_c."""
    roll = load.load_rollups(engine, [channel_id], day_from, day_to)
    days = pd.date_range(day_from, day_to, freq="D", name="day")
    r = roll.set_index("day")
    energy = r["energy_kwh"].where(r["energy_kwh"].notna(), r["value"]).reindex(days)
    _, _, mean_c = load.load_station_temperatures(engine, station_id, day_from, day_to)
    return pd.DataFrame(
        {"day": days, "energy_kwh": energy.to_numpy(), "temp_mean_c": mean_c.reindex(days)}
    ).reset_index(drop=True)


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
    engine: Engine,
    channel_code: str,
    station_code: str,
    baseline: tuple[dt.date, dt.date],
    reporting: tuple[dt.date, dt.date],
    freq: str = "daily",
    cooling: bool = False,
    adjustments_kwh: float = 0.0,
) -> BaselineReport:
    """IPMVP option C on one channel: fit on `baseline`, avoided energy on `reporting`."""
    channel = load.channel_by_code(engine, channel_code)
    station = load.station_by_code(engine, station_code)
    base = energy_and_temperature(engine, channel.id, station.id, *baseline)
    rep = energy_and_temperature(engine, channel.id, station.id, *reporting)
    model = fit_changepoint(base, freq=freq, cooling=cooling)
    result = avoided_energy(model, rep, adjustments_kwh)
    base_pred = predict_frame(model, base)
    monthly = pd.concat([monthly_table(base_pred, "baseline"), result.monthly], ignore_index=True)
    daily = pd.concat(
        [base_pred.assign(segment="baseline"), result.daily.assign(segment="reporting")],
        ignore_index=True,
    )
    return BaselineReport(
        channel_code=channel_code,
        station_code=station_code,
        baseline=baseline,
        reporting=reporting,
        model=model,
        sufficiency=baseline_sufficiency(base, *baseline),
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
    engine: Engine,
    station_code: str,
    day_from: dt.date,
    day_to: dt.date,
    method: str = "costic",
    base_c: float = 18.0,
    freq: str = "day",
) -> pd.DataFrame:
    """DJU of a station per day (day, dju, tn_c, tx_c, source) or per month (month, dju, days)."""
    station = load.station_by_code(engine, station_code)
    daily = load.load_station_dju(engine, station.id, day_from, day_to, method, base_c)
    daily.attrs.update({"method": method, "base_c": base_c, "station": station_code})
    if freq == "day":
        return daily
    monthly = dju_per_period(daily.set_index("day")["dju"]).reset_index()
    monthly["month"] = monthly["month"].astype(str)
    monthly.attrs.update(daily.attrs)
    return monthly


def carpet_frame(
    engine: Engine, channel_code: str, day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """Hourly consumption (kWh PCS) as local date x hour of day (0..23), for a carpet plot.

    An index increment belongs to the local hour it starts in; the 25-hour October day adds
    both 02:00 hours together, the 23-hour March day has no 02:00 (NaN). The channel's default
    conversion factor is used (periodic coefficients change it by a few percent at most).
    """
    channel = load.channel_by_code(engine, channel_code)
    ts_from, ts_to = local_day_bounds(day_from, day_to)
    raw = load.load_readings(engine, channel.id, ts_from, ts_to + 1)
    if channel.kind == ChannelKind.INDEX:
        inc = index_increments(raw, channel.modulus)
        ts, values = inc["t0"].to_numpy(), inc["delta"].to_numpy(dtype=float)
    else:
        ts, values = raw["ts"].to_numpy(), raw["value"].to_numpy(dtype=float)
    keep = (ts >= ts_from) & (ts < ts_to)
    ts, values = ts[keep], values[keep]
    factor = channel.kwh_per_unit
    if factor is None:
        factor = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}.get((channel.unit or "").lower(), 1.0)
    local = pd.to_datetime(ts, unit="s", utc=True).tz_convert(TZ_NAME)
    frame = pd.DataFrame(
        {
            "date": local.tz_localize(None).normalize(),
            "hour": local.hour,
            "energy_kwh": values * float(factor),
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
    engine: Engine,
    channel_ids: dict[str, int],
    station_id: int,
    baseline: tuple[dt.date, dt.date],
    freq: str = "daily",
) -> dict[str, tuple[ChangePointModel | None, Sufficiency]]:
    """The baseline model (None if it cannot be fitted) and data sufficiency of many channels
    of one station: one query for their rollups and one for the temperatures, then one small
    regression per channel (a portfolio's model-quality column). Same fit as `fit_baseline`."""
    days = pd.date_range(*baseline, freq="D", name="day")
    roll = load.load_rollups(engine, list(channel_ids.values()), *baseline)
    energy = roll["energy_kwh"].where(roll["energy_kwh"].notna(), roll["value"])
    key = pd.MultiIndex.from_arrays([roll["channel_id"].to_numpy(), roll["day"]])
    wide = pd.Series(energy.to_numpy(), index=key).groupby(level=[0, 1]).last().unstack(0)
    wide = wide.reindex(days)
    _, _, mean_c = load.load_station_temperatures(engine, station_id, *baseline)
    temp = mean_c.reindex(days).to_numpy()
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


def contract_seasons(engine: Engine, contract_code: str) -> list[str]:
    """The heating seasons of a contract that its consumption channels have data in, latest
    first (what a season selector offers)."""
    from sqlalchemy import func, select

    from carnet.models import DailyRollup
    from contract.terms import season_bounds, season_label

    terms = load.load_contract_terms(engine, contract_code)
    ids = sorted({bt.channel_id for bt in terms.buildings if bt.channel_id is not None})
    if not ids:
        return []
    t = DailyRollup.__table__
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(t.c.day), func.max(t.c.day)).where(t.c.channel_id.in_(ids))
        ).one()
    if first is None:
        return []
    first, last = pd.Timestamp(first).date(), pd.Timestamp(last).date()
    seasons = []
    for year in range(last.year, first.year - 2, -1):  # a handful of years
        label = season_label(year)
        s_from, s_to = season_bounds(label, terms.season_start, terms.season_end)
        if s_from <= last and s_to >= first:
            seasons.append(label)
    return seasons


def tertiaire_frame(
    engine: Engine,
    contract_code: str,
    building_code: str,
    heating_share: float = 1.0,
    until: int = 2050,
) -> pd.DataFrame:
    """Décret tertiaire trajectory of a contract building from its reference year and kWh
    (contract terms), with each complete past calendar year's consumption (kWh PCS) and its
    climate adjustment by the contract's DJU (method, base, station)."""
    from contract.tertiaire import tertiaire_trajectory

    terms = load.load_contract_terms(engine, contract_code)
    bt = next((b for b in terms.buildings if b.building_code == building_code), None)
    if bt is None:
        raise LookupError(f"le bâtiment {building_code} ne fait pas partie du contrat")
    if bt.reference_year is None or bt.reference_kwh is None:
        raise LookupError(f"{building_code} : année et consommation de référence non renseignées")
    this_year = pd.Timestamp.now(tz=TZ_NAME).year
    first, last = dt.date(bt.reference_year, 1, 1), dt.date(this_year - 1, 12, 31)
    actual = pd.Series(dtype=float)
    dju_year = pd.Series(dtype=float)
    if first <= last:
        roll = load.load_rollups(engine, [bt.channel_id], first, last)
        years = roll["day"].dt.year
        per_year = roll.groupby(years)["energy_kwh"].agg(["sum", "count"])
        days_in_year = pd.Series(
            [366 if pd.Timestamp(y, 1, 1).is_leap_year else 365 for y in per_year.index],
            index=per_year.index,
        )  # one value per year
        actual = per_year["sum"].where(per_year["count"] >= days_in_year)
        if bt.station_id is not None:
            dju = load.load_station_dju(
                engine, bt.station_id, first, last, terms.dju_method, terms.dju_base_c
            )
            dju_year = dju.groupby(pd.DatetimeIndex(dju["day"]).year)["dju"].sum()
    out = tertiaire_trajectory(
        bt.reference_year, bt.reference_kwh, actual, dju_year, heating_share, until
    )
    out.attrs.update(
        {"building": building_code, "method": terms.dju_method, "base_c": terms.dju_base_c}
    )
    return out
