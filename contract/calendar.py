"""The engine's clock: local days are Europe/Paris, instants UTC epoch seconds.

The record keeps its own conventions (`carnet.timeutil`); the engine needs only these few, so
that it can be imported and run on frames without the record.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

TZ_NAME = "Europe/Paris"


def local_day_bounds(day_from: dt.date, day_to: dt.date) -> tuple[int, int]:
    """[start, end) in epoch seconds covering local dates day_from..day_to inclusive."""
    idx = pd.DatetimeIndex([pd.Timestamp(day_from), pd.Timestamp(day_to + dt.timedelta(days=1))])
    start, end = idx.tz_localize(TZ_NAME).tz_convert("UTC").as_unit("s").asi8
    return int(start), int(end)


def today() -> dt.date:
    return pd.Timestamp.now(tz=TZ_NAME).date()


def yesterday() -> dt.date:
    """The last complete local day: today's consumption is still partial."""
    return today() - dt.timedelta(days=1)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """ "YYYY-MM" -> first and last local date of the month."""
    try:
        first = dt.datetime.strptime(month.strip(), "%Y-%m").date()
    except ValueError as exc:
        raise ValueError(f"mois illisible « {month} » (attendu AAAA-MM)") from exc
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)
