"""Which period a page opens on, and whether its figures are final.

One place for the defaults (issue 15): a page opens on the current heating season and the last
complete month, never on the day-old current month; a period not yet complete is « provisoire »
with its reason (« saison en cours : 2 mois sur 8 », « mois en cours », « relevés manquants
après le 28/11 »). `today` is always a parameter: pages pass the clock, tests a fixed date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from contract.terms import SEASON_END, SEASON_START, season_bounds, season_label, season_of


@dataclass(frozen=True)
class PeriodStatus:
    """`provisional` and why (the reasons joined by « ; »), for a badge next to a figure."""

    provisional: bool
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return " ; ".join(self.reasons)

    @property
    def label(self) -> str:
        return f"provisoire : {self.reason}" if self.provisional else ""


FINAL = PeriodStatus(False)


def current_season(season_start: str, season_end: str, day: dt.date) -> str:
    """The season `day` is in, else the last one ended before it (between two seasons)."""
    label = season_of(pd.DatetimeIndex([pd.Timestamp(day)]), season_start, season_end).iloc[0]
    if label is not None:
        return label
    year = day.year
    while season_bounds(season_label(year), season_start, season_end)[1] >= day:
        year -= 1
    return season_label(year)


def last_complete_month(today: dt.date) -> str:
    """'YYYY-MM' of the month before `today`'s: the current month is never complete."""
    return (pd.Period(today, "M") - 1).strftime("%Y-%m")


def _missing_after(last_data_day: dt.date | None, period_to: dt.date) -> list[str]:
    if last_data_day is not None and last_data_day < period_to:
        return [f"relevés manquants après le {last_data_day:%d/%m}"]
    return []


def season_status(
    season: str,
    today: dt.date,
    last_data_day: dt.date | None = None,
    season_start: str = SEASON_START,
    season_end: str = SEASON_END,
) -> PeriodStatus:
    """A season is final once it has ended and its data reaches its last day. In progress,
    the reason counts its complete months (October and November done on 1 December: « saison
    en cours : 2 mois sur 8 »)."""
    first, last = season_bounds(season, season_start, season_end)
    reasons = []
    if today <= last:
        months = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")
        done = int((months.end_time.normalize() < pd.Timestamp(today)).sum())
        reasons.append(f"saison en cours : {done} mois sur {len(months)}")
    settled_to = min(last, today - dt.timedelta(days=1))
    if today > first:
        reasons += _missing_after(last_data_day, settled_to)
    return PeriodStatus(bool(reasons), tuple(reasons))


def month_status(month: str, today: dt.date, last_data_day: dt.date | None = None) -> PeriodStatus:
    """A month is final once it has ended and its data reaches its last day."""
    p = pd.Period(month, "M")
    first, last = p.start_time.date(), p.end_time.date()
    reasons = []
    if today <= last:
        reasons.append("mois en cours")
    if today > first:
        reasons += _missing_after(last_data_day, min(last, today - dt.timedelta(days=1)))
    return PeriodStatus(bool(reasons), tuple(reasons))


def year_status(year: int, today: dt.date, last_data_day: dt.date | None = None) -> PeriodStatus:
    """A calendar year is final once it has ended and its data reaches 31 December."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    reasons = []
    if today <= last:
        reasons.append(f"année en cours : {max(0, today.month - 1)} mois sur 12")
    if today > first:
        reasons += _missing_after(last_data_day, min(last, today - dt.timedelta(days=1)))
    return PeriodStatus(bool(reasons), tuple(reasons))
