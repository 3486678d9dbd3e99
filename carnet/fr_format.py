"""French numbers and money for people: `1 234,5`, `1 234,56 €`, `−0,6` (narrow no-break space
between thousands, decimal comma, U+2212 minus, no-break space before the unit; `signed=True`
writes the `+` of a positive result too). The one definition of these
formatters: the dashboards take them through `dashboards.fmt`, the record's own tables (the
logbook's costs) from here. Presentation only: computations keep floats, Decimal or cents."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space: before a unit or the euro sign
MINUS = "\u2212"  # the typographic minus: "-" is a hyphen
EMPTY = "—"


def is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def fr_number(
    value, decimals: int = 0, empty: str = EMPTY, signed: bool = False, trim: bool = False
) -> str:
    """`1234567.891, 2` -> `1 234 567,89` (narrow no-break space, decimal comma, half-up);
    `-0.61, 1` -> `−0,6`; with `signed`, `0.61` -> `+0,6` (a result that can go either way);
    with `trim`, no trailing zero: `19.0, 1` -> `19`, `19.5, 1` -> `19,5` (a setpoint)."""
    if is_missing(value):
        return empty
    quant = Decimal(1).scaleb(-decimals)
    d = Decimal(str(value)).quantize(quant, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0,0"
    sign = MINUS if d < 0 else ("+" if signed and d > 0 else "")
    text = f"{abs(d):,.{decimals}f}"
    if trim and decimals:
        text = text.rstrip("0").rstrip(".")
    return sign + text.replace(",", NNBSP).replace(".", ",")


def fr_eur(value, decimals: int = 2, empty: str = EMPTY, signed: bool = False) -> str:
    """Euros: `1234.565` -> `1 234,57 €`; accepts Decimal, float or int (euros, not cents)."""
    if is_missing(value):
        return empty
    return f"{fr_number(value, decimals, signed=signed)}{NBSP}€"


def fr_cents(cents, empty: str = EMPTY, signed: bool = False) -> str:
    """Integer cents -> `1 234,56 €`."""
    if is_missing(cents):
        return empty
    return fr_eur(Decimal(int(cents)) / 100, signed=signed)
