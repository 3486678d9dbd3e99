"""Data of the buildings list (`/batiments`): the buildings in the user's scope and what needs
attention in each. The page only lays it out."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import ActorLike
from carnet.buildings import visible_buildings
from carnet.db import session_scope
from carnet.logbook_timeline import entry_counts
from carnet.obligations import obligations_frame
from carnet.roles import is_programmer


def building_rows(engine: Engine, user: ActorLike) -> list[dict]:
    """One dict per building the user may see (`code`, `name`, `usage`); with, except for the
    programmer (rooms only), `observations` to triage, `late` obligations and open `alarms`."""
    with session_scope(engine) as s:
        buildings = [(b.id, b.code, b.name, b.usage) for b in visible_buildings(s, user)]
        if is_programmer(user.role):
            return [{"code": c, "name": n, "usage": u} for _, c, n, u in buildings]
        observations = entry_counts(s, "observation", ["open"], unmerged=True)
        alarms = entry_counts(s, "alarm", ["open", "in_progress"])
        frame = obligations_frame(s, user, overdue_only=True)
    late = frame.groupby("building_code").size()
    return [
        {
            "code": code,
            "name": name,
            "usage": usage,
            "observations": observations.get(bid, 0),
            "late": int(late.get(code, 0)),
            "alarms": alarms.get(bid, 0),
        }
        for bid, code, name, usage in buildings
    ]
