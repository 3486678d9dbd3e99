"""The signed figures of closed months and seasons, as they were stored by the close.

A closed period is served from what was signed (`carnet.closing`), never recomputed; which
month belongs to which season is the contract's calendar, so callers name the season and the
months they mean.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet import closing
from carnet.closing import ClosedRef, closed_marker


@dataclass
class ClosedView:
    """Signed figures of a period: the settle payload, the finance lines of a month and the
    index values its price revision read (`indices_stored` False: closed before they were
    stored; `indices` None then, or when an index was not yet published at the close)."""

    ref: ClosedRef
    payload: dict
    finance: dict | None = None
    view_kind: str = "season"  # what is shown: a month (maybe of a closed season) or a season
    indices: list[dict] | None = None
    indices_stored: bool = False

    @property
    def marker(self) -> str:
        """« arrêté le 05/12/2025 par gestionnaire » for a month (« … (saison 2025-2026) »
        when its season was closed), « arrêtée le … » for a season."""
        r = self.ref
        if self.view_kind == "month":
            text = closed_marker(r.closed_at, r.closed_by)
            return text + (f" (saison {r.period})" if r.period_kind == "season" else "")
        return r.marker

    def closed_json(self) -> dict:
        r = self.ref
        return {
            "id": r.id,
            "period_kind": r.period_kind,
            "period": r.period,
            "closed_at": r.closed_at.isoformat(),
            "closed_by": r.closed_by,
            "marker": self.marker,
        }


def closed_view(
    engine: Engine,
    contract_code: str,
    season: str,
    month: str | None = None,
    as_of: dt.date | None = None,
) -> ClosedView | None:
    """The signed figures of the month of `season` (its own close, else its season's) or of
    the season, or None when open. An `as_of` before the period's end asks for a partial view:
    not the signed one."""
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        if month is not None:
            month = str(pd.Period(month, "M"))
            row = closing.month_closed_by(s, contract.id, month, season)
        else:
            row = closing.find_closed(s, contract.id, "season", season)
        if row is None or (as_of is not None and as_of < row.last_day):
            return None
        ref = closing.ref_of(row, contract.code)
        figures_ = row.figures
    if month is not None:
        payload = figures_["months"].get(month)
        if payload is None:
            return None
        return _month_view(ref, figures_, month)
    return ClosedView(ref, figures_["settle"])


def _month_view(ref: ClosedRef, figures_: dict, month: str) -> ClosedView:
    signed = figures_.get("indices")  # absent from a close before they were stored
    return ClosedView(
        ref,
        figures_["months"][month],
        figures_["finance"].get(month),
        "month",
        indices=None if signed is None else signed.get(month),
        indices_stored=signed is not None,
    )


def closed_months(
    engine: Engine, contract_code: str, season: str, months: list[str]
) -> dict[str, ClosedView]:
    """The closed months among `months` of a season (their own close or the season's)."""
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        return months_view(closing.closed_rows(s, contract.id), contract.code, season, months)


def months_view(rows, contract_code: str, season: str, months: list[str]) -> dict[str, ClosedView]:
    """`closed_months` from the contract's closed periods (`closing.closed_rows`, oldest
    first) already read."""
    out: dict[str, ClosedView] = {}
    for row in sorted(rows, key=lambda r: r.period_kind != "month"):  # months first
        covered = [row.period] if row.period_kind == "month" else months
        if row.period_kind == "season" and row.period != season:
            continue
        for m in covered:
            if m in months and m not in out and m in row.figures["months"]:
                out[m] = _month_view(closing.ref_of(row, contract_code), row.figures, m)
    return out
