"""Data of « Mes signalements » (`/mes-signalements`): the user's observations with their
answers, and the report form address (QR token) of each building the user may see."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import ActorLike
from carnet.buildings import visible_buildings
from carnet.db import session_scope
from carnet.logbook_timeline import my_observations


def my_reports(engine: Engine, user: ActorLike) -> tuple[list[dict], list[tuple[str, str]]]:
    """(the user's observations as records, [(building name, QR token)])."""
    with session_scope(engine) as s:
        frame = my_observations(s, user)
        buildings = [(b.name, b.qr_token) for b in visible_buildings(s, user) if b.qr_token]
    return frame.astype(object).where(frame.notna(), None).to_dict("records"), buildings
