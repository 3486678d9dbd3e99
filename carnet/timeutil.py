"""Time conventions: readings are stored as UTC epoch seconds, days and months are Europe/Paris.

A local day lasts 23, 24 or 25 hours; these helpers are vectorised over pandas/numpy arrays.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

TZ_NAME = "Europe/Paris"
TZ = ZoneInfo(TZ_NAME)


def epoch_to_utc(ts_s) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(ts_s, dtype="int64"), unit="s", utc=True)


def epoch_to_local(ts_s) -> pd.DatetimeIndex:
    return epoch_to_utc(ts_s).tz_convert(TZ_NAME)


def to_epoch(times) -> np.ndarray:
    """Aware datetimes (any zone) to int64 UTC epoch seconds."""
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        raise ValueError("naive timestamps: localise them first (local_to_utc)")
    return (idx.tz_convert("UTC").as_unit("s").asi8).astype("int64")


def local_to_utc(naive, ambiguous="raise", nonexistent="raise") -> pd.DatetimeIndex:
    """Naive Europe/Paris wall-clock times to UTC.

    `ambiguous` is "raise", "NaT", "infer" or a boolean array (True = summer time, the first
    occurrence of the repeated October hour); `nonexistent` is "raise" or "NaT" (the March hour
    that does not exist). Nothing is shifted silently.
    """
    idx = pd.DatetimeIndex(naive)
    return idx.tz_localize(TZ_NAME, ambiguous=ambiguous, nonexistent=nonexistent).tz_convert("UTC")


def local_midnight_epoch(days) -> np.ndarray:
    """Epoch seconds of local midnight at the start of each date."""
    idx = pd.DatetimeIndex(pd.to_datetime(pd.Series(days)).values)
    return to_epoch(idx.tz_localize(TZ_NAME))


def local_day_bounds(day_from: dt.date, day_to: dt.date) -> tuple[int, int]:
    """[start, end) in epoch seconds covering local dates day_from..day_to inclusive."""
    start, end = local_midnight_epoch([day_from, day_to + dt.timedelta(days=1)])
    return int(start), int(end)


def local_dates(ts_s) -> np.ndarray:
    """Local calendar date (datetime64[D]) of each epoch second."""
    local = epoch_to_local(ts_s)
    return local.tz_localize(None).values.astype("datetime64[D]")


def day_length_s(days) -> np.ndarray:
    """Length in seconds of each local day (82,800 / 86,400 / 90,000)."""
    d = np.asarray(days, dtype="datetime64[D]")
    if d.ndim != 1 or len(d) < 2:
        return local_midnight_epoch(d + np.timedelta64(1, "D")) - local_midnight_epoch(d)
    uniq, at = np.unique(d, return_inverse=True)  # a day's rows of thousands of channels
    starts = local_midnight_epoch(uniq)
    ends = local_midnight_epoch(uniq + np.timedelta64(1, "D"))
    return (ends - starts)[at.reshape(-1)]


def parse_local_date(text: str) -> dt.date:
    """ISO (yyyy-mm-dd) or French (dd/mm/yyyy) date."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date illisible « {text} » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")


def fr_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ)
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def aware_utc(when: dt.datetime | dt.date | None) -> dt.datetime:
    """An entered instant as aware UTC: now when absent, noon for a bare date, and a naive
    time as Europe/Paris wall clock."""
    if when is None:
        return dt.datetime.now(dt.UTC)
    if not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time(12, 0))
    if when.tzinfo is None:
        when = when.replace(tzinfo=TZ)
    return when.astimezone(dt.UTC)


def local_date(when: dt.datetime) -> dt.date:
    return when.astimezone(TZ).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """The aware UTC instant a local day starts at."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=TZ).astimezone(dt.UTC)
