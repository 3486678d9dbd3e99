"""Data of the portfolio page (`/portefeuille`): the buildings and channels in the user's
scope with their last reading, and over the selected period (the current heating season by
default) each building's final-energy consumption, kWh/m², kWh/m²/DJU, rank and Décret
tertiaire standing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from carnet import frames
from carnet.access import Scope
from carnet.building_facts import building_facts
from carnet.db import session_scope
from carnet.kinds import ChannelKind
from carnet.quantities import quantity_labels
from carnet.queries import channels_frame, portfolio_overview
from contract.calendar import today as local_today
from contract.default_periods import PeriodStatus, current_season, season_status, year_status
from contract.portfolio_energy import building_intensity, channel_consumption
from contract.terms import SEASON_END, SEASON_START, parse_season, season_bounds, season_label
from dashboards.cache import cached
from dashboards.energy_data import energy_rollups, station_dju_totals

SEASON, YEAR = "saison", "annee"


def portfolio_frame(engine: Engine, scope: Scope) -> pd.DataFrame:
    """`carnet.queries.portfolio_overview` limited to the scope's buildings, each channel with
    its quantity's French label (built-in or declared by the town)."""
    ids = scope.building_filter
    frame = portfolio_overview(engine, building_ids=None if ids is None else sorted(ids))
    with session_scope(engine) as s:
        labels = quantity_labels(s)
    frame["quantity_label"] = frame["quantity"].map(labels).fillna(frame["quantity"])
    return frame


def period_choices(today: dt.date | None = None) -> tuple[list[dict], str]:
    """The current heating season and the three before it, then the current calendar year and
    the three before it; and the one to open on: the current season."""
    today = today or local_today()
    season = parse_season(current_season(SEASON_START, SEASON_END, today))
    out = [
        {"label": f"Saison {season_label(y).replace('-', '–')}", "value": f"{SEASON}:{season_label(y)}"}
        for y in range(season, season - 4, -1)
    ]  # fmt: skip
    out += [
        {"label": f"Année {y}", "value": f"{YEAR}:{y}"} for y in range(today.year, today.year - 4, -1)
    ]  # fmt: skip
    return out, out[0]["value"]


def period_bounds(period: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Inclusive local days of a period value (« saison:2026-2027 », « annee:2025 »), cut at the
    last complete day."""
    today = today or local_today()
    kind, _, what = str(period).partition(":")
    if kind == SEASON:
        first, last = season_bounds(what, SEASON_START, SEASON_END)
    elif kind == YEAR and what.isdigit():
        first, last = dt.date(int(what), 1, 1), dt.date(int(what), 12, 31)
    else:
        raise ValueError(f"période illisible « {period} »")
    return first, min(last, today - dt.timedelta(days=1))


def _status(period: str, today: dt.date, last_data_day: dt.date | None) -> PeriodStatus:
    kind, _, what = period.partition(":")
    if kind == SEASON:
        return season_status(what, today, last_data_day, SEASON_START, SEASON_END)
    return year_status(int(what), today, last_data_day)


@dataclass(frozen=True)
class PortfolioEnergy:
    """Over one period: `buildings` (building_intensity's columns with the building's codes,
    one `status` per building), `channels` (channel_consumption), the period's status."""

    period: str
    day_from: dt.date
    day_to: dt.date
    buildings: pd.DataFrame
    channels: pd.DataFrame
    status: PeriodStatus
    building_status: dict


def portfolio_energy(
    engine: Engine, scope: Scope, period: str, today: dt.date | None = None
) -> PortfolioEnergy:
    """Consumption of the scope's buildings over `period`, once per data version. Shared and
    cached: never mutate what it returns."""
    today = today or local_today()
    first, last = period_bounds(period, today)
    ids = scope.building_filter
    key = (None if ids is None else tuple(sorted(ids)), period, today)
    return cached(
        engine, "portfolio-energy", key,
        lambda: _portfolio_energy(engine, ids, period, first, last, today),
    )  # fmt: skip


def _portfolio_energy(engine, ids, period, first, last, today) -> PortfolioEnergy:
    facts = building_facts(engine, ids)
    channels, roll = energy_rollups(engine, facts["building_id"].tolist(), first, last)
    consumption = channel_consumption(roll, channels)
    counters = _other_counters(engine, facts["building_id"], channels["channel_id"])
    others = channel_consumption(
        frames.rollups(engine, counters["channel_id"].tolist(), first, last), counters
    )  # burner hours, water: their own unit over the period, never their index
    dju = station_dju_totals(engine, facts["station_id"].dropna().tolist(), first, last)
    buildings = facts.assign(area_m2=facts["heated_area_m2"])
    intensity = building_intensity(
        consumption, buildings[["building_id", "area_m2", "station_id"]], dju
    )
    intensity = buildings.drop(columns=["area_m2", "station_id"]).merge(
        intensity, on="building_id", how="left"
    )
    last_day = consumption.groupby("building_id")["last_day"].min()
    status_of = {
        int(bid): _status(period, today, None if pd.isna(d) else pd.Timestamp(d).date())
        for bid, d in last_day.items()
    }  # one per building (a few dozen)
    overall = last_day.dropna().max() if len(last_day.dropna()) else None
    overall_day = None if overall is None else pd.Timestamp(overall).date()
    return PortfolioEnergy(
        period, first, last, intensity, pd.concat([consumption, others], ignore_index=True),
        _status(period, today, overall_day), status_of,
    )  # fmt: skip


def _other_counters(engine: Engine, building_ids: pd.Series, energy_ids: pd.Series):
    """The buildings' index and interval channels that are no final energy (carrier None)."""
    chans = channels_frame(engine)
    keep = (
        chans["building_id"].isin(building_ids)
        & chans["kind"].isin([ChannelKind.INDEX, ChannelKind.INTERVAL])
        & ~chans["id"].isin(energy_ids)
    )
    out = chans[keep].rename(columns={"id": "channel_id"})
    return out.assign(carrier=None)[["channel_id", "building_id", "carrier"]]
