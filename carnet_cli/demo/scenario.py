"""What the demo town is and how it behaves, as shipped in `data/demo/`: the portfolio
(`portfolio.yaml`, loaded into the record as is) and the simulated world (`simulation.yaml`:
each building's consumption profile, the bookings, the carnet's story), which is not."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from carnet.config import data_dir

DEMO_PASSWORD = "demo-{login}"  # the demo logins' passwords (printed by `carnet demo`)


def portfolio_path() -> Path:
    return data_dir() / "demo" / "portfolio.yaml"


def load_demo_portfolio() -> dict:
    return yaml.safe_load(portfolio_path().read_text(encoding="utf-8"))


def demo_passwords(portfolio: dict) -> dict[str, str]:
    return {u["login"]: DEMO_PASSWORD.format(login=u["login"]) for u in portfolio["users"]}


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


@dataclass(frozen=True)
class Series:
    """A weekly booking of a room, outside school holidays and the summer."""

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
