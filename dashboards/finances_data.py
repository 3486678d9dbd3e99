"""The finance service's figures, for the finance page, its downloads and `carnet export
finance`: the contracts a user sees, a month of a contract (the record's lines, signed when
the month is closed, completed with the revised prices by `contract.finance_table`), a
season's summary, and closing a month."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from carnet.access import EVERYTHING, Scope
from carnet.closing import ClosedRef
from carnet.contract_lookup import contracts_in
from carnet.db import session_scope
from carnet.frames import contract_terms
from carnet.frames_settlement import settlement_frames
from carnet.periods import close_period
from carnet.price_indices import index_frame
from contract.calendar import today as paris_today
from contract.finance import finance_plan, monthly_finance
from contract.finance_table import FinanceMonth, finance_table, month_indices, season_summary
from contract.periods import RULES
from contract.terms import ContractTerms, parse_season, season_months


def finance_contracts(engine: Engine, scope: Scope) -> list[dict]:
    """[{label, value (code), start, end (season MM-DD)}] of the contracts the scope sees."""
    with session_scope(engine) as s:
        return [
            {"label": f"{c.code} · {c.contractor}", "value": c.code, "start": c.season_start,
             "end": c.season_end}
            for c in contracts_in(s, scope)
        ]  # fmt: skip


def _terms(engine: Engine, scope: Scope, contract_code: str) -> ContractTerms:
    """LookupError for an unknown contract or one outside the scope (the same answer)."""
    if not scope.has_contract_code(contract_code):
        raise LookupError(f"contrat inconnu « {contract_code} »")
    return ContractTerms.from_record(contract_terms(engine, contract_code))


def finance_month(
    engine: Engine,
    contract_code: str,
    month: str,
    today: dt.date | None = None,
    scope: Scope = EVERYTHING,
) -> FinanceMonth:
    """LookupError: unknown contract (or outside `scope`); ValueError: a month outside the
    season, and contract.revision.MissingIndexError (a ValueError) for an index not published.

    The lines are those `carnet settle --month` settles (signed when the month is closed); the
    revised prices read the index values its close stored, the current ones while it is open."""
    terms = _terms(engine, scope, contract_code)
    data = settlement_frames(engine, finance_plan(terms, month))
    lines = monthly_finance(terms, month, data)
    signed = data.closed if data.closed is not None and data.closed.finance is not None else None
    indices, note = month_indices(
        index_frame(engine),
        closed=signed is not None,
        stored=signed is not None and signed.indices_stored,
        signed=None if signed is None else signed.indices,
    )
    return finance_table(lines, terms, indices, today or paris_today(), note)


def season_month_list(terms: ContractTerms, season: str, today: dt.date) -> list[str]:
    """The season's months with a settled day (up to yesterday): the finance service files
    the past, not plans."""
    parse_season(season)
    now = pd.Period(today - dt.timedelta(days=1), "M")
    months = season_months(season, terms.season_start, terms.season_end)
    return [str(m) for m in months if m <= now]


def finance_season(
    engine: Engine,
    contract_code: str,
    season: str,
    today: dt.date | None = None,
    scope: Scope = EVERYTHING,
) -> tuple[list[FinanceMonth], pd.DataFrame]:
    """Every begun month of the season and the season's summary (contract.finance_table)."""
    today = today or paris_today()
    terms = _terms(engine, scope, contract_code)
    months = [
        finance_month(engine, contract_code, m, today, scope)
        for m in season_month_list(terms, season, today)
    ]
    if not months:
        raise ValueError(f"la saison {season} n'a pas encore commencé")
    return months, season_summary(months, season)


def sign_month(engine: Engine, contract_code: str, month: str, actor: str) -> ClosedRef:
    return close_period(engine, contract_code, month=month, actor=actor, rules=RULES)
