"""Data of the retours d'expérience page (`/retours-experience`): the ones the user sees, with
their links, accounts and decisions, and the page's actions through `carnet.rex` (which
checks roles and scope itself: the page only hides what it refuses)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from carnet.access import ActorLike
from carnet.buildings import visible_buildings
from carnet.db import session_scope
from carnet.rex import (
    add_decision,
    complete_decision,
    decisions_frame,
    open_rex,
    record_lessons,
    rex_detail,
    rex_frame,
    write_account,
)


def rex_page(engine: Engine, user: ActorLike, open_only: bool = False) -> dict:
    """{"rex": [detail, ...] newest first, "buildings": [(code, name)], "open_decisions":
    [{id, label}]} for the user."""
    with session_scope(engine) as s:
        frame = rex_frame(s, user, open_only=open_only)
        details = [rex_detail(s, user, int(i)) for i in frame["id"]]
        buildings = [(b.code, b.name) for b in visible_buildings(s, user)]
        decisions = decisions_frame(s, user, open_only=True)
    return {
        "rex": details,
        "buildings": buildings,
        "open_decisions": [
            {"id": int(d.id), "label": f"n° {d.rex_id} · {d.text} ({d.owner})"}
            for d in decisions.itertuples()
        ],
    }


def parse_ids(text: str | None) -> list[int]:
    """« 12, 15 » -> [12, 15] (entry or booking numbers typed in a field)."""
    out = []
    for part in (text or "").replace(";", ",").replace(" ", ",").split(","):
        part = part.strip().lstrip("n°").strip()
        if part:
            if not part.isdigit():
                raise ValueError(f"numéro illisible « {part} »")
            out.append(int(part))
    return out


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def open_one(engine: Engine, user: ActorLike, building: str, title: str, summary: str,
             occurred_on: str | None, entries: str | None, bookings: str | None) -> int:  # fmt: skip
    with session_scope(engine) as s:
        rex = open_rex(
            s, user, building, title, summary, occurred_on=_day(occurred_on),
            entries=parse_ids(entries), bookings=parse_ids(bookings),
        )  # fmt: skip
        return rex.id


def account(engine: Engine, user: ActorLike, rex_id: int, text: str) -> None:
    with session_scope(engine) as s:
        write_account(s, user, rex_id, text)


def lessons(engine: Engine, user: ActorLike, rex_id: int, text: str) -> None:
    with session_scope(engine) as s:
        record_lessons(s, user, rex_id, text)


def decision(engine: Engine, user: ActorLike, rex_id: int, text: str, owner: str,
             due_on: str | None) -> int:  # fmt: skip
    with session_scope(engine) as s:
        return add_decision(s, user, rex_id, text, owner, _day(due_on)).id


def decision_done(engine: Engine, user: ActorLike, decision_id: int) -> None:
    with session_scope(engine) as s:
        complete_decision(s, user, decision_id)
