"""The finance page's and `carnet export finance`'s figures: the record's lines, terms and
index values (carnet, contract.load), completed by contract.finance_table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from carnet.price_indices import index_frame
from contract.finance import monthly_finance
from contract.finance_table import FinanceMonth, finance_table, season_summary
from contract.load import load_contract_terms
from contract.terms import parse_season, season_months


def paris_today() -> dt.date:
    return pd.Timestamp.now(tz="Europe/Paris").date()


def finance_month(
    engine: Engine, contract_code: str, month: str, today: dt.date | None = None
) -> FinanceMonth:
    """LookupError for an unknown contract; ValueError for a month outside the season and
    contract.revision.MissingIndexError (a ValueError) for an index not published yet."""
    lines = monthly_finance(engine, contract_code, month)
    terms = load_contract_terms(engine, contract_code)
    return finance_table(lines, terms, index_frame(engine), today or paris_today())


def season_month_list(engine: Engine, contract_code: str, season: str, today=None) -> list[str]:
    """The season's months with a settled day (up to yesterday): the finance service files
    the past, not plans."""
    parse_season(season)
    terms = load_contract_terms(engine, contract_code)
    yesterday = (today or paris_today()) - dt.timedelta(days=1)  # settled up to yesterday
    now = pd.Period(yesterday, "M")
    months = season_months(season, terms.season_start, terms.season_end)
    return [str(m) for m in months if m <= now]


def finance_season(
    engine: Engine, contract_code: str, season: str, today: dt.date | None = None
) -> tuple[list[FinanceMonth], pd.DataFrame]:
    """Every begun month of the season and the season's summary (contract.finance_table)."""
    today = today or paris_today()
    months = [
        finance_month(engine, contract_code, m, today)
        for m in season_month_list(engine, contract_code, season, today)
    ]
    if not months:
        raise ValueError(f"la saison {season} n'a pas encore commencé")
    return months, season_summary(months, season)
