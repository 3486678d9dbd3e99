"""A synthetic town for the savings dashboard: a weather station with hourly temperatures and
daily Tn/Tx, and buildings whose hourly gas index follows a heating law with night and weekend
setback (or not: `night_heating`), loaded through the real portfolio loader and store. With
`indoor=True` each building also logs the hourly indoor temperature of its main room (the
channel comfort reads), so that a town has the two hourly channels per building of a real
portfolio (issue 17: 100 buildings x 5 years = 8.8 M readings).

Everything is generated with array operations (no loop per reading); `make_town` returns the
channel ids so that a test can recompute what it needs from the readings it wrote.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from carnet.db import session_scope
from carnet.models import Channel
from carnet.portfolio import load_portfolio
from carnet.store import write_readings
from carnet.timeutil import TZ_NAME, to_epoch

KWH_PER_M3 = 11.2
STATION = "TEST-STATION"
CONTRACT = "TEST-CONTRAT"  # the test contractor's contract (tests.helpers.browser)
OTHER = "AUTRE"


@dataclass(frozen=True)
class TownBuilding:
    code: str
    name: str
    ua_kw_per_k: float  # heating power per kelvin of (setpoint - outdoor)
    contract: str
    nb_mwh_pci: float
    night_heating: bool = False  # heats 24/7 instead of setting back at night and weekends
    reporting_factor: float = 1.0  # consumption multiplier from `savings_from` on


def main_room(b: TownBuilding) -> str:
    return f"{b.code}-SALLE"


def indoor_channel(b: TownBuilding) -> str:
    return f"{b.code}-TINT"


def town_document(buildings: list[TownBuilding], starts_on: dt.date, indoor: bool = False) -> dict:
    """The portfolio (YAML shape of issue 2) of the station, buildings and their contracts;
    with `indoor`, each building's main room and its indoor temperature channel."""
    contracts: dict[str, list] = {}
    for b in buildings:
        contracts.setdefault(b.contract, []).append(
            {
                "building": b.code,
                "channel": f"{b.code}-GAZ",
                "nb_mwh_pci": b.nb_mwh_pci,
                "dju_ref": 2400,
            }
        )
    return {
        "stations": [
            {
                "code": STATION,
                "name": "Station de test",
                "channels": [
                    {"code": "TST-TN", "quantity": "temp_min_c", "kind": "instant", "unit": "degC"},
                    {"code": "TST-TX", "quantity": "temp_max_c", "kind": "instant", "unit": "degC"},
                    {
                        "code": "TST-T",
                        "quantity": "temp_outdoor_c",
                        "kind": "instant",
                        "unit": "degC",
                    },
                ],
            }
        ],
        "buildings": [building_document(b, indoor) for b in buildings],
        "contracts": [
            {
                "code": code,
                "contractor": f"Exploitant {code}",
                "starts_on": starts_on.isoformat(),
                "season": {"start": "10-01", "end": "05-20"},
                "degree_days": {"method": "costic", "base_c": 18, "station": STATION},
                "price_eur_per_mwh_pci": 92.5,
                "pcs_pci_ratio": 1.11,
                "sharing": {
                    "franchise_pct": 2,
                    "savings_share_contractor": 0.5,
                    "savings_cap_pct": 15,
                    "overrun_share_contractor": 1.0,
                },
                "buildings": rows,
            }
            for code, rows in contracts.items()
        ],
    }


def building_document(b: TownBuilding, indoor: bool) -> dict:
    doc = {
        "code": b.code,
        "name": b.name,
        "usage": "école",
        "heated_area_m2": 1000,
        "station": STATION,
        "channels": [
            {
                "code": f"{b.code}-GAZ",
                "quantity": "gas_volume_m3",
                "kind": "index",
                "unit": "m3",
                "kwh_per_unit": KWH_PER_M3,
            }
        ],
    }
    if indoor:
        doc["rooms"] = [{"code": main_room(b), "name": "Salle principale", "area_m2": 200}]
        doc["channels"].append(
            {
                "code": indoor_channel(b),
                "quantity": "temp_indoor_c",
                "kind": "instant",
                "unit": "degC",
                "room": main_room(b),
            }
        )
    return doc


def hourly_weather(first: dt.date, last: dt.date, seed: int = 7) -> pd.Series:
    """Outdoor °C per UTC hour over the local days first..last: a yearly wave, a daily wave
    peaking mid-afternoon and a day-to-day random weather offset."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(first).tz_localize(TZ_NAME).tz_convert("UTC")
    end = pd.Timestamp(last + dt.timedelta(days=1)).tz_localize(TZ_NAME).tz_convert("UTC")
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    local = hours.tz_convert(TZ_NAME)
    doy = local.day_of_year.to_numpy()
    hour = local.hour.to_numpy()
    days = (local.normalize().tz_localize(None) - pd.Timestamp(first)).days.to_numpy()
    weather = np.convolve(rng.normal(0.0, 3.0, days.max() + 3), np.ones(3) / 3, mode="same")
    temp = (
        11.0
        - 8.0 * np.cos(2 * np.pi * (doy - 20) / 365.25)
        + 3.5 * np.sin(2 * np.pi * (hour - 9) / 24)
        + weather[days]
    )
    return pd.Series(np.round(temp, 1), index=hours, name="temp_c")


def hourly_setpoint_c(b: TownBuilding, temp: pd.Series) -> np.ndarray:
    """19 °C from 7h to 18h on weekdays (or always, with `night_heating`), 13 °C otherwise."""
    local = temp.index.tz_convert(TZ_NAME)
    occupied = (local.day_of_week < 5) & (local.hour >= 7) & (local.hour < 18)
    return np.where(occupied | b.night_heating, 19.0, 13.0)


def hourly_indoor_c(b: TownBuilding, temp: pd.Series, seed: int) -> np.ndarray:
    """Indoor °C per hour of the main room: the setpoint reached over about three hours (a
    3-hour moving mean), never below what the outdoor weather alone gives the building (free
    gains: warm in summer), plus a tenth of a degree of sensor noise."""
    setpoint = pd.Series(hourly_setpoint_c(b, temp)).rolling(3, min_periods=1).mean().to_numpy()
    free = 10.0 + 0.5 * temp.to_numpy()
    noise = np.random.default_rng(seed).normal(0.0, 0.1, len(temp))
    return np.round(np.maximum(setpoint, free) + noise, 1)


def hourly_gas_kwh(b: TownBuilding, temp: pd.Series, savings_from: dt.date) -> np.ndarray:
    """kWh PCS per hour: UA x (setpoint - outdoor)+, setback 19 → 13 °C outside 7h-18h on
    weekdays unless the building heats at night, plus a small base load."""
    local = temp.index.tz_convert(TZ_NAME)
    setpoint = hourly_setpoint_c(b, temp)
    kwh = b.ua_kw_per_k * np.maximum(0.0, setpoint - temp.to_numpy()) + 0.8
    after = local.tz_localize(None).normalize() >= pd.Timestamp(savings_from)
    return kwh * np.where(after, b.reporting_factor, 1.0)


def make_town(
    engine: Engine,
    buildings: list[TownBuilding],
    first: dt.date,
    last: dt.date,
    starts_on: dt.date,
    savings_from: dt.date,
    indoor: bool = False,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Load the portfolio and write hourly readings first..last; returns channel code -> id.
    `indoor`: each building's main room also logs its hourly indoor temperature. `timings`
    receives `write_s`, the seconds of `write_readings` alone (a benchmark's figure, without
    the portfolio load and the generation)."""
    with session_scope(engine) as s:
        load_portfolio(s, town_document(buildings, starts_on, indoor), actor="test")
    with session_scope(engine) as s:
        ids = dict(s.execute(select(Channel.code, Channel.id)).all())
    temp = hourly_weather(first, last)
    ts = to_epoch(temp.index)
    frames = [pd.DataFrame({"channel_id": ids["TST-T"], "ts": ts, "value": temp.to_numpy()})]
    local_day = temp.index.tz_convert(TZ_NAME).tz_localize(None).normalize()
    daily = temp.groupby(local_day).agg(["min", "max"])
    noon = to_epoch(pd.DatetimeIndex(daily.index + pd.Timedelta(hours=12)).tz_localize(TZ_NAME))
    frames.append(pd.DataFrame({"channel_id": ids["TST-TN"], "ts": noon, "value": daily["min"]}))
    frames.append(pd.DataFrame({"channel_id": ids["TST-TX"], "ts": noon, "value": daily["max"]}))
    for i, b in enumerate(buildings):
        if indoor:
            frames.append(
                pd.DataFrame({"channel_id": ids[indoor_channel(b)], "ts": ts,
                              "value": hourly_indoor_c(b, temp, seed=100 + i)})
            )  # fmt: skip
        m3 = hourly_gas_kwh(b, temp, savings_from) / KWH_PER_M3
        # the index read at the start of each hour, and one more at the end of the last hour
        index = np.round(1000.0 + np.concatenate([[0.0], np.cumsum(m3)]), 3)
        frames.append(
            pd.DataFrame({"channel_id": ids[f"{b.code}-GAZ"], "ts": np.r_[ts, ts[-1] + 3600],
                          "value": index})
        )  # fmt: skip
    readings = pd.concat(frames, ignore_index=True).assign(quality=0)
    t0 = time.perf_counter()
    write_readings(engine, readings, None)
    if timings is not None:
        timings["write_s"] = time.perf_counter() - t0
    return ids


# the town of the savings page and of the backup tests: NB set on 2024-2025; ECOLE-A saves 12 %
# from 01/10/2025, SALLE-B (heated day and night) consumes 10 % more, GYM-C belongs to another
# contract
TOWN = [
    TownBuilding("ECOLE-A", "École Anatole-France", 2.0, CONTRACT, 80.0, reporting_factor=0.88),
    TownBuilding(
        "SALLE-B",
        "Salle Louise-Michel",
        1.5,
        CONTRACT,
        88.5,
        night_heating=True,
        reporting_factor=1.1,
    ),  # fmt: skip
    TownBuilding("GYM-C", "Gymnase Curie", 1.2, OTHER, 50.0),
]


def build_town(engine: Engine) -> dict[str, int]:
    """TOWN, hourly from 01/07/2024 to 20/05/2026, contracts from 01/07/2025; returns channel
    code -> id."""
    return make_town(
        engine, TOWN, dt.date(2024, 7, 1), dt.date(2026, 5, 20),
        starts_on=dt.date(2025, 7, 1), savings_from=dt.date(2025, 10, 1),
    )  # fmt: skip
