"""French display formatting: `1 234,5`, `1 234,56 €`, `dd/mm/yyyy`, `dd/mm/yyyy HH:MM`
(Europe/Paris). Presentation only: computations keep floats, Decimal or cents; these
functions are applied at the last moment, to a few table cells, never per reading."""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pandas as pd

TZ = ZoneInfo("Europe/Paris")
NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space: before a unit or the euro sign
EMPTY = "—"

UNIT_LABELS = {
    "degC": "°C",
    "m3": "m³",
    "kWh": "kWh",
    "kwh": "kWh",
    "MWh": "MWh",
    "kW": "kW",
    "h": "h",
    "pct": "%",
    "%": "%",
    "ppm": "ppm",
    "bar": "bar",
    "": "",
}


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def fr_number(value, decimals: int = 0, empty: str = EMPTY) -> str:
    """`1234567.891, 2` -> `1 234 567,89` (narrow no-break space, decimal comma, half-up)."""
    if _missing(value):
        return empty
    quant = Decimal(1).scaleb(-decimals)
    d = Decimal(str(value)).quantize(quant, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0,0"
    text = f"{d:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def fr_eur(value, decimals: int = 2, empty: str = EMPTY) -> str:
    """Euros: `1234.565` -> `1 234,57 €`; accepts Decimal, float or int (euros, not cents)."""
    if _missing(value):
        return empty
    return f"{fr_number(value, decimals)}{NBSP}€"


def fr_cents(cents, empty: str = EMPTY) -> str:
    """Integer cents -> `1 234,56 €`."""
    if _missing(cents):
        return empty
    return fr_eur(Decimal(int(cents)) / 100)


def fr_unit(unit: str | None) -> str:
    return UNIT_LABELS.get(unit or "", unit or "")


def fr_quantity(value, unit: str | None, decimals: int = 1, empty: str = EMPTY) -> str:
    """`12.34, "degC"` -> `12,3 °C`."""
    if _missing(value):
        return empty
    label = fr_unit(unit)
    return f"{fr_number(value, decimals)}{NBSP}{label}" if label else fr_number(value, decimals)


def fr_pct(value, decimals: int = 1, empty: str = EMPTY) -> str:
    """A ratio in percent: `12.5` -> `12,5 %` (the value is already in percent)."""
    if _missing(value):
        return empty
    return f"{fr_number(value, decimals)}{NBSP}%"


def _to_local(value) -> dt.datetime | dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC).astimezone(TZ)
    if isinstance(value, dt.datetime):
        # aware -> local wall time; naive values are taken as UTC, as everything is stored
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(TZ)
    return value


def fr_date(value, empty: str = EMPTY) -> str:
    """`dd/mm/yyyy` (local day for an instant: epoch seconds, datetime or Timestamp)."""
    local = _to_local(value)
    if local is None:
        return empty
    return local.strftime("%d/%m/%Y")


def fr_datetime(value, empty: str = EMPTY) -> str:
    """`dd/mm/yyyy HH:MM` in Europe/Paris, from epoch seconds, datetime or Timestamp."""
    local = _to_local(value)
    if local is None:
        return empty
    if not isinstance(local, dt.datetime):
        return local.strftime("%d/%m/%Y")
    return local.strftime("%d/%m/%Y %H:%M")
