"""What a settlement reads, named by the engine, and the settlement of what was read.

`settlement_plan` says which days, channels, stations and signed figures a season (or month)
needs; the record loads them (`carnet.frames_settlement.settlement_frames`) and
`settle_frames` settles them: degree days from the stations' temperatures, then the clause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from contract.calendar import yesterday
from contract.degree_days import station_dju
from contract.regularisation import with_signed_previous
from contract.settlement import SettlementReport, settle
from contract.terms import (
    ContractTerms,
    previous_season,
    season_bounds,
    season_months,
    season_of_month,
    settlement_window,
)


@dataclass(frozen=True)
class LoadPlan:
    """What to read from the record for one computation of a contract."""

    contract_code: str
    first_day: dt.date
    last_day: dt.date
    channel_ids: tuple[int, ...] = ()
    station_ids: tuple[int, ...] = ()
    contract_building_ids: tuple[int, ...] = ()
    need_hourly: bool = False  # the DJU method reads hourly temperatures
    signed_season: str | None = None  # the season whose signed figures are wanted
    closed: tuple | None = None  # (season, month or None, as_of or None): its signed view
    closed_months: tuple | None = None  # (season, months): their signed views
    regularisation_month: str | None = None  # the regularisations booked in that month
    with_pending: bool = False  # what waits for closed periods, laid over the record
    # the runs of days whose consumption is read (None: first_day..last_day): a season and
    # the one before it, not the summer between them, which nothing settles
    energy_runs: tuple[tuple[dt.date, dt.date], ...] | None = None


def stations_of(terms: ContractTerms) -> tuple[int, ...]:
    return tuple(sorted({bt.station_id for bt in terms.buildings if bt.station_id is not None}))


def settlement_plan(
    terms: ContractTerms,
    season: str,
    month: str | None = None,
    as_of: dt.date | None = None,
    *,
    signed: bool = True,
    with_pending: bool = False,
) -> LoadPlan:
    """The season's (or month's) settlement inputs, the season before it included; with
    `signed`, what was signed: the previous season, the period itself (when `month` is one of
    the season's), and for a season its closed months."""
    if month is not None:
        month = str(pd.Period(month, "M"))  # raises ValueError on a malformed month
    first, last = settlement_window(terms, season)
    channels = [bt.channel_id for bt in terms.buildings] + [
        bt.ecs_channel_id for bt in terms.buildings
    ]
    closed = closed_months = None
    if signed:
        if month is None or season_of_month(month, terms.season_start) == season:
            closed = (season, month, as_of)
        if month is None:
            months = [str(m) for m in season_months(season, terms.season_start, terms.season_end)]
            closed_months = (season, months)
    return LoadPlan(
        contract_code=terms.code,
        first_day=first,
        last_day=last,
        channel_ids=tuple(c for c in channels if c is not None),
        station_ids=stations_of(terms),
        contract_building_ids=tuple(
            bt.contract_building_id for bt in terms.buildings if bt.contract_building_id is not None
        ),
        need_hourly=terms.dju_method == "hourly",
        signed_season=previous_season(season) if signed and month is None else None,
        closed=closed,
        closed_months=closed_months,
        regularisation_month=month,
        with_pending=with_pending,
        energy_runs=(
            season_bounds(previous_season(season), terms.season_start, terms.season_end),
            season_bounds(season, terms.season_start, terms.season_end),
        ),
    )


def dju_frame(terms: ContractTerms, frames, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Daily DJU of the contract's stations by its method and base."""
    parts = [
        station_dju(temps, sid, first, last, terms.dju_method, terms.dju_base_c)
        for sid, temps in sorted(frames.temperatures.items())  # one or two stations
    ]
    if not parts:
        return pd.DataFrame(columns=["station_id", "day", "dju"])
    return pd.concat(parts, ignore_index=True)


def settlement_inputs(terms: ContractTerms, season: str, frames):
    """(rollups, dju_daily, adjustments) of `settle` from what the plan loaded."""
    first, last = settlement_window(terms, season)
    return frames.rollups, dju_frame(terms, frames, first, last), frames.adjustments


def settle_frames(
    terms: ContractTerms,
    season: str,
    frames,
    month: str | None = None,
    as_of: dt.date | None = None,
) -> SettlementReport:
    """Settle a contract's season (or one month of it) up to `as_of` (default: yesterday,
    the last complete local day); a complete season's two-season NB-revision alert is judged
    on the previous season's signed deviation (a closed season stays what was signed)."""
    rollups, dju, adjustments = settlement_inputs(terms, season, frames)
    report = settle(
        terms, season, rollups, dju, adjustments, month=month, as_of=as_of or yesterday()
    )
    if month is None and report.season_complete:
        report = with_signed_previous(report, frames.signed_previous, terms)
    return report
