"""Data of the users' screens page (`/ecrans-usagers`): per building, its consumption month by
month beside the signalements made and answered and the behaviour actions recorded (logbook
kind `usage`), and the building's screen (address, "what you can do here" list)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from carnet.access import ActorLike
from carnet.buildings import visible_buildings
from carnet.db import session_scope
from carnet.display import contributions, display_of, display_path, set_tips, set_token
from carnet.frames import rollups
from carnet.models import Building, Contract, ContractBuilding
from carnet.obligations import local_today

MONTHS = 24


def _channel_id(session, code: str) -> int | None:
    return session.scalar(
        select(ContractBuilding.channel_id)
        .join(Building, ContractBuilding.building_id == Building.id)
        .join(Contract, ContractBuilding.contract_id == Contract.id)
        .where(Building.code == code, ContractBuilding.channel_id.is_not(None))
        .order_by(Contract.starts_on.desc())
        .limit(1)
    )


def monthly_energy(engine: Engine, channel_id: int | None, today: dt.date) -> pd.DataFrame:
    """month (first day), energy_kwh over the last MONTHS months."""
    if channel_id is None:
        return pd.DataFrame(columns=["month", "energy_kwh"])
    start = (pd.Timestamp(today) - pd.DateOffset(months=MONTHS)).date().replace(day=1)
    roll = rollups(engine, [channel_id], start, today)
    energy = roll["energy_kwh"].where(roll["energy_kwh"].notna(), roll["value"])
    month = pd.DatetimeIndex(roll["day"]).to_period("M").to_timestamp()
    out = energy.groupby(month).sum(min_count=1).rename("energy_kwh").reset_index()
    return out.rename(columns={"index": "month", "day": "month"})


def screens_page(engine: Engine, user: ActorLike, building: str | None) -> dict:
    with session_scope(engine) as s:
        buildings = [(b.code, b.name) for b in visible_buildings(s, user)]
        code = building or (buildings[0][0] if buildings else None)
        if code is None:
            return {"buildings": [], "building": None}
        events = contributions(s, user, code)
        screen = display_of(s, user, code)
        channel_id = _channel_id(s, code)
    made = [e for e in events if e["kind"] == "observation"]
    return {
        "buildings": buildings,
        "building": code,
        "events": events,
        "counts": {
            "made": len(made),
            "answered": sum(e["answered"] for e in made),
            "usage": sum(e["kind"] == "usage" for e in events),
        },
        "energy": monthly_energy(engine, channel_id, local_today()),
        "path": display_path(screen["token"]) if screen["token"] else None,
        "tips": "\n".join(screen["tips"]),
    }


def renew(engine: Engine, user: ActorLike, building: str, revoke: bool) -> str | None:
    with session_scope(engine) as s:
        token = set_token(s, user, building, revoke=revoke)
    return display_path(token) if token else None


def write_tips(engine: Engine, user: ActorLike, building: str, text: str) -> int:
    with session_scope(engine) as s:
        return len(set_tips(s, user, building, text))
