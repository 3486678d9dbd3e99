"""What the finances page and its CSV download show: the contracts in the user's scope, one
month of a contract shaped for the finance service (signed lines when the month is closed), and
closing that month."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.closing import ClosedRef
from carnet.contract_lookup import contracts_in
from carnet.db import session_scope
from carnet.frames import contract_terms
from carnet.frames_settlement import settlement_frames
from carnet.periods import close_period
from contract.finance import finance_plan, monthly_finance
from contract.periods import RULES
from contract.terms import ContractTerms


def finance_contracts(engine: Engine, scope: Scope) -> list[dict]:
    """[{label, value (code), start, end (season MM-DD)}] of the contracts the scope sees."""
    with session_scope(engine) as s:
        return [
            {"label": f"{c.code} · {c.contractor}", "value": c.code, "start": c.season_start,
             "end": c.season_end}
            for c in contracts_in(s, scope)
        ]  # fmt: skip


def month_finance(engine: Engine, scope: Scope, contract_code: str, month: str) -> pd.DataFrame:
    """`carnet export finance` of that month. LookupError: unknown contract or one outside the
    scope; ValueError: a month outside the season."""
    if not scope.has_contract_code(contract_code):
        raise LookupError(f"contrat inconnu « {contract_code} »")
    terms = ContractTerms.from_record(contract_terms(engine, contract_code))
    return monthly_finance(terms, month, settlement_frames(engine, finance_plan(terms, month)))


def sign_month(engine: Engine, contract_code: str, month: str, actor: str) -> ClosedRef:
    return close_period(engine, contract_code, month=month, actor=actor, rules=RULES)
