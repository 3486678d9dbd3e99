"""The demo town: a deterministic, realistic record to try Carnet on (`carnet demo`).

The portfolio (buildings, rooms, equipment, channels, the heating contract, users) comes from
`data/demo/portfolio.yaml`; this module simulates what such a town would have recorded since
July 2023: hourly weather at Lille-Lesquin, gas indexes driven by a heating signature, the
occupancy of each building and its boilers, room temperatures that follow the bookings, boiler
channels, plus bookings, the carnet de santé's history and the obligations. The faults a
manager should find are planted on purpose (the constants after `behaviour`).

`simulate` is pure numpy/pandas (same seed and `today` -> same frames); `build_demo` writes it.
Every random stream is keyed by (seed, purpose), and the weather and the buildings are always
simulated from ORIGIN to the end of the current season, so the past does not change with `today`
or with the `start` of what is written.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import Engine, func, select

from carnet.config import data_dir
from carnet.db import session_scope
from carnet.models import (
    Booking,
    Building,
    Channel,
    ConversionFactor,
    ImportBatch,
    Quality,
    Room,
    utcnow,
)
from carnet.store import UpsertCounts, recompute_daily, upsert_readings
from carnet.timeutil import TZ, epoch_to_local, local_dates, local_to_utc, to_epoch

ORIGIN = dt.date(2023, 7, 1)  # first local day simulated
CONTRACT_START = dt.date(2024, 7, 1)  # CHAUFF-2024 (portfolio.yaml): the history knows it
PCS_PCI = 1.11
DEMO_PASSWORD = "demo-{login}"  # the demo logins' passwords (printed by `carnet demo`)


def portfolio_path() -> Path:
    return data_dir() / "demo" / "portfolio.yaml"


def demo_passwords(portfolio: dict) -> dict[str, str]:
    return {u["login"]: DEMO_PASSWORD.format(login=u["login"]) for u in portfolio["users"]}


# --- the town's behaviour -----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How a building consumes: the simulation's knobs (not part of the record)."""

    kwh_m2: float  # gas over the 2023-24 contract season, kWh PCS per m2 (reference)
    comfort_c: float  # indoor setpoint when occupied
    balance_c: float  # outdoor temperature above which the occupied building needs no heat
    setback_k: float  # night/weekend setback, K
    eta_pci: float  # seasonal boiler efficiency (PCI basis)
    dhw_kwh_day: float  # domestic hot water + losses, kWh PCS on an open day
    index_start_m3: float
    burner_hours_start: float
    preheat_h: int = 2
    school: bool = False  # closed (frost protection) during school holidays
    closures: tuple[tuple[str, str], ...] = ()  # yearly closures (MM-DD, MM-DD) inclusive
    # (from, factor): heating demand multiplied from that date (works, better regulation)
    changes: tuple[tuple[dt.date, float], ...] = ()
    eta_changes: tuple[tuple[dt.date, float], ...] = ()  # (from, new efficiency)


def _profile(raw: dict) -> Profile:
    raw = dict(raw)
    raw["closures"] = tuple(tuple(c) for c in raw.get("closures", ()))
    for key in ("changes", "eta_changes"):
        raw[key] = tuple((dt.date.fromisoformat(str(d)), float(v)) for d, v in raw.get(key, ()))
    return Profile(**raw)


@functools.cache
def behaviour() -> dict:
    """The simulated world (`data/demo/simulation.yaml`): profiles, bookings, the story."""
    raw = yaml.safe_load((data_dir() / "demo" / "simulation.yaml").read_text(encoding="utf-8"))
    return {
        "profiles": {code: _profile(p) for code, p in raw["profiles"].items()},
        "series": tuple(Series(**s) for s in raw["series"]),
        "events": tuple(raw["events"]),
        "story": tuple(raw["story"]),
    }


# The faults planted in the demo, for the manager (and the tests) to find.
WEEKEND_HEATED = "SALLE-FETES"  # heated every weekend, booked or not
OVERRUN = ("GYMNASE", dt.date(2024, 10, 15), dt.date(2026, 3, 10))  # night setback lost
BOILER_FAULT = ("GS-MICHEL", dt.datetime(2025, 12, 9, 2, 0), 13, 28)  # local start, hours, code
FAULT_LABELS = {
    28: "F.28 : échec d'allumage, brûleur en sécurité",
    37: "F.37 : manque de pression d'eau dans l'installation",
}
OPEN_FAULT = ("MAIRIE", 37, 3)  # yesterday 05:00 local, 3 h, still open in the logbook
METER_CHANGE = ("CENTRE-SOCIAL", dt.datetime(2025, 1, 14, 10, 20), 3.0)  # local time, new start
MISSING_WEEK = ("CRECHE", dt.date(2026, 1, 19), 7)  # gas readings lost for 7 local days

# season -> DJU (COSTIC, base 18, 1 Oct - 20 May) the weather is tuned to: 2023-24 is mild,
# 2025-26 is cold; later seasons are drawn between 2,450 and 2,650.
DJU_TARGETS = {2023: 2440.0, 2024: 2560.0, 2025: 2650.0}
SEASON_START, SEASON_END = "10-01", "05-20"

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

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# --- random streams -------------------------------------------------------------------------


def _rng(seed: int, *purpose) -> np.random.Generator:
    """An independent, prefix-stable stream per purpose (a longer horizon draws more values
    but leaves the first ones unchanged)."""
    key = [int(seed)] + [int(hashlib.sha256(str(p).encode()).hexdigest()[:8], 16) for p in purpose]
    return np.random.default_rng(key)


def _uniform(seed: int, purpose: str, *keys: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) draw per element, keyed by its values (splitmix64): the same booking
    gets the same draw however many others are generated around it."""
    with np.errstate(over="ignore"):
        x = np.full(np.broadcast(*keys).shape, np.uint64(_rng(seed, purpose).integers(2**63)))
        for k in keys:
            x = x ^ np.asarray(k).astype(np.uint64)
            x = x + np.uint64(0x9E3779B97F4A7C15)
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) with stationary standard deviation `sd`, vectorised through an EWM."""
    innov = rng.standard_normal(n) * sd * np.sqrt(1 - phi**2)
    alpha = 1.0 - phi
    return pd.Series(innov / alpha).ewm(alpha=alpha, adjust=False).mean().to_numpy()


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


def _mmdd(days: np.ndarray) -> np.ndarray:
    d = pd.DatetimeIndex(days)
    return d.month.to_numpy() * 100 + d.day.to_numpy()


def _in_yearly_span(mmdd: np.ndarray, start: str, end: str) -> np.ndarray:
    a, b = int(start.replace("-", "")), int(end.replace("-", ""))
    return (mmdd >= a) & (mmdd <= b) if a <= b else (mmdd >= a) | (mmdd <= b)


def season_of(day: dt.date) -> int:
    """Heating season labelled by its first year (2025 = 2025-2026)."""
    return day.year if day.month >= 7 else day.year - 1


def season_days(season: int) -> tuple[dt.date, dt.date]:
    return dt.date(season, 10, 1), dt.date(season + 1, 5, 20)


# --- weather --------------------------------------------------------------------------------


def costic_dju(tn, tx, base_c: float = 18.0) -> np.ndarray:
    """COSTIC degree days from daily min/max (DESIGN.md)."""
    tn = np.asarray(tn, dtype=float)
    tx = np.asarray(tx, dtype=float)
    mid = base_c - (tn + tx) / 2
    span = np.where(tx > tn, tx - tn, 1.0)
    between = (base_c - tn) * (0.08 + 0.42 * (base_c - tn) / span)
    return np.where(base_c >= tx, mid, np.where(base_c <= tn, 0.0, between))


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
    anomaly = _ar1(_rng(seed, "weather-daily"), n_days, 0.78, 2.6) * (1 + 0.25 * winter)
    seasons = np.array([season_of(d) for d in pd.DatetimeIndex(clock.days).date])
    spells = np.zeros(n_days)
    for s in np.unique(seasons):  # one or two cold spells per winter
        rng = _rng(seed, "cold-spell", s)
        for _ in range(1 + int(rng.random() < 0.6)):
            start = np.datetime64(dt.date(int(s), 12, 1)) + int(rng.integers(0, 80))
            length = int(rng.integers(5, 13))
            depth = rng.uniform(4.0, 7.5)
            k = ((clock.days >= start) & (clock.days < start + length)).nonzero()[0]
            spells[k] -= depth * np.sin(np.pi * (np.arange(len(k)) + 0.5) / len(k))
    daily_range = (7.5 - 2.5 * winter) * np.exp(_rng(seed, "weather-range").normal(0, 0.25, n_days))
    base = clim + anomaly + spells
    # hourly shape: daily means interpolated at local noon, a diurnal cycle peaking at 15:00
    noon = clock.midnight + 12 * 3600
    mean_h = np.interp(clock.ts, noon, base)
    range_h = np.interp(clock.ts, noon, daily_range)
    noise_h = _ar1(_rng(seed, "weather-hourly"), len(clock.ts), 0.85, 0.5)
    raw = mean_h + range_h / 2 * np.cos(2 * np.pi * (clock.hour - 15) / 24) + noise_h
    # weight of the per-season tuning offset: 1 in winter, 0 in mid-summer (continuous)
    weight = (1 + winter) / 2
    hourly = raw.copy()
    season_dju = {}
    for s in np.unique(seasons):
        in_s = seasons == s
        a, b = season_days(int(s))
        in_heating = (clock.days >= np.datetime64(a)) & (clock.days <= np.datetime64(b))
        if not in_heating.any():
            continue
        target = DJU_TARGETS.get(int(s))
        if target is None:
            target = 2450.0 + 200.0 * _rng(seed, "dju-target", s).random()
        tn0, tx0 = _daily_min_max(np.round(raw, 1), clock)
        lo, hi = -6.0, 6.0
        for _ in range(40):  # DJU decreases with the offset: bisection
            off = (lo + hi) / 2
            shift = off * weight[in_heating]
            dju = costic_dju(tn0[in_heating] + shift, tx0[in_heating] + shift).sum()
            lo, hi = (off, hi) if dju > target else (lo, off)
        offset = (lo + hi) / 2
        hours = in_s[clock.day_of_hour]
        hourly[hours] = raw[hours] + offset * weight[clock.day_of_hour[hours]]
    hourly = np.round(hourly, 1)
    tn, tx = _daily_min_max(hourly, clock)
    dju = costic_dju(tn, tx)
    for s in np.unique(seasons):
        a, b = season_days(int(s))
        m = (clock.days >= np.datetime64(a)) & (clock.days <= np.datetime64(b))
        if m.any():
            season_dju[int(s)] = float(dju[m].sum())
    return Weather(hourly, tn, tx, dju, season_dju)


def _daily_min_max(hourly: np.ndarray, clock: Clock) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(hourly).groupby(clock.day_of_hour)
    return s.min().to_numpy(), s.max().to_numpy()


# --- occupancy and bookings -----------------------------------------------------------------


def _window_minutes(text_: str) -> tuple[int, int]:
    a, b = text_.split("-")
    ha, ma = (int(x) for x in a.split(":"))
    hb, mb = (int(x) for x in b.split(":"))
    return ha * 60 + ma, hb * 60 + mb


def schedule_mask(schedule: dict | None, clock: Clock) -> np.ndarray:
    """Hours (ending at each reading) that overlap the building's usual opening windows."""
    occ = np.zeros(len(clock.ts), dtype=bool)
    # the reading at hh:00 closes the hour [hh-1, hh)
    start_min = ((clock.hour - 1) % 24) * 60
    wd = np.where(clock.hour == 0, (clock.weekday - 1) % 7, clock.weekday)
    for d, name in enumerate(WEEKDAYS):
        for window in (schedule or {}).get(name, []):
            a, b = _window_minutes(window)
            occ |= (wd == d) & (start_min + 60 > a) & (start_min < b)
    return occ


@dataclass(frozen=True)
class Series:
    room: str
    title: str
    organiser: str
    weekday: int
    start: str
    end: str
    setpoint_c: float
    preheat_min: int
    note: str
    attendance: int
    monthly: bool = False  # every 4th week only (councils, commissions)


def _local_ts(day: np.datetime64, hhmm: str, plus_min: int = 0) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    naive = pd.Timestamp(day) + pd.Timedelta(minutes=h * 60 + m + plus_min)
    return int(to_epoch(local_to_utc([naive], ambiguous="NaT", nonexistent="NaT"))[0])


def simulate_bookings(seed: int, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Bookings of the rooms from `first` to `last` (local dates): weekly series outside school
    holidays, one-off events; no two bookings of a room overlap."""
    days = np.arange(np.datetime64(first), np.datetime64(last) + 1, dtype="datetime64[D]")
    weekday = pd.DatetimeIndex(days).day_of_week.to_numpy()
    holidays = school_holidays(days) | np.isin(
        days,
        np.array(sorted(public_holidays(range(first.year, last.year + 2))), dtype="datetime64[D]"),
    )
    summer = np.isin(pd.DatetimeIndex(days).month.to_numpy(), (7, 8))
    rows = []
    world = behaviour()
    for sid, s in enumerate(world["series"], start=1):
        k = np.flatnonzero((weekday == s.weekday) & ~holidays & ~summer)
        if s.monthly:
            k = k[::4]
        for d in days[k]:
            rows.append(
                dict(
                    room=s.room,
                    series_id=sid,
                    title=s.title,
                    organiser=s.organiser,
                    day=d,
                    start=s.start,
                    end=s.end,
                    setpoint_c=s.setpoint_c,
                    preheat_min=s.preheat_min,
                    heating_note=s.note,
                    attendance=s.attendance,
                )
            )
    for e, ev in enumerate(world["events"]):
        room, titles, wdays = ev["room"], ev["titles"], tuple(ev["weekdays"])
        day_slot, eve_slot = tuple(ev["day_slot"]), tuple(ev["evening_slot"])
        sp, pre, rate = ev["setpoint_c"], ev["preheat_min"], ev["per_month"]
        day_no = days.astype("int64")  # draws keyed by the day: stable whatever the range
        ok = np.isin(weekday, wdays) & ~summer
        k = np.flatnonzero(ok & (_uniform(seed, room, day_no) < rate * 12 / 52 / len(wdays)))
        pick = (_uniform(seed, room + "/title", day_no[k]) * len(titles)).astype(int)
        evening = _uniform(seed, room + "/evening", day_no[k]) < 0.65
        size = _uniform(seed, room + "/attendance", day_no[k])
        for d, t, ev, z in zip(days[k], pick, evening, size, strict=True):
            a, b = eve_slot if ev else day_slot
            title = titles[t]
            note = (
                f"{title} : salle à {sp:g} °C à l'ouverture des portes ({a.replace(':', ' h ')})."
            )
            rows.append(
                dict(
                    room=room,
                    series_id=None,
                    title=title,
                    organiser=None,
                    day=d,
                    start=a,
                    end=b,
                    setpoint_c=float(sp),
                    preheat_min=pre,
                    heating_note=note,
                    attendance=int(40 + 260 * z) if e < 2 else int(15 + 95 * z),
                )
            )
    frame = pd.DataFrame(rows)
    starts, ends = [], []
    for d, a, b in zip(frame["day"], frame["start"], frame["end"], strict=True):
        starts.append(_local_ts(d, a))
        ends.append(_local_ts(d, b) if b != "23:59" else _local_ts(d, "00:00", 24 * 60 + 60))
    frame["start_ts"] = np.array(starts, dtype="int64")
    frame["end_ts"] = np.array(ends, dtype="int64")
    # series first: an event never displaces a weekly slot; drop overlaps per room
    frame["prio"] = frame["series_id"].isna().astype(int)
    frame = frame.sort_values(["room", "start_ts", "prio"]).reset_index(drop=True)
    prev_end = frame.groupby("room")["end_ts"].shift(1)
    overlap = frame["start_ts"] < prev_end.fillna(-1)
    frame = frame[~overlap].reset_index(drop=True)
    room_no = frame["room"].map(lambda r: int(hashlib.sha256(r.encode()).hexdigest()[:8], 16))
    key = (frame["start_ts"].to_numpy(), room_no.to_numpy(dtype="int64"))
    frame["status"] = np.where(_uniform(seed, "cancelled", *key) < 0.03, "cancelled", "confirmed")
    frame["late"] = (_uniform(seed, "late", *key) < 0.12) & (frame["status"] == "confirmed")
    frame["organiser"] = frame["organiser"].fillna(
        pd.Series(
            np.where(
                frame["room"].str.startswith("SALLE-FETES"),
                "Particulier / association",
                "Service culturel",
            ),
            index=frame.index,
        )
    )
    return frame.drop(columns=["prio"])


def _room_heated(bookings: pd.DataFrame, clock: Clock) -> tuple[np.ndarray, np.ndarray]:
    """Per hour of the clock: heated by a booking (incl. preheating) and the target °C."""
    heated = np.zeros(len(clock.ts), dtype=bool)
    target = np.zeros(len(clock.ts))
    b = bookings[bookings["status"] != "cancelled"]
    if not len(b):
        return heated, target
    preheat = b["preheat_min"].to_numpy() - np.where(b["late"].to_numpy(), 90, 0)
    heat_from = b["start_ts"].to_numpy() - np.maximum(preheat, 0) * 60
    t0 = clock.ts[0]
    i0 = np.clip((heat_from - t0 + 3599) // 3600 + 1, 0, len(clock.ts))
    i1 = np.clip((b["end_ts"].to_numpy() - t0) // 3600 + 1, 0, len(clock.ts))
    span = np.maximum(i1 - i0, 0)
    rep = np.repeat(np.arange(len(b)), span)
    idx = i0[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    heated[idx] = True
    start_i = (b["start_ts"].to_numpy() - t0) // 3600
    sp = b["setpoint_c"].to_numpy(dtype=float)
    # boost while preheating, then hold just above the setpoint
    target[idx] = sp[rep] + np.where(idx <= start_i[rep], 1.5, 0.5)
    return heated, target


# --- buildings ------------------------------------------------------------------------------


@dataclass
class BuildingSim:
    code: str
    gas_m3: np.ndarray  # per hour ending at each reading
    fuel_kwh_pcs: np.ndarray
    heat_kw: np.ndarray
    flow_c: np.ndarray
    runtime_h: np.ndarray
    fault_code: np.ndarray
    comfort: np.ndarray  # building in comfort mode
    heating_on: np.ndarray  # heating allowed and boiler available


@dataclass
class DemoData:
    seed: int
    now_ts: int
    start_ts: int
    clock: Clock
    weather: Weather
    buildings: dict[str, BuildingSim]
    rooms: dict[str, np.ndarray]  # room code -> indoor °C per hour
    bookings: pd.DataFrame
    conversion: pd.DataFrame  # valid_from, kwh_per_unit (one per month)
    readings: dict[str, pd.DataFrame] = field(default_factory=dict)  # channel code -> frame
    nb_mwh_pci: dict[str, float] = field(default_factory=dict)
    meter_change: dict = field(default_factory=dict)
    fault_episodes: list[dict] = field(default_factory=list)


def _step_factor(days: np.ndarray, changes, default: float) -> np.ndarray:
    out = np.full(len(days), default, dtype=float)
    for when, value in changes:
        out[days >= np.datetime64(when)] = value
    return out


def _ewm(x: np.ndarray, alpha: float) -> np.ndarray:
    return pd.Series(x).ewm(alpha=alpha, adjust=False).mean().to_numpy()


@dataclass
class World:
    """What every building of the town shares: time, weather, calendar, bookings, faults."""

    seed: int
    clock: Clock
    weather: Weather
    t_eff: np.ndarray  # outdoor temperature smoothed by a building's inertia
    t_free: np.ndarray  # where an unheated room drifts: outdoor + sun and internal gains
    heating_day: np.ndarray  # per day: heating allowed (season, or a cold shoulder day)
    public_holiday: np.ndarray  # per day
    school_off: np.ndarray  # per day
    mmdd: np.ndarray  # per day
    bookings: pd.DataFrame
    episodes: list[dict]


def simulate(
    portfolio: dict,
    seed: int = 42,
    today: dt.datetime | dt.date | None = None,
    start: dt.date | None = None,
) -> DemoData:
    """Everything the demo records, as frames; nothing is written."""
    now = _now(today)
    now_local = now.astimezone(TZ).date()
    end_day = dt.date(season_of(now_local) + 1, 7, 1)
    clock = Clock.build(end_day)
    weather = simulate_weather(clock, seed)
    mmdd = _mmdd(clock.days)
    roll3 = pd.Series((weather.tn_c + weather.tx_c) / 2).rolling(3, min_periods=1).mean()
    shoulder = _in_yearly_span(mmdd, "09-15", "09-30") | _in_yearly_span(mmdd, "05-21", "06-10")
    years = range(ORIGIN.year, end_day.year + 1)
    world = World(
        seed=seed,
        clock=clock,
        weather=weather,
        t_eff=_ewm(weather.hourly_c, 0.15),
        t_free=_ewm(weather.hourly_c, 0.04) + 4.0,
        heating_day=_in_yearly_span(mmdd, SEASON_START, SEASON_END)
        | (shoulder & (roll3.to_numpy() < 12.0)),
        public_holiday=np.isin(
            clock.days, np.array(sorted(public_holidays(years)), dtype="datetime64[D]")
        ),
        school_off=school_holidays(clock.days),
        mmdd=mmdd,
        bookings=simulate_bookings(seed, dt.date(2023, 9, 1), now_local + dt.timedelta(days=56)),
        episodes=_fault_episodes(clock, now),
    )
    sims: dict[str, BuildingSim] = {}
    room_temps: dict[str, np.ndarray] = {}
    for b in portfolio["buildings"]:
        sims[b["code"]], rooms = _simulate_building(world, b)
        room_temps.update(rooms)
    data = DemoData(
        seed=seed,
        now_ts=int(now.timestamp()),
        start_ts=int(to_epoch(local_to_utc([pd.Timestamp(start or ORIGIN)]))[0]),
        clock=clock,
        weather=weather,
        buildings=sims,
        rooms=room_temps,
        bookings=world.bookings,
        conversion=_conversion_factors(seed, clock),
        fault_episodes=world.episodes,
    )
    _gas_indexes(data, portfolio)
    _nb_references(data)
    _reading_frames(data, portfolio)
    return data


def _simulate_building(w: World, b: dict) -> tuple[BuildingSim, dict[str, np.ndarray]]:
    """One building's hour-by-hour heat, gas, boiler and room temperatures.

    Heat follows a signature on the smoothed outdoor temperature: full balance temperature while
    occupied (schedule, preheating, bookings weighted by the room's share of the area), lower at
    night, lower still on idle days, frost protection when closed for holidays; a boost when
    the building comes out of setback; scaled so that the 2023-24 season uses `kwh_m2`.
    """
    clock, seed, code = w.clock, w.seed, b["code"]
    dh = clock.day_of_hour
    n = len(clock.ts)
    prof = behaviour()["profiles"].get(code)
    if prof is None:
        raise ValueError(f"data/demo/simulation.yaml : pas de profil pour le bâtiment « {code} »")
    area = float(b["heated_area_m2"])
    rooms = [
        r
        for r in b.get("rooms", [])
        if any(c.get("room") == r["code"] for c in b.get("channels", []))
    ]
    occ = schedule_mask(b.get("schedule"), clock)
    closed = w.public_holiday | (w.school_off if prof.school else False)
    for a, z in prof.closures:
        closed = closed | _in_yearly_span(w.mmdd, a, z)
    occ &= ~closed[dh]
    comfort = occ.copy()  # from `preheat_h` hours before the building opens
    for k in range(1, prof.preheat_h + 1):
        comfort[:-k] |= occ[k:]
    if code == WEEKEND_HEATED:  # every weekend, Saturday 07:00 to Sunday 23:00, booked or not
        wd = np.where(clock.hour == 0, (clock.weekday - 1) % 7, clock.weekday)
        comfort |= ((wd == 5) & (clock.hour >= 8)) | (wd == 6)
    share = np.zeros(n)
    room_heat = {}
    for r in rooms:
        heated, target = _room_heated(w.bookings[w.bookings["room"] == r["code"]], clock)
        room_heat[r["code"]] = (heated, target)
        share = np.maximum(share, heated * min(1.0, float(r.get("area_m2", 50)) / area))
    frac = np.maximum(comfort.astype(float), share)
    setback = np.full(n, prof.setback_k)
    if code == OVERRUN[0]:
        day = clock.days[dh]
        setback[(day >= np.datetime64(OVERRUN[1])) & (day < np.datetime64(OVERRUN[2]))] = 1.5
    frost = closed[dh] & ~comfort & (share == 0)  # holidays: frost protection only
    bal_c = prof.balance_c
    # a whole day without use gets the deeper weekend setback (2 K below the night one)
    idle_day = np.bincount(dh, weights=frac, minlength=len(clock.days)) == 0
    bal_sb = np.where(frost, 7.0, bal_c - setback - 2.0 * idle_day[dh])
    demand = frac * np.maximum(0, bal_c - w.t_eff) + (1 - frac) * np.maximum(0, bal_sb - w.t_eff)
    boost = comfort & ~np.roll(comfort, 1)
    boost |= np.roll(boost, 1)
    demand *= np.where(boost & ~frost, 1.5, 1.0)
    fault = np.zeros(n, dtype=np.int64)
    for ep in w.episodes:
        if ep["building"] == code:
            fault[ep["i0"] : ep["i1"]] = ep["code"]
    heating_on = w.heating_day[dh] & (fault == 0)
    demand *= heating_on
    demand *= _step_factor(clock.days, prof.changes, 1.0)[dh]
    demand *= np.exp(_rng(seed, "gas-daily", code).normal(0, 0.05, len(clock.days)))[dh]
    demand *= np.exp(_rng(seed, "gas-hourly", code).normal(0, 0.12, n))
    eta = _step_factor(clock.days, prof.eta_changes, prof.eta_pci)[dh]
    open_day = np.bincount(dh, weights=occ, minlength=len(clock.days))[dh]
    dhw = np.where(
        open_day > 0,
        prof.dhw_kwh_day * (0.1 / 24 + 0.9 * occ / np.maximum(open_day, 1)),
        prof.dhw_kwh_day * 0.1 / 24,
    )
    ref_a, ref_b = season_days(2023)
    ref = (clock.days[dh] >= np.datetime64(ref_a)) & (clock.days[dh] <= np.datetime64(ref_b))
    unit_fuel = demand / eta * PCS_PCI
    ua = (prof.kwh_m2 * area - dhw[ref].sum()) / unit_fuel[ref].sum()
    boilers = [
        e for e in b.get("equipment", []) if e["kind"] == "boiler" and not e.get("removed_on")
    ]
    heat = np.minimum(ua * demand, sum(float(e.get("power_kw", 0)) for e in boilers))
    fuel = np.where(fault > 0, 0.0, heat / eta * PCS_PCI + dhw)  # locked out: no hot water
    runtime = np.clip(heat / (0.7 * float(boilers[0]["power_kw"])), 0, 1)
    runtime = np.where(fuel - dhw > 0, np.maximum(runtime, 0.05), runtime)
    design = ua * (bal_c + 7.0)
    flow_eq = np.where(heat > 0, 32.0 + 40.0 * np.clip(heat / design, 0, 1.2), 24.0)
    flow = _ewm(flow_eq, 0.6) + _rng(seed, "flow", code).normal(0, 0.6, n)
    sim = BuildingSim(
        code,
        np.zeros(0),
        fuel,
        heat,
        np.round(flow, 1),
        np.round(runtime, 3),
        fault,
        comfort,
        heating_on,
    )
    # rooms: first-order response to the temperature they are heated to (or drift to)
    base = np.where(frost, 12.0, np.where(comfort, prof.comfort_c, prof.comfort_c - setback))
    temps = {}
    for r in rooms:
        heated, target = room_heat[r["code"]]
        want = np.where(heated, np.maximum(target, base), base)
        eq_c = np.where(heating_on, np.maximum(want, w.t_free), w.t_free)
        alpha = 0.6 if float(r.get("area_m2", 50)) < 150 else 0.45
        noise = _rng(seed, "room", r["code"]).normal(0, 0.15, n)
        temps[r["code"]] = np.round(_ewm(eq_c, alpha) + noise, 1)
    return sim, temps


def _now(today) -> dt.datetime:
    if today is None:
        now = dt.datetime.now(dt.UTC)
    elif isinstance(today, dt.datetime):
        now = today if today.tzinfo else today.replace(tzinfo=TZ)
    else:  # a date: the build happens at its local midnight
        now = dt.datetime.combine(today, dt.time(0, 0), tzinfo=TZ)
    now = now.astimezone(dt.UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def _fault_episodes(clock: Clock, now: dt.datetime) -> list[dict]:
    """Boiler lock-outs: hours [i0, i1) of the clock with their fault code."""
    out = []
    yesterday = (now.astimezone(TZ) - dt.timedelta(days=1)).replace(tzinfo=None)
    for building, start, hours, code, closed in (
        (*BOILER_FAULT, True),
        (OPEN_FAULT[0], yesterday.replace(hour=5, minute=0), OPEN_FAULT[2], OPEN_FAULT[1], False),
    ):
        ts0 = int(to_epoch(local_to_utc([start], ambiguous="NaT", nonexistent="NaT"))[0])
        if ts0 + hours * 3600 > now.timestamp() or ts0 < clock.ts[0]:
            continue
        i0 = int((ts0 - clock.ts[0]) // 3600) + 1  # readings after the lock-out began
        out.append(
            dict(
                building=building,
                start_ts=ts0,
                end_ts=ts0 + hours * 3600,
                i0=i0,
                i1=i0 + hours,
                code=code,
                label=FAULT_LABELS[code],
                closed=closed,
            )
        )
    return out


def _conversion_factors(seed: int, clock: Clock) -> pd.DataFrame:
    """Monthly PCS coefficients as published by the gas distributor (about 11.1-11.35)."""
    months = pd.period_range(ORIGIN, pd.Timestamp(clock.days[-1]), freq="M")
    rng = _rng(seed, "pcs")
    values = np.round(
        11.22
        + 0.06 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)
        + rng.normal(0, 0.04, len(months)),
        3,
    )
    return pd.DataFrame({"valid_from": months.start_time.date, "kwh_per_unit": values})


def _gas_indexes(data: DemoData, portfolio: dict) -> None:
    clock = data.clock
    month_start = np.array(
        pd.to_datetime(data.conversion["valid_from"]).values, dtype="datetime64[D]"
    )
    pos = np.searchsorted(month_start, clock.days[clock.day_of_hour], side="right") - 1
    factor = data.conversion["kwh_per_unit"].to_numpy()[pos]
    for sim in data.buildings.values():
        sim.gas_m3 = sim.fuel_kwh_pcs / factor


def _nb_references(data: DemoData) -> None:
    """NB of each building: its 2023-24 season consumption (MWh PCI) brought to 2,500 DJU."""
    a, b = season_days(2023)
    days = data.clock.days[data.clock.day_of_hour]
    ref = (days >= np.datetime64(a)) & (days <= np.datetime64(b))
    dju = data.weather.season_dju[2023]
    for code, sim in data.buildings.items():
        # energy of the day the gas was burnt; the index stamps it at the hour's end, which
        # moves one hour across midnight: negligible at this scale
        qt_pci = sim.fuel_kwh_pcs[ref].sum() / 1000.0 / PCS_PCI
        data.nb_mwh_pci[code] = round(qt_pci * 2500.0 / dju)


def _frame(ts: np.ndarray, values: np.ndarray, quality=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": ts,
            "value": values,
            "quality": np.zeros(len(ts), dtype="int64") if quality is None else quality,
        }
    )


def _reading_frames(data: DemoData, portfolio: dict) -> None:
    """Readings per channel code, between `start` and `now`, with the planted faults."""
    clock = data.clock
    keep = (clock.ts >= data.start_ts) & (clock.ts <= data.now_ts)
    ts = clock.ts
    out = data.readings
    out["LESQUIN-T"] = _frame(ts, data.weather.hourly_c)
    # daily weather is small: written from ORIGIN whatever `start`, for each day that is over
    next_midnight = np.r_[clock.midnight[1:], clock.midnight[-1] + 86400]
    day_keep = next_midnight <= data.now_ts
    out["LESQUIN-TN"] = _frame(clock.midnight, data.weather.tn_c)[day_keep]
    out["LESQUIN-TX"] = _frame(clock.midnight, data.weather.tx_c)[day_keep]
    out["LESQUIN-T"] = out["LESQUIN-T"][keep]
    for b in portfolio["buildings"]:
        code = b["code"]
        sim = data.buildings[code]
        prof = behaviour()["profiles"][code]
        chans = {
            c["quantity"]: c["code"] for c in b["channels"] if c["quantity"] != "temp_indoor_c"
        }
        # index at each reading: consumption of the hours before it, to 0.01 m3
        index = prof.index_start_m3 + np.concatenate([[0.0], np.cumsum(sim.gas_m3)[:-1]])
        quality = np.zeros(len(ts), dtype="int64")
        if code == METER_CHANGE[0]:
            index, quality = _replace_meter(data, index, sim)
        gas = _frame(ts, np.round(index, 2), quality)[keep]
        if code == MISSING_WEEK[0]:
            lo = int(to_epoch(local_to_utc([pd.Timestamp(MISSING_WEEK[1])]))[0])
            hi = lo + MISSING_WEEK[2] * 86400  # no DST change in January
            gas = gas[(gas["ts"] < lo) | (gas["ts"] >= hi)]
        out[chans["gas_volume_m3"]] = gas
        hours = prof.burner_hours_start + np.concatenate([[0.0], np.cumsum(sim.runtime_h)[:-1]])
        out[chans["burner_hours"]] = _frame(ts, np.round(hours, 2))[keep]
        out[chans["temp_flow_c"]] = _frame(ts, sim.flow_c)[keep]
        # the controller logs its fault code on change, plus a heartbeat at local midnight
        code_ = sim.fault_code.astype(float)
        changed = np.r_[True, code_[1:] != code_[:-1]] | (code_ > 0)
        logged = changed | np.isin(ts, clock.midnight)
        out[chans["fault_code"]] = _frame(ts[logged], code_[logged])[keep[logged]]
        for c in b["channels"]:
            if c["quantity"] == "temp_indoor_c":
                out[c["code"]] = _frame(ts, data.rooms[c["room"]])[keep]


def _replace_meter(data: DemoData, index: np.ndarray, sim: BuildingSim):
    """The old meter closes at its final index, the new one starts near zero."""
    clock = data.clock
    when = int(to_epoch(local_to_utc([METER_CHANGE[1]]))[0])
    quality = np.zeros(len(index), dtype="int64")
    i = int(np.searchsorted(clock.ts, when, side="right"))  # first reading of the new meter
    if i >= len(index) or when < clock.ts[0]:
        return index, quality
    hour_m3 = sim.gas_m3[i - 1]  # consumption of the hour [ts[i-1], ts[i])
    before = (when - clock.ts[i - 1]) / 3600.0
    old_final = round(index[i - 1] + hour_m3 * before, 2)
    new_start = METER_CHANGE[2]
    new = index.copy()
    new[i:] = new_start + (index[i:] - index[i - 1] - hour_m3 * before)
    quality[i] = int(Quality.RESET)
    data.meter_change = dict(
        building=METER_CHANGE[0],
        ts=int(clock.ts[i]),
        when_ts=when,
        old_final=old_final,
        new_start=new_start,
        first_new=round(float(new[i]), 2),
    )
    return new, quality


# --- writing --------------------------------------------------------------------------------


def load_demo_portfolio() -> dict:
    return yaml.safe_load(portfolio_path().read_text(encoding="utf-8"))


def build_demo(
    engine: Engine,
    seed: int = 42,
    today: dt.datetime | dt.date | None = None,
    start: dt.date | None = None,
    passwords: bool = True,
) -> dict:
    """Load the demo portfolio into an empty database and write the simulated record.

    Returns a summary (counts, DJU per season, seconds). `start` limits the readings written
    (the simulation itself always starts at ORIGIN); `today` defaults to now.
    """
    from carnet.portfolio import load_portfolio
    from carnet.users import set_user

    t0 = time.perf_counter()
    portfolio = load_demo_portfolio()
    data = simulate(portfolio, seed=seed, today=today, start=start)
    now = dt.datetime.fromtimestamp(data.now_ts, dt.UTC)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Building)):
            raise RuntimeError("la base de démonstration n'est pas vide")
        batch = ImportBatch(
            source=f"carnet demo (graine {seed})",
            origin="demo",
            format="demo",
            user_login="demo",
            status="running",
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        load_portfolio(session, portfolio_path(), actor="demo")
        if passwords:
            for user in portfolio["users"]:
                set_user(
                    session,
                    user["login"],
                    user["role"],
                    contract_code=user.get("contract"),
                    password=DEMO_PASSWORD.format(login=user["login"]),
                    actor="demo",
                )
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Channel.code, Channel.id)).all())
        for code in data.buildings:
            gas_id = ids[_gas_code(portfolio, code)]
            session.add_all(
                ConversionFactor(
                    channel_id=gas_id,
                    valid_from=row.valid_from,
                    kwh_per_unit=float(row.kwh_per_unit),
                    batch_id=batch_id,
                )
                for row in data.conversion.itertuples()
            )
        history = _write_history(session, data, portfolio, now)
        _write_bookings(session, data, now)
    t_meta = time.perf_counter()
    counts = UpsertCounts()
    with engine.begin() as conn:  # one frame per channel, rollups once at the end
        for code, frame in data.readings.items():
            frame = frame.assign(channel_id=ids[code])
            counts = counts + upsert_readings(conn, frame, batch_id=batch_id, refresh=False)
        windows = [
            (ids[code], int(f["ts"].min()), int(f["ts"].max()))
            for code, f in data.readings.items()
            if len(f)
        ]
        recompute_daily(conn, windows)
    with session_scope(engine) as session:
        batch = session.get(ImportBatch, batch_id)
        batch.rows_read = counts.total
        batch.rows_inserted, batch.rows_updated = counts.inserted, counts.updated
        batch.rows_unchanged = counts.unchanged
        batch.status, batch.finished_at = "ok", utcnow()
    rows = counts.total
    elapsed = time.perf_counter() - t0
    return {
        "seed": seed,
        "today": now.isoformat(),
        "buildings": len(portfolio["buildings"]),
        "channels": len(ids),
        "readings": rows,
        "bookings": int((data.bookings["start_ts"] >= data.start_ts).sum()),
        "logbook_entries": history["logbook"],
        "obligations": history["obligations"],
        "dju_by_season": season_dju_recorded(data),
        "nb_mwh_pci": data.nb_mwh_pci,
        "seconds_simulation_and_record": round(t_meta - t0, 1),
        "seconds": round(elapsed, 1),
    }


def season_dju_recorded(data: DemoData) -> dict[str, float]:
    """COSTIC DJU per season from the daily min/max written (the current season: to date)."""
    tn, tx = data.readings["LESQUIN-TN"], data.readings["LESQUIN-TX"]
    days = local_dates(tn["ts"].to_numpy())
    dju = costic_dju(tn["value"].to_numpy(), tx["value"].to_numpy())
    out = {}
    for season in sorted(data.weather.season_dju):
        a, b = season_days(season)
        m = (days >= np.datetime64(a)) & (days <= np.datetime64(b))
        if m.any():
            out[f"{season}-{season + 1}"] = round(float(dju[m].sum()), 1)
    return out


def _gas_code(portfolio: dict, building: str) -> str:
    b = next(b for b in portfolio["buildings"] if b["code"] == building)
    return next(c["code"] for c in b["channels"] if c["quantity"] == "gas_volume_m3")


def _utc(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC)


def _write_bookings(session, data: DemoData, now: dt.datetime) -> None:
    """Bookings as the programmer would have entered them; a weekly series shares the id of
    its first occurrence as `series_id`, as `carnet.bookings` does."""
    rooms = dict(session.execute(select(Room.code, Room.id)).all())
    b = data.bookings
    b = b[b["start_ts"] >= data.start_ts].sort_values("start_ts")
    future = b["start_ts"] > data.now_ts
    pending = _uniform(data.seed, "option", b["start_ts"].to_numpy()) < 0.2
    option = future & pending & b["series_id"].isna()  # events not yet confirmed
    # entered three weeks ahead; a series all at once, before its first occurrence
    first = b.groupby("series_id")["start_ts"].transform("min")
    entered = np.where(b["series_id"].notna(), first, b["start_ts"]) - 21 * 86400
    entered = np.minimum(entered, int(now.timestamp()))
    bookings = [
        Booking(
            room_id=rooms[r.room],
            title=r.title,
            organiser=r.organiser,
            attendance=int(r.attendance),
            starts_at=_utc(r.start_ts),
            ends_at=_utc(r.end_ts),
            status="option" if opt else r.status,
            setpoint_c=float(r.setpoint_c),
            preheat_min=int(r.preheat_min),
            heating_note=r.heating_note,
            created_by="culture",
            created_at=_utc(c),
            updated_at=_utc(c),
        )
        for r, opt, c in zip(b.itertuples(), option, entered, strict=True)
    ]
    session.add_all(bookings)
    session.flush()
    series_ids: dict[int, int] = {}
    for booking, sid in zip(bookings, b["series_id"], strict=True):
        if not pd.isna(sid):
            booking.series_id = series_ids.setdefault(int(sid), booking.id)


def _write_history(session, data: DemoData, portfolio: dict, now: dt.datetime) -> dict:
    """The carnet de santé: obligations with their past completions, works, observations,
    alarms, the meter change. Written with the ORM, dated in the past."""
    from carnet.demo_history import write_history  # it needs the obligations templates

    return write_history(session, data, portfolio, now)


def readings_checksum(frames: dict[str, pd.DataFrame], lo: int, hi: int) -> str:
    """A digest of the readings with lo <= ts < hi (to check determinism)."""
    h = hashlib.sha256()
    for code in sorted(frames):
        f = frames[code]
        f = f[(f["ts"] >= lo) & (f["ts"] < hi)]
        h.update(code.encode())
        h.update(f["ts"].to_numpy(dtype="int64").tobytes())
        h.update(np.round(f["value"].to_numpy(dtype=float), 3).tobytes())
    return h.hexdigest()


def existing_demo(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return bool(session.scalar(select(func.count()).select_from(Building)))


def interrupted_demo(engine: Engine) -> bool:
    """A demo build that did not finish (its batch is still « running »)."""
    with session_scope(engine) as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(ImportBatch)
                .where(ImportBatch.origin == "demo", ImportBatch.status != "ok")
            )
        )
