"""French display formatting for the dashboards, every formatter they use in one place:
`1 234,5`, `1 234,56 €`, `−0,6 %`, `+12,0 %` (defined once, in `carnet.fr_format`: narrow
no-break space between thousands, decimal comma, U+2212 minus, `signed=True` for the `+` of
a result that can go either way), ranges, units, percentages, `dd/mm/yyyy` and
`dd/mm/yyyy HH:MM` in local time. Presentation only: computations keep
floats, Decimal or cents; these functions are applied at the last moment, to a few table
cells, never per reading."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from carnet.fr_format import EMPTY, MINUS, NBSP, NNBSP, fr_cents, fr_eur, fr_number, is_missing
from carnet.timeutil import TZ

__all__ = [
    "EMPTY",
    "MINUS",
    "NBSP",
    "NNBSP",
    "TZ",
    "UNIT_LABELS",
    "fr_cents",
    "fr_date",
    "fr_datetime",
    "fr_eur",
    "fr_number",
    "fr_pct",
    "fr_quantity",
    "fr_range",
    "fr_unit",
]


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


def fr_unit(unit: str | None) -> str:
    return UNIT_LABELS.get(unit or "", unit or "")


def fr_quantity(
    value,
    unit: str | None,
    decimals: int = 1,
    empty: str = EMPTY,
    signed: bool = False,
    trim: bool = False,
) -> str:
    """`12.34, "degC"` -> `12,3 °C`."""
    if is_missing(value):
        return empty
    number = fr_number(value, decimals, signed=signed, trim=trim)
    label = fr_unit(unit)
    return f"{number}{NBSP}{label}" if label else number


def fr_pct(value, decimals: int = 1, empty: str = EMPTY, signed: bool = False) -> str:
    """A ratio in percent: `12.5` -> `12,5 %` (the value is already in percent)."""
    if is_missing(value):
        return empty
    return f"{fr_number(value, decimals, signed=signed)}{NBSP}%"


def fr_range(low, high, fmt=fr_number, empty: str = EMPTY, **options) -> str:
    """`de a à b` written with one formatter for both ends: `fr_range(721.8, 766.07, fr_eur,
    signed=True)` -> `+721,80 € à +766,07 €`; one end missing -> the other alone."""
    ends = [fmt(v, **options) for v in (low, high) if not is_missing(v)]
    if not ends:
        return empty
    return ends[0] if len(ends) == 1 or ends[0] == ends[1] else f"{ends[0]} à {ends[1]}"


def _to_local(value) -> dt.datetime | dt.date | None:
    if is_missing(value):
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
