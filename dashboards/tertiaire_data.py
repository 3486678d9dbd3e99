"""Décret tertiaire of buildings: per calendar year the final energy of every carrier (the
building's final-energy channels), the station's DJU, the climate-adjusted consumption against
the -40/-50/-60 % trajectory (`contract.tertiaire`), for the building page, the portfolio
column and the OPERAT export.

The reference year is the building's declared one (portfolio file `tertiaire_reference_year`),
else its contract's `reference_year`, else the first complete calendar year of data; its kWh
are measured (the contract's `reference_kwh` only when that year has no complete data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine

from carnet import frames
from carnet.access import Scope
from carnet.building_facts import building_facts
from carnet.energy_carriers import final_energy_channels
from contract.calendar import today as local_today
from contract.tertiaire import assujetti, building_trajectory, reference_year_of, yearly_energy
from dashboards.cache import cached
from dashboards.energy_data import energy_rollups, station_daily_dju

EARLIEST_YEAR = 2010  # the decree accepts reference years from 2010


@dataclass
class Tertiaire:
    """One building: its facts, yearly figures per carrier, and the trajectory (None with no
    reference year or no reference consumption; `why` says which)."""

    building_id: int
    building_code: str
    building_name: str
    area_m2: float | None
    assujetti: bool
    activity: str | None
    reference_year: int | None
    reference_source: str  # « déclarée », « contrat », « première année complète », ""
    years: pd.DataFrame  # year, energy_kwh, complete, energy_kwh_<carrier>..., dju
    trajectory: pd.DataFrame | None
    last_year: int  # the last complete calendar year (today's year - 1)
    why: str = ""
    latest: dict = field(default_factory=dict)  # last complete year's row of the trajectory


def tertiaire_of(
    engine: Engine, scope: Scope, today: dt.date | None = None, building_code: str | None = None
) -> dict[str, Tertiaire]:
    """Building code -> Tertiaire, for the scope's buildings (or the one `building_code`,
    which must be in scope). Once per data version."""
    today = today or local_today()
    ids = scope.building_filter
    key = (None if ids is None else tuple(sorted(ids)), building_code, today)
    return cached(engine, "tertiaire", key, lambda: _tertiaire(engine, ids, today, building_code))


def _tertiaire(engine, ids, today: dt.date, building_code: str | None) -> dict[str, Tertiaire]:
    facts = building_facts(engine, ids)
    if building_code is not None:
        facts = facts[facts["building_code"] == building_code]
    last_year = today.year - 1
    all_channels = final_energy_channels(engine, facts["building_id"].tolist())
    span = frames.rollup_span(engine, all_channels["channel_id"].tolist())
    first_year = max(EARLIEST_YEAR, span[0].year) if span else last_year + 1
    day_from, day_to = dt.date(first_year, 1, 1), dt.date(last_year, 12, 31)
    out: dict[str, Tertiaire] = {}
    if day_from <= day_to:
        channels, roll = energy_rollups(engine, facts["building_id"].tolist(), day_from, day_to)
        roll = roll.merge(channels[["channel_id", "carrier"]], on="channel_id", how="left")
        dju_daily = station_daily_dju(
            engine, facts["station_id"].dropna().tolist(), day_from, day_to
        )
    else:
        roll = pd.DataFrame(columns=["channel_id", "building_id", "day", "energy_kwh", "carrier"])
        dju_daily = pd.DataFrame(columns=["station_id", "day", "dju"])
    yearly = yearly_energy(roll[["channel_id", "building_id", "day", "energy_kwh"]])
    if len(roll):
        year = pd.to_datetime(roll["day"]).dt.year.rename("year")
        carriers = (
            roll.groupby(["building_id", year, "carrier"])["energy_kwh"].sum().unstack("carrier")
        ).add_prefix("energy_kwh_")
        yearly = yearly.join(carriers, on=["building_id", "year"])
    dju_year = pd.Series(dtype=float)
    if len(dju_daily):
        dju_year = dju_daily.groupby(
            [dju_daily["station_id"], pd.to_datetime(dju_daily["day"]).dt.year.rename("year")]
        )["dju"].sum()
    for f in facts.itertuples(index=False):
        out[f.building_code] = _one(f, yearly, dju_year, last_year)
    return out


def _one(f, yearly: pd.DataFrame, dju_year: pd.Series, last_year: int) -> Tertiaire:
    area = f.tertiary_area_m2 if pd.notna(f.tertiary_area_m2) else f.heated_area_m2
    area = None if area is None or pd.isna(area) else float(area)
    years = yearly[yearly["building_id"] == f.building_id].drop(columns="building_id")
    dju = pd.Series(dtype=float)
    if pd.notna(f.station_id) and len(dju_year):
        station = dju_year[dju_year.index.get_level_values(0) == int(f.station_id)]
        dju = station.droplevel(0)
    years = years.assign(dju=years["year"].map(dju)).reset_index(drop=True)
    declared = f.tertiaire_reference_year if pd.notna(f.tertiaire_reference_year) else None
    contract_year = f.contract_reference_year if pd.notna(f.contract_reference_year) else None
    ref = reference_year_of(years, declared if declared is not None else contract_year)
    source = (
        "déclarée" if declared is not None
        else "contrat" if contract_year is not None
        else "première année complète" if ref is not None
        else ""
    )  # fmt: skip
    t = Tertiaire(
        int(f.building_id), f.building_code, f.building_name, area, assujetti(area),
        f.tertiaire_activity if isinstance(f.tertiaire_activity, str) else None,
        ref, source, years, None, last_year,
    )  # fmt: skip
    if ref is None:
        t.why = "aucune année complète de relevés : pas d'année de référence"
        return t
    ref_kwh = None
    complete = years[years["complete"].astype(bool)].set_index("year")["energy_kwh"]
    if ref not in complete.index and source == "contrat" and pd.notna(f.contract_reference_kwh):
        ref_kwh = float(f.contract_reference_kwh)
    try:
        t.trajectory = building_trajectory(years, dju, ref, ref_kwh, last_year)
    except LookupError as exc:
        t.why = str(exc)
        return t
    done = t.trajectory[t.trajectory["adjusted_kwh"].notna()]
    if len(done):
        t.latest = done.iloc[-1].to_dict()
    return t
