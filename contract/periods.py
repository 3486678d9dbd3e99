"""Closed months and seasons, the engine's side: which days a period is, the figures a close
signs, and what a pending regularisation would change.

The record's side (`carnet.periods`: close, reopen, pending, book) loads and stores; it is
handed `RULES` below for every figure, so the record never computes one. Closing stores the
figures as they stand (the very payload of `carnet settle --json`, the lines of `carnet export
finance`); a pending regularisation is the record's frames with what waits laid over them,
settled by the same engine, minus what was signed and what was already booked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import pandas as pd

from contract.calendar import month_bounds, today, yesterday
from contract.comfort import DEFAULT_MAX_GAP_S
from contract.comfort_report import comfort_records, comfort_report
from contract.finance import finance_lines
from contract.finance_table import used_indices
from contract.inputs import LoadPlan, settle_frames, settlement_plan
from contract.regularisation import (
    describe_delta,
    finance_records,
    is_zero,
    minus_booked,
    settlement_delta,
    settlement_payload,
)
from contract.settlement import settlement_period
from contract.terms import (
    ContractTerms,
    parse_season,
    previous_season,
    season_bounds,
    season_months,
    season_of_month,
)


class PeriodError(ValueError):
    """A period that cannot be named (French message)."""


@dataclass(frozen=True)
class Period:
    """A month (`2025-11`) or a season (`2025-2026`) of a contract, with its local days and
    the months it covers."""

    kind: str
    period: str
    season: str
    first_day: dt.date
    last_day: dt.date
    months: tuple[str, ...]

    @property
    def month(self) -> str | None:
        return self.period if self.kind == "month" else None


def resolve(terms: ContractTerms, month: str | None = None, season: str | None = None) -> Period:
    """The period named by `--month` or `--season` (PeriodError, French, when unreadable)."""
    if (month is None) == (season is None):
        raise PeriodError("indiquez soit --month AAAA-MM, soit --season AAAA-AAAA")
    if month is not None:
        try:
            p = pd.Period(month, "M")
        except (ValueError, TypeError) as exc:
            raise PeriodError(f"mois illisible « {month} » (attendu AAAA-MM)") from exc
        month = str(p)
        season = season_of_month(month, terms.season_start)
        try:
            first, last = settlement_period(terms, season, month)
        except ValueError as exc:
            raise PeriodError(str(exc)) from exc
        return Period("month", month, season, first, last, (month,))
    try:
        parse_season(season)
    except ValueError as exc:
        raise PeriodError(str(exc)) from exc
    first, last = season_bounds(season, terms.season_start, terms.season_end)
    months = tuple(str(m) for m in season_months(season, terms.season_start, terms.season_end))
    return Period("season", season, season, first, last, months)


def figures_plan(terms: ContractTerms, per: Period) -> LoadPlan:
    """What the period's figures read: its season's settlement inputs and, for a season, the
    previous season's signed figures (nothing else signed: a close computes afresh)."""
    plan = settlement_plan(terms, per.season, signed=False)
    signed = previous_season(per.season) if per.kind == "season" else None
    return dataclasses.replace(plan, signed_season=signed)


def pending_plan(terms: ContractTerms, season: str) -> LoadPlan:
    """A season's settlement inputs with what waits for closed periods laid over them."""
    return settlement_plan(terms, season, signed=False, with_pending=True)


def figures(
    terms: ContractTerms,
    per: Period,
    frames,
    comfort: dict,
    regularisations: dict,
    indices: pd.DataFrame,
    as_of: dt.date | None = None,
) -> dict:
    """Everything a close stores: the settle payload of the period, the month payloads it
    covers (with the month's comfort from `comfort[month]`, its comfort frames, as `carnet
    settle --month --json` prints it), the finance export lines of each month (with the
    regularisations booked in it, `regularisations[month]`) and the index values each month's
    price revision read from `indices` (`contract.finance_table.used_indices`; a close before
    version 2 stored none)."""
    as_of = as_of or yesterday()
    month_payloads, finance, used = {}, {}, {}
    for m in per.months:  # eight months at most
        report = settle_frames(terms, per.season, frames, month=m, as_of=as_of)
        payload = settlement_payload(report)
        if m in comfort:
            payload["comfort"] = comfort_records(comfort_report(comfort[m]))
        month_payloads[m] = payload
        finance[m] = finance_records(finance_lines(report, regularisations.get(m)))
        used[m] = used_indices(terms, m, indices)
    if per.kind == "month":
        head = month_payloads[per.period]
    else:
        head = settlement_payload(settle_frames(terms, per.season, frames, as_of=as_of))
    return {
        "version": 2,
        "settle": head,
        "months": month_payloads,
        "finance": finance,
        "indices": used,
    }


def pending_delta(
    terms: ContractTerms, per: Period, frames, signed: dict, booked: pd.DataFrame
) -> pd.DataFrame:
    """Per building and TOTAL, what the period's figures would move by with what waits laid
    over the record (`frames`), against what was signed, net of what was already booked."""
    report = settle_frames(terms, per.season, frames, month=per.month, as_of=per.last_day)
    codes = {bt.building_id: bt.building_code for bt in terms.buildings}
    return minus_booked(settlement_delta(signed, settlement_payload(report)), booked, codes)


class PeriodRules:
    """The engine's side of the record's closed-period workflows (`carnet.periods`)."""

    terms = staticmethod(ContractTerms.from_record)
    resolve = staticmethod(resolve)
    today = staticmethod(today)
    figures_plan = staticmethod(figures_plan)
    pending_plan = staticmethod(pending_plan)
    figures = staticmethod(figures)
    pending_delta = staticmethod(pending_delta)
    is_zero = staticmethod(is_zero)
    describe_delta = staticmethod(describe_delta)
    month_bounds = staticmethod(month_bounds)
    comfort_lookback_s = DEFAULT_MAX_GAP_S


RULES = PeriodRules()
