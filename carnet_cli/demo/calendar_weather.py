"""The demo town's calendar and weather: the hourly clock from ORIGIN, French public and zone B
school holidays, and hourly temperatures at Lille-Lesquin tuned so that each heating season has
the degree days it is meant to have.

Degree days and season dates are the contract's own (`contract.degree_days`,
`contract.terms`): the town is tuned with the very formula its settlement uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carnet.timeutil import epoch_to_local, local_dates, local_to_utc, to_epoch
from carnet_cli.demo.streams import ar1, stream
from contract.degree_days import dju_costic
from contract.terms import season_bounds, season_label

ORIGIN = dt.date(2023, 7, 1)  # first local day simulated

# season -> DJU (COSTIC, base 18, 1 Oct - 20 May) the weather is tuned to: 2023-24 is mild,
# 2025-26 is cold; later seasons are drawn between 2,450 and 2,650.
DJU_TARGETS = {2023: 2440.0, 2024: 2560.0, 2025: 2650.0}

# zone B school holidays (académie de Lille): [first day off, first day back)
SCHOOL_HOLIDAYS = {
    2023: [
        ("2023-07-08", "2023-09-04"),
        ("2023-10-21", "2023-11-06"),
        ("2023-12-23", "2024-01-08"),
        ("2024-02-24", "2024-03-11"),
        ("2024-04-20", "2024-05-06"),
        ("2024-05-09", "2024-05-13"),
    ],
    2024: [
        ("2024-07-06", "2024-09-02"),
        ("2024-10-19", "2024-11-04"),
        ("2024-12-21", "2025-01-06"),
        ("2025-02-08", "2025-02-24"),
        ("2025-04-05", "2025-04-22"),
        ("2025-05-29", "2025-06-02"),
    ],
    2025: [
        ("2025-07-05", "2025-09-01"),
        ("2025-10-18", "2025-11-03"),
        ("2025-12-20", "2026-01-05"),
        ("2026-02-14", "2026-03-02"),
        ("2026-04-11", "2026-04-27"),
        ("2026-05-14", "2026-05-18"),
    ],
    2026: [
        ("2026-07-04", "2026-09-01"),
        ("2026-10-17", "2026-11-02"),
        ("2026-12-19", "2027-01-04"),
        ("2027-02-20", "2027-03-08"),
        ("2027-04-17", "2027-05-03"),
        ("2027-05-06", "2027-05-10"),
    ],
}

# --- calendar -------------------------------------------------------------------------------


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def public_holidays(years) -> set[dt.date]:
    out: set[dt.date] = set()
    for y in years:
        e = _easter(y)
        out |= {
            dt.date(y, m, d)
            for m, d in ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
        }
        out |= {e + dt.timedelta(days=n) for n in (1, 39, 50)}
    return out


def school_holidays(days: np.ndarray) -> np.ndarray:
    """True on zone B school-holiday days (table above, a generic calendar beyond it)."""
    out = np.zeros(len(days), dtype=bool)
    years = range(days[0].astype(object).year - 1, days[-1].astype(object).year + 1)
    for y in years:
        spans = SCHOOL_HOLIDAYS.get(y) or [
            (f"{y}-07-05", f"{y}-09-01"),
            (f"{y}-10-18", f"{y}-11-03"),
            (f"{y}-12-20", f"{y + 1}-01-04"),
            (f"{y + 1}-02-14", f"{y + 1}-03-02"),
            (f"{y + 1}-04-12", f"{y + 1}-04-28"),
        ]
        for a, b in spans:
            out |= (days >= np.datetime64(a)) & (days < np.datetime64(b))
    return out


def month_day(days: np.ndarray) -> np.ndarray:
    """MMDD of each day as an integer (1001 for 1 October)."""
    d = pd.DatetimeIndex(days)
    return d.month.to_numpy() * 100 + d.day.to_numpy()


def in_yearly_span(mmdd: np.ndarray, start: str, end: str) -> np.ndarray:
    a, b = int(start.replace("-", "")), int(end.replace("-", ""))
    return (mmdd >= a) & (mmdd <= b) if a <= b else (mmdd >= a) | (mmdd <= b)


def season_year(day: dt.date) -> int:
    """The simulated year a day belongs to, July to June, labelled by the first year of its
    heating season (2025 = 2025-2026)."""
    return day.year if day.month >= 7 else day.year - 1


def heating_days(season: int) -> tuple[dt.date, dt.date]:
    """First and last day of the heating season that starts in `season` (contract dates)."""
    return season_bounds(season_label(season))


# --- weather --------------------------------------------------------------------------------


@dataclass
class Clock:
    """The hourly UTC grid and its local calendar, from ORIGIN to the end of the season."""

    ts: np.ndarray  # epoch seconds, hourly
    days: np.ndarray  # local dates (datetime64[D]) from ORIGIN
    day_of_hour: np.ndarray  # index into days
    hour: np.ndarray  # local hour of day (0-23)
    weekday: np.ndarray  # 0 = Monday
    midnight: np.ndarray  # epoch of each day's local midnight

    @classmethod
    def build(cls, end_day: dt.date) -> Clock:
        days = np.arange(np.datetime64(ORIGIN), np.datetime64(end_day), dtype="datetime64[D]")
        midnight = to_epoch(local_to_utc(pd.DatetimeIndex(days)))
        end = to_epoch(local_to_utc(pd.DatetimeIndex([np.datetime64(end_day)])))[0]
        ts = np.arange(midnight[0], end, 3600, dtype="int64")
        local = epoch_to_local(ts)
        day_of_hour = (local_dates(ts) - days[0]).astype("int64")
        return cls(
            ts=ts,
            days=days,
            day_of_hour=day_of_hour,
            hour=local.hour.to_numpy(),
            weekday=local.day_of_week.to_numpy(),
            midnight=midnight,
        )


@dataclass
class Weather:
    hourly_c: np.ndarray  # per hour of the clock, rounded to 0.1
    tn_c: np.ndarray  # per local day
    tx_c: np.ndarray
    dju: np.ndarray  # COSTIC base 18 per local day
    season_dju: dict[int, float]


def simulate_weather(clock: Clock, seed: int) -> Weather:
    """Seasonal cycle + weather noise (AR(1)) + cold spells, tuned per season to its DJU."""
    n_days = len(clock.days)
    doy = pd.DatetimeIndex(clock.days).day_of_year.to_numpy()
    winter = np.cos(2 * np.pi * (doy - 17) / 365.25)  # 1 mid-January, -1 mid-July
    clim = 11.0 - 7.3 * winter
    anomaly = ar1(stream(seed, "weather-daily"), n_days, 0.78, 2.6) * (1 + 0.25 * winter)
    seasons = np.array([season_year(d) for d in pd.DatetimeIndex(clock.days).date])
    spells = np.zeros(n_days)
    for s in np.unique(seasons):  # one or two cold spells per winter
        rng = stream(seed, "cold-spell", s)
        for _ in range(1 + int(rng.random() < 0.6)):
            start = np.datetime64(dt.date(int(s), 12, 1)) + int(rng.integers(0, 80))
            length = int(rng.integers(5, 13))
            depth = rng.uniform(4.0, 7.5)
            k = ((clock.days >= start) & (clock.days < start + length)).nonzero()[0]
            spells[k] -= depth * np.sin(np.pi * (np.arange(len(k)) + 0.5) / len(k))
    daily_range = (7.5 - 2.5 * winter) * np.exp(
        stream(seed, "weather-range").normal(0, 0.25, n_days)
    )
    base = clim + anomaly + spells
    # hourly shape: daily means interpolated at local noon, a diurnal cycle peaking at 15:00
    noon = clock.midnight + 12 * 3600
    mean_h = np.interp(clock.ts, noon, base)
    range_h = np.interp(clock.ts, noon, daily_range)
    noise_h = ar1(stream(seed, "weather-hourly"), len(clock.ts), 0.85, 0.5)
    raw = mean_h + range_h / 2 * np.cos(2 * np.pi * (clock.hour - 15) / 24) + noise_h
    # weight of the per-season tuning offset: 1 in winter, 0 in mid-summer (continuous)
    weight = (1 + winter) / 2
    hourly = raw.copy()
    season_dju = {}
    for s in np.unique(seasons):
        in_s = seasons == s
        a, b = heating_days(int(s))
        in_heating = (clock.days >= np.datetime64(a)) & (clock.days <= np.datetime64(b))
        if not in_heating.any():
            continue
        target = DJU_TARGETS.get(int(s))
        if target is None:
            target = 2450.0 + 200.0 * stream(seed, "dju-target", s).random()
        tn0, tx0 = _daily_min_max(np.round(raw, 1), clock)
        lo, hi = -6.0, 6.0
        for _ in range(40):  # DJU decreases with the offset: bisection
            off = (lo + hi) / 2
            shift = off * weight[in_heating]
            dju = dju_costic(tn0[in_heating] + shift, tx0[in_heating] + shift).sum()
            lo, hi = (off, hi) if dju > target else (lo, off)
        offset = (lo + hi) / 2
        hours = in_s[clock.day_of_hour]
        hourly[hours] = raw[hours] + offset * weight[clock.day_of_hour[hours]]
    hourly = np.round(hourly, 1)
    tn, tx = _daily_min_max(hourly, clock)
    dju = dju_costic(tn, tx)
    for s in np.unique(seasons):
        a, b = heating_days(int(s))
        m = (clock.days >= np.datetime64(a)) & (clock.days <= np.datetime64(b))
        if m.any():
            season_dju[int(s)] = float(dju[m].sum())
    return Weather(hourly, tn, tx, dju, season_dju)


def _daily_min_max(hourly: np.ndarray, clock: Clock) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(hourly).groupby(clock.day_of_hour)
    return s.min().to_numpy(), s.max().to_numpy()
