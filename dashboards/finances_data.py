"""Data of the finance page (`/finances`): the contracts in the user's scope with their season
bounds, and a contract's monthly finance table."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.contract_lookup import contracts_in
from carnet.db import session_scope
from contract.finance import monthly_finance


def finance_contracts(engine: Engine, scope: Scope) -> list[dict]:
    """[{label, value (code), start, end (season MM-DD)}] of the contracts the scope sees."""
    with session_scope(engine) as s:
        return [
            {"label": f"{c.code} · {c.contractor}", "value": c.code, "start": c.season_start,
             "end": c.season_end}
            for c in contracts_in(s, scope)
        ]  # fmt: skip


def month_finance(engine: Engine, scope: Scope, contract_code: str, month: str) -> pd.DataFrame:
    """`contract.finance.monthly_finance`; LookupError for a contract outside the scope, as for
    an unknown one."""
    if not scope.has_contract_code(contract_code):
        raise LookupError(f"contrat inconnu « {contract_code} »")
    return monthly_finance(engine, contract_code, month)
