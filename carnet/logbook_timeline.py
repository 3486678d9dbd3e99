"""Reading the logbook back: a building's (or a portfolio's) timeline, the observations an
agent reported with their answers, those waiting for triage, and per-building counts.

Apart from `carnet.logbook` (writing and permissions) because these are queries shaped for the
pages, the CLI and the reports (French labels, formatted costs, attachment counts); they check
the same viewing rules through `carnet.access`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carnet.access import SYSTEM, ActorLike, require_view_logbook, viewable_building_ids
from carnet.fr_format import fr_cents
from carnet.logbook import KIND_LABELS_FR, STATUS_LABELS_FR, deny
from carnet.logbook_refs import resolve_building
from carnet.models import Attachment, Building, Equipment, LogbookEntry, Room, User
from carnet.roles import is_programmer
from carnet.timeutil import fr_date, local_midnight

TIMELINE_COLUMNS = [
    "id",
    "occurred_at",
    "date",
    "kind",
    "kind_label",
    "status",
    "status_label",
    "title",
    "text",
    "author_login",
    "author_name",
    "building_code",
    "equipment_code",
    "room_code",
    "cost_cents",
    "cost",
    "source",
    "answer",
    "merged_into_id",
    "obligation_id",
    "attachments",
]


def timeline(
    session: Session,
    actor: ActorLike = SYSTEM,
    building: Building | str | int | None = None,
    *,
    kind: str | list[str] | None = None,
    equipment: Equipment | str | int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    author: str | None = None,
    status: str | list[str] | None = None,
    include_cancelled: bool = True,
    text: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> pd.DataFrame:
    """Entries newest first, filtered by kind, equipment, local period (inclusive), author,
    status and words of the text, title or answer; `limit`/`offset` give one page of them.

    Without a building: every building the actor may see (e.g. a contractor's portfolio)."""
    stmt = _timeline_select(
        session,
        actor,
        building,
        kind=kind,
        equipment=equipment,
        date_from=date_from,
        date_to=date_to,
        author=author,
        status=status,
        include_cancelled=include_cancelled,
        text=text,
    ).order_by(LogbookEntry.occurred_at.desc(), LogbookEntry.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    frame = pd.DataFrame(rows, columns=[c for c in TIMELINE_COLUMNS if c not in _DERIVED])
    counts = _attachment_counts(session, frame["id"].tolist())
    frame["date"] = [fr_date(t) for t in frame["occurred_at"]]
    frame["kind_label"] = frame["kind"].map(KIND_LABELS_FR)
    frame["status_label"] = frame["status"].map(STATUS_LABELS_FR)
    frame["cost"] = [
        fr_cents(None if pd.isna(c) else int(c), empty="") for c in frame["cost_cents"]
    ]
    frame["cost_cents"] = frame["cost_cents"].astype("Int64")
    frame["attachments"] = frame["id"].map(counts).fillna(0).astype(int)
    return frame[TIMELINE_COLUMNS].reset_index(drop=True)


def timeline_count(session: Session, actor: ActorLike = SYSTEM, building=None, **filters) -> int:
    """How many entries `timeline` would return without `limit` (the pages of a logbook)."""
    stmt = _timeline_select(session, actor, building, **filters)
    return session.scalar(select(func.count()).select_from(stmt.subquery()))


def _like_pattern(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _timeline_select(
    session: Session,
    actor: ActorLike,
    building,
    *,
    kind=None,
    equipment=None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    author: str | None = None,
    status=None,
    include_cancelled: bool = True,
    text: str | None = None,
):
    """The filtered select of `timeline` (no order, no page), checked against the actor."""
    stmt = (
        select(
            LogbookEntry.id,
            LogbookEntry.occurred_at,
            LogbookEntry.kind,
            LogbookEntry.status,
            LogbookEntry.title,
            LogbookEntry.text,
            LogbookEntry.author_login,
            User.name.label("author_name"),
            Building.code.label("building_code"),
            Equipment.code.label("equipment_code"),
            Room.code.label("room_code"),
            LogbookEntry.cost_cents,
            LogbookEntry.source,
            LogbookEntry.answer,
            LogbookEntry.merged_into_id,
            LogbookEntry.obligation_id,
        )
        .join(Building, Building.id == LogbookEntry.building_id)
        .outerjoin(Equipment, Equipment.id == LogbookEntry.equipment_id)
        .outerjoin(Room, Room.id == LogbookEntry.room_id)
        .outerjoin(User, User.login == LogbookEntry.author_login)
    )
    if building is not None:
        b = resolve_building(session, building)
        require_view_logbook(session, actor, b)
        stmt = stmt.where(LogbookEntry.building_id == b.id)
    else:
        if is_programmer(actor.role):
            raise deny(actor, "consulter le carnet")
        scope = viewable_building_ids(session, actor)
        if scope is not None:
            stmt = stmt.where(LogbookEntry.building_id.in_(scope or [-1]))
    if kind:
        stmt = stmt.where(LogbookEntry.kind.in_([kind] if isinstance(kind, str) else kind))
    if status:
        stmt = stmt.where(LogbookEntry.status.in_([status] if isinstance(status, str) else status))
    if not include_cancelled:
        stmt = stmt.where(LogbookEntry.status != "cancelled")
    if equipment is not None and equipment != "":
        if isinstance(equipment, Equipment):
            stmt = stmt.where(LogbookEntry.equipment_id == equipment.id)
        elif isinstance(equipment, int):
            stmt = stmt.where(LogbookEntry.equipment_id == equipment)
        else:
            stmt = stmt.where(Equipment.code == equipment)
    if date_from is not None:
        stmt = stmt.where(LogbookEntry.occurred_at >= local_midnight(date_from))
    if date_to is not None:
        stmt = stmt.where(LogbookEntry.occurred_at < local_midnight(date_to + dt.timedelta(days=1)))
    if author:
        stmt = stmt.where(LogbookEntry.author_login == author)
    if text and text.strip():
        pattern = _like_pattern(text.strip())
        stmt = stmt.where(
            or_(
                LogbookEntry.text.ilike(pattern, escape="\\"),
                LogbookEntry.title.ilike(pattern, escape="\\"),
                LogbookEntry.answer.ilike(pattern, escape="\\"),
            )
        )
    return stmt


_DERIVED = {"date", "kind_label", "status_label", "cost", "attachments"}


def _attachment_counts(session: Session, entry_ids: list[int]) -> dict[int, int]:
    if not entry_ids:
        return {}
    rows = session.execute(
        select(Attachment.entry_id, func.count())
        .where(Attachment.entry_id.in_(entry_ids))
        .group_by(Attachment.entry_id)
    )
    return {entry_id: n for entry_id, n in rows}


def my_observations(session: Session, actor: ActorLike) -> pd.DataFrame:
    """The observations `actor` reported, with the answers given (what an agent reads)."""
    stmt = (
        select(
            LogbookEntry.id,
            LogbookEntry.occurred_at,
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Room.name.label("room_name"),
            LogbookEntry.text,
            LogbookEntry.status,
            LogbookEntry.answer,
            LogbookEntry.merged_into_id,
        )
        .join(Building, Building.id == LogbookEntry.building_id)
        .outerjoin(Room, Room.id == LogbookEntry.room_id)
        .where(LogbookEntry.kind == "observation", LogbookEntry.author_login == actor.login)
        .order_by(LogbookEntry.occurred_at.desc(), LogbookEntry.id.desc())
    )
    frame = pd.DataFrame(
        [dict(r) for r in session.execute(stmt).mappings()],
        columns=[
            "id",
            "occurred_at",
            "building_code",
            "building_name",
            "room_name",
            "text",
            "status",
            "answer",
            "merged_into_id",
        ],
    )
    frame["date"] = [fr_date(t) for t in frame["occurred_at"]]
    frame["status_label"] = frame["status"].map(STATUS_LABELS_FR)
    return frame


def open_observations(session: Session, actor: ActorLike, building: Building) -> pd.DataFrame:
    """Observations waiting for the manager's triage (open, not yet followed by anything)."""
    frame = timeline(session, actor, building, kind="observation", status="open")
    return frame[frame["merged_into_id"].isna()].reset_index(drop=True)


def entry_counts(
    session: Session, kind: str, statuses: list[str] | tuple[str, ...], unmerged: bool = False
) -> dict[int, int]:
    """building id -> how many entries of `kind` are in `statuses` (the buildings list's
    "to triage" and "open alarms" columns); `unmerged` leaves out observations merged away."""
    stmt = (
        select(LogbookEntry.building_id, func.count())
        .where(LogbookEntry.kind == kind, LogbookEntry.status.in_(statuses))
        .group_by(LogbookEntry.building_id)
    )
    if unmerged:
        stmt = stmt.where(LogbookEntry.merged_into_id.is_(None))
    return dict(session.execute(stmt).all())
