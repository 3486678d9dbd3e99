"""French numbers and money for people: `1 234,5`, `1 234,56 €` (narrow no-break space between
thousands, decimal comma, no-break space before the unit). The one definition of these
formatters: the dashboards take them through `dashboards.fmt`, the record's own tables (the
logbook's costs) from here. Presentation only: computations keep floats, Decimal or cents."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space: before a unit or the euro sign
EMPTY = "—"


def is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def fr_number(value, decimals: int = 0, empty: str = EMPTY) -> str:
    """`1234567.891, 2` -> `1 234 567,89` (narrow no-break space, decimal comma, half-up)."""
    if is_missing(value):
        return empty
    quant = Decimal(1).scaleb(-decimals)
    d = Decimal(str(value)).quantize(quant, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0,0"
    text = f"{d:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def fr_eur(value, decimals: int = 2, empty: str = EMPTY) -> str:
    """Euros: `1234.565` -> `1 234,57 €`; accepts Decimal, float or int (euros, not cents)."""
    if is_missing(value):
        return empty
    return f"{fr_number(value, decimals)}{NBSP}€"


def fr_cents(cents, empty: str = EMPTY) -> str:
    """Integer cents -> `1 234,56 €`."""
    if is_missing(cents):
        return empty
    return fr_eur(Decimal(int(cents)) / 100)
