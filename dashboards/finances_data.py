"""What the finances page and its CSV download show: one month of a contract shaped for the
finance service (signed lines when the month is closed), and closing that month."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from carnet.closing import ClosedRef
from carnet.frames import contract_terms
from carnet.frames_settlement import settlement_frames
from carnet.periods import close_period
from contract.finance import finance_plan, monthly_finance
from contract.periods import RULES
from contract.terms import ContractTerms


def month_finance(engine: Engine, contract_code: str, month: str) -> pd.DataFrame:
    """`carnet export finance` of that month. LookupError: unknown contract; ValueError: a
    month outside the season."""
    terms = ContractTerms.from_record(contract_terms(engine, contract_code))
    return monthly_finance(terms, month, settlement_frames(engine, finance_plan(terms, month)))


def sign_month(engine: Engine, contract_code: str, month: str, actor: str) -> ClosedRef:
    return close_period(engine, contract_code, month=month, actor=actor, rules=RULES)
