"""The users' screen of a building (`/affichage/<jeton>`): a hall screen or a phone shows how
the building is doing, without an account.

As with the iCal feeds (`carnet.ical`), the secret token in the URL is the access right: random,
replaced or cleared (revoked) by the manager, never written to the audit trail. What the screen
shows is chosen here to hold nothing personal or financial: the building's name, its open
signalements and their answers as text (no author, no login), and the "what you can do here"
list the manager writes.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError
from carnet.audit import record
from carnet.logbook_refs import resolve_building
from carnet.models import Building, BuildingDisplay, LogbookEntry
from carnet.roles import can

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MAX_TIPS = 8


def _require(actor: ActorLike) -> None:
    if not can(actor.role, "display.manage"):
        raise CarnetPermissionError(
            f"accès refusé : {actor.login} ({actor.role}) ne gère pas les écrans des bâtiments"
        )


def _display(session: Session, building: Building) -> BuildingDisplay:
    row = session.get(BuildingDisplay, building.id)
    if row is None:
        row = BuildingDisplay(building_id=building.id)
        session.add(row)
    return row


def set_token(session: Session, actor: ActorLike, building, revoke: bool = False) -> str | None:
    """A new secret for the building's screen (the old address stops working), or none."""
    _require(actor)
    building = resolve_building(session, building)
    row = _display(session, building)
    row.token = None if revoke else secrets.token_urlsafe(24)
    session.flush()
    record(session, actor.login, "revoke" if revoke else "update", "building_display",
           building.code, None, {"token": "(révoqué)" if revoke else "(régénéré)"})  # fmt: skip
    return row.token


def set_tips(session: Session, actor: ActorLike, building, text: str) -> list[str]:
    """The "what you can do here" list, one action a line (at most MAX_TIPS)."""
    _require(actor)
    building = resolve_building(session, building)
    tips = [line.strip(" -•\t") for line in (text or "").splitlines() if line.strip(" -•\t")]
    row = _display(session, building)
    row.tips = "\n".join(tips[:MAX_TIPS]) or None
    session.flush()
    record(session, actor.login, "update", "building_display", building.code, None,
           {"tips": row.tips})  # fmt: skip
    return tips[:MAX_TIPS]


def display_of(session: Session, actor: ActorLike, building) -> dict:
    """The manager's view of a building's screen: its token (None = none open) and list."""
    _require(actor)
    building = resolve_building(session, building)
    row = session.get(BuildingDisplay, building.id)
    return {
        "building": building.code,
        "token": row.token if row else None,
        "tips": (row.tips or "").splitlines() if row else [],
    }


def display_path(token: str) -> str:
    return f"/affichage/{token}"


def building_for_token(session: Session, token: str) -> Building | None:
    """The building a token opens, or None (unknown, revoked or malformed)."""
    if not token or not TOKEN_RE.match(token):
        return None
    return session.scalar(
        select(Building)
        .join(BuildingDisplay, BuildingDisplay.building_id == Building.id)
        .where(BuildingDisplay.token == token)
    )


def public_view(session: Session, building: Building, limit: int = 6) -> dict:
    """What the screen may show of the record: the list, the open signalements and the last
    answered ones, as text only (title, text, answer, status; never who)."""
    row = session.get(BuildingDisplay, building.id)
    stmt = (
        select(LogbookEntry.title, LogbookEntry.text, LogbookEntry.answer, LogbookEntry.status,
               LogbookEntry.occurred_at)
        .where(LogbookEntry.building_id == building.id, LogbookEntry.kind == "observation",
               LogbookEntry.status != "cancelled", LogbookEntry.merged_into_id.is_(None))
        .order_by(LogbookEntry.occurred_at.desc(), LogbookEntry.id.desc())
    )  # fmt: skip
    open_, answered = [], []
    for title, text, answer, status, at in session.execute(stmt):
        item = {"title": title, "text": text, "answer": answer, "status": status, "at": at}
        if status in ("open", "in_progress"):
            open_.append(item)
        elif answer and len(answered) < limit:
            answered.append(item)
    return {
        "building_id": building.id,
        "name": building.name,
        "tips": (row.tips or "").splitlines() if row else [],
        "open": open_[:limit],
        "answered": answered,
    }


def contributions(session: Session, actor: ActorLike, building) -> list[dict]:
    """The agents' and users' contributions to a building, oldest first: each signalement (an
    observation: made, and answered when it has an answer or is done) and each behaviour action
    (a `usage` entry), so the working group sees what followed what."""
    _require(actor)
    building = resolve_building(session, building)
    stmt = (
        select(LogbookEntry.id, LogbookEntry.kind, LogbookEntry.occurred_at, LogbookEntry.title,
               LogbookEntry.text, LogbookEntry.status, LogbookEntry.answer,
               LogbookEntry.updated_at)
        .where(LogbookEntry.building_id == building.id,
               LogbookEntry.kind.in_(("observation", "usage")),
               LogbookEntry.status != "cancelled")
        .order_by(LogbookEntry.occurred_at, LogbookEntry.id)
    )  # fmt: skip
    out = []
    for id_, kind, at, title, text, status, answer, updated in session.execute(stmt):
        answered = kind == "observation" and (bool(answer) or status == "done")
        out.append({"id": id_, "kind": kind, "at": at, "title": title or text[:80],
                    "answered": answered, "answered_at": updated if answered else None,
                    "answer": answer})  # fmt: skip
    return out
