"""Data of the users' screen (`/affichage/<jeton>`): this week and this month against the same
days a year earlier (at comparable weather: per degree day) and against what the contract
expects for that weather (NB brought to the period's degree days), the comfort of the last
bookings, the open signalements and the manager's list. Only ratios and plain facts leave
here: no energy figure in MWh, no euro, no name."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import Engine, select

from carnet.db import session_scope
from carnet.display import building_for_token, public_view
from carnet.frames import energy_and_temperature, station_temperatures
from carnet.frames_comfort import comfort_frames
from carnet.models import Contract, ContractBuilding, Station
from carnet.timeutil import local_dates
from contract.comfort import booking_comfort
from contract.reports import degree_days

COMFORT_DAYS = 14
MIN_DJU = 5.0  # below, a period has too little heating to compare per degree day
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _place(session, building_id: int) -> dict | None:
    row = session.execute(
        select(ContractBuilding.channel_id, ContractBuilding.nb_mwh_pci, ContractBuilding.dju_ref,
               Contract.pcs_pci_ratio, Contract.dju_method, Contract.dju_base_c,
               Contract.station_id, Station.code)
        .join(Contract, ContractBuilding.contract_id == Contract.id)
        .join(Station, Station.id == Contract.station_id)
        .where(ContractBuilding.building_id == building_id, ContractBuilding.channel_id.is_not(None))
        .order_by(Contract.starts_on.desc())
        .limit(1)
    ).first()  # fmt: skip
    if row is None:
        return None
    keys = ("channel_id", "nb_mwh_pci", "dju_ref", "pcs_pci_ratio", "dju_method", "dju_base_c",
            "station_id", "station_code")  # fmt: skip
    return dict(zip(keys, row, strict=True))


def _period(engine: Engine, place: dict, a: dt.date, b: dt.date) -> tuple[float, float, float]:
    """(kWh, DJU, share of days with a reading) of local dates a..b."""
    days = energy_and_temperature(engine, place["channel_id"], place["station_id"], a, b)
    temps = station_temperatures(
        engine, place["station_id"], a, b, need_hourly=place["dju_method"] == "hourly"
    )
    dju = degree_days(temps, place["station_id"], place["station_code"], a, b,
                      method=place["dju_method"], base_c=place["dju_base_c"])  # fmt: skip
    energy = days["energy_kwh"].to_numpy(dtype=float)
    return float(np.nansum(energy)), float(dju["dju"].sum()), float(np.isfinite(energy).mean())


def compare(engine: Engine, place: dict, a: dt.date, b: dt.date, back: dt.timedelta) -> dict:
    """The period against the same days `back` earlier and against the contract's reference:
    `vs_last_year` and `vs_target` as fractions (-0.12 = 12 % less), None when unknown."""
    now_kwh, now_dju, cover = _period(engine, place, a, b)
    last_kwh, last_dju, last_cover = _period(engine, place, a - back, b - back)
    out = {"from": a, "to": b, "vs_last_year": None, "vs_target": None, "weather": None}
    if cover < 0.8:
        return out
    if last_cover >= 0.8 and last_kwh > 0:
        if now_dju >= MIN_DJU and last_dju >= MIN_DJU:
            out["vs_last_year"] = (now_kwh / now_dju) / (last_kwh / last_dju) - 1.0
            out["weather"] = "plus froid" if now_dju > last_dju * 1.05 else (
                "plus doux" if now_dju < last_dju * 0.95 else "comparable")  # fmt: skip
        else:
            out["vs_last_year"] = now_kwh / last_kwh - 1.0
    if place["dju_ref"] and now_dju >= MIN_DJU:
        target_kwh = place["nb_mwh_pci"] * 1000.0 * place["pcs_pci_ratio"] * now_dju
        target_kwh /= place["dju_ref"]
        out["vs_target"] = now_kwh / target_kwh - 1.0 if target_kwh > 0 else None
    return out


def last_comfort(engine: Engine, building_id: int, today: dt.date, limit: int = 5) -> list[dict]:
    """The last bookings' comfort: room, day, setpoint, reached in time (no booking title: it
    may name a person or an association)."""
    frames = comfort_frames(engine, today - dt.timedelta(days=COMFORT_DAYS), today,
                            {building_id}, temps_lookback_s=3600)  # fmt: skip
    comfort = booking_comfort(frames.bookings, frames.temps)
    if comfort.empty:
        return []
    names = dict(zip(frames.rooms["room_id"], frames.rooms["room_name"], strict=True))
    comfort = comfort.sort_values("start_ts", ascending=False).head(limit)
    days = local_dates(comfort["start_ts"].to_numpy())
    return [
        {
            "room": names.get(r.room_id, ""),
            "day": f"{WEEKDAYS_FR[d.weekday()]} {d:%d/%m}",
            "setpoint_c": float(r.setpoint_c),
            "ok": bool(r.reached and r.minutes_late <= 15 and r.share_ok >= 0.9),
        }
        for r, d in zip(comfort.itertuples(), (day.astype(dt.date) for day in days), strict=True)
    ]


def screen(engine: Engine, token: str, today: dt.date | None = None) -> dict | None:
    """Everything the screen shows, or None for an unknown or revoked token."""
    from carnet.obligations import local_today

    today = today or local_today()
    with session_scope(engine) as s:
        building = building_for_token(s, token)
        if building is None:
            return None
        view = public_view(s, building)
        place = _place(s, building.id)
    yesterday = today - dt.timedelta(days=1)
    view["week"] = view["month"] = None
    if place is not None:
        view["week"] = compare(engine, place, yesterday - dt.timedelta(days=6), yesterday,
                               dt.timedelta(days=364))  # fmt: skip
        first = yesterday.replace(day=1)
        view["month"] = compare(engine, place, first, yesterday, dt.timedelta(days=365))
    view["comfort"] = last_comfort(engine, view["building_id"], yesterday)
    view["today"] = today
    return view
