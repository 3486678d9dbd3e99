"""The demo town's buildings: hour by hour, the heat each needs (a heating signature on the
smoothed outdoor temperature, its opening hours, bookings and holidays), the gas its boilers
burn, their flow temperature, burner hours and fault codes, the rooms' temperatures, and the
meters' readings that the record keeps of all that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carnet_cli.demo.bookings import room_heated
from carnet_cli.demo.calendar_weather import ORIGIN, Clock, Weather, heating_days, in_yearly_span
from carnet_cli.demo.faults import (
    METER_CHANGE,
    MISSING_WEEK,
    OVERRUN,
    WEEKEND_HEATED,
    drop_missing_week,
    replace_meter,
)
from carnet_cli.demo.scenario import Profile, behaviour
from carnet_cli.demo.streams import stream

PCS_PCI = 1.11  # natural gas: kWh PCS per kWh PCI
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# --- opening hours --------------------------------------------------------------------------


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


# --- buildings ------------------------------------------------------------------------------


@dataclass
class BuildingSim:
    """One building's simulated hours (per reading of the clock)."""

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
    """Everything the demo records, as frames, and what its build reports."""

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
    works: list[dict] = field(default_factory=list)  # the works programme, planted effects


def _step_factor(days: np.ndarray, changes, default: float) -> np.ndarray:
    out = np.full(len(days), default, dtype=float)
    for when, value in changes:
        out[days >= np.datetime64(when)] = value
    return out


def ewm(x: np.ndarray, alpha: float) -> np.ndarray:
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


def simulate_building(
    w: World, b: dict, profile: Profile | None = None
) -> tuple[BuildingSim, dict[str, np.ndarray]]:
    """One building's hour-by-hour heat, gas, boiler and room temperatures.

    Heat follows a signature on the smoothed outdoor temperature: full balance temperature while
    occupied (schedule, preheating, bookings weighted by the room's share of the area), lower at
    night, lower still on idle days, frost protection when closed for holidays; a boost when
    the building comes out of setback; scaled so that the 2023-24 season uses `kwh_m2`.
    `profile` replaces the building's own (what it would have used without a work).
    """
    clock, seed, code = w.clock, w.seed, b["code"]
    dh = clock.day_of_hour
    n = len(clock.ts)
    prof = profile or behaviour()["profiles"].get(code)
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
        closed = closed | in_yearly_span(w.mmdd, a, z)
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
        heated, target = room_heated(w.bookings[w.bookings["room"] == r["code"]], clock)
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
    demand *= np.exp(stream(seed, "gas-daily", code).normal(0, 0.05, len(clock.days)))[dh]
    demand *= np.exp(stream(seed, "gas-hourly", code).normal(0, 0.12, n))
    eta = _step_factor(clock.days, prof.eta_changes, prof.eta_pci)[dh]
    open_day = np.bincount(dh, weights=occ, minlength=len(clock.days))[dh]
    dhw = np.where(
        open_day > 0,
        prof.dhw_kwh_day * (0.1 / 24 + 0.9 * occ / np.maximum(open_day, 1)),
        prof.dhw_kwh_day * 0.1 / 24,
    )
    ref_a, ref_b = heating_days(2023)
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
    flow = ewm(flow_eq, 0.6) + stream(seed, "flow", code).normal(0, 0.6, n)
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
        noise = stream(seed, "room", r["code"]).normal(0, 0.15, n)
        temps[r["code"]] = np.round(ewm(eq_c, alpha) + noise, 1)
    return sim, temps


def conversion_factors(seed: int, clock: Clock) -> pd.DataFrame:
    """Monthly PCS coefficients as published by the gas distributor (about 11.1-11.35)."""
    months = pd.period_range(ORIGIN, pd.Timestamp(clock.days[-1]), freq="M")
    rng = stream(seed, "pcs")
    values = np.round(
        11.22
        + 0.06 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)
        + rng.normal(0, 0.04, len(months)),
        3,
    )
    return pd.DataFrame({"valid_from": months.start_time.date, "kwh_per_unit": values})


def gas_volumes(data: DemoData) -> None:
    """The gas each building's meter counts: its energy over the month's PCS coefficient."""
    clock = data.clock
    month_start = np.array(
        pd.to_datetime(data.conversion["valid_from"]).values, dtype="datetime64[D]"
    )
    pos = np.searchsorted(month_start, clock.days[clock.day_of_hour], side="right") - 1
    factor = data.conversion["kwh_per_unit"].to_numpy()[pos]
    for sim in data.buildings.values():
        sim.gas_m3 = sim.fuel_kwh_pcs / factor


def nb_references(data: DemoData) -> None:
    """NB of each building: its 2023-24 season consumption (MWh PCI) brought to 2,500 DJU."""
    a, b = heating_days(2023)
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


def reading_frames(data: DemoData, portfolio: dict) -> None:
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
            index, quality, data.meter_change = replace_meter(clock, index, sim.gas_m3)
        gas = _frame(ts, np.round(index, 2), quality)[keep]
        if code == MISSING_WEEK[0]:
            gas = drop_missing_week(gas)
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
