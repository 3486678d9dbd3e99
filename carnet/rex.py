"""Retours d'expérience: the town comes back together on an incident, a disagreement or a sign
of dissatisfaction, to learn from the real work rather than blame.

A retour d'expérience belongs to one building, so it has the logbook's scope: the manager, the
contractor of that building's contract and the agents see it (not the cultural programmer, not
finance). Each contributor writes its own account of what happened (one per person, rewritten by
its author only); the manager records what was learned and the decisions, with who carries them
and by when. A decision may become an obligation (a recurring duty) or a work order.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError, can_view_logbook, viewable_building_ids
from carnet.audit import record, row_image
from carnet.logbook import KIND_LABELS_FR
from carnet.logbook_refs import resolve_building
from carnet.models import (
    Booking,
    Building,
    LogbookEntry,
    Rex,
    RexAccount,
    RexDecision,
    RexLink,
    Room,
    User,
    WorkOrder,
)
from carnet.obligations import add_obligation, local_today
from carnet.roles import ROLE_LABELS_FR, can
from carnet.timeutil import fr_date, local_date
from carnet.work_orders import create_work_order

STATUS_LABELS_FR = {"open": "Ouvert", "closed": "Clos"}
DECISION_STATUS_LABELS_FR = {"open": "À faire", "done": "Fait"}
REX_FIELDS = ["title", "occurred_on", "summary", "lessons", "status"]
DECISION_FIELDS = [
    "text",
    "owner",
    "due_on",
    "status",
    "done_on",
    "obligation_id",
    "work_order_id",
]


class RexError(ValueError):
    """Invalid input (an entry of another building, an empty account...), French message."""


def _deny(actor: ActorLike, what: str) -> CarnetPermissionError:
    return CarnetPermissionError(f"accès refusé : {actor.login} ({actor.role}) ne peut pas {what}")


def _require(actor: ActorLike, capability: str, what: str) -> None:
    if not can(actor.role, capability):
        raise _deny(actor, what)


def get_rex(session: Session, actor: ActorLike, rex_id: int) -> Rex:
    """The retour d'expérience if the actor may see it (its building's logbook)."""
    rex = session.get(Rex, int(rex_id))
    if rex is None:
        raise LookupError(f"retour d'expérience {rex_id} inconnu")
    if not can(actor.role, "rex.view") or not can_view_logbook(session, actor, rex.building_id):
        raise _deny(actor, f"consulter le retour d'expérience {rex_id}")
    return rex


# ---------------------------------------------------------------- writing


def open_rex(
    session: Session,
    actor: ActorLike,
    building: Building | str | int,
    title: str,
    summary: str,
    *,
    occurred_on: dt.date | None = None,
    entries: list[int] = (),
    bookings: list[int] = (),
) -> Rex:
    """Open a retour d'expérience on a building of the actor's scope, with the incident's
    logbook entries and bookings (all of that building)."""
    building = resolve_building(session, building)
    _require(actor, "rex.open", "ouvrir un retour d'expérience")
    if not can_view_logbook(session, actor, building.id):
        raise _deny(actor, f"ouvrir un retour d'expérience sur {building.code}")
    title, summary = (title or "").strip(), (summary or "").strip()
    if not title or not summary:
        raise RexError("un retour d'expérience a besoin d'un titre et d'un résumé de l'incident")
    rex = Rex(
        building_id=building.id,
        title=title,
        summary=summary,
        occurred_on=occurred_on or local_today(),
        author_login=actor.login,
        status="open",
    )
    session.add(rex)
    session.flush()
    record(session, actor.login, "create", "rex", rex.id, None, _rex_image(rex))
    link(session, actor, rex.id, entries=entries, bookings=bookings)
    return rex


def _rex_image(rex: Rex) -> dict:
    return row_image(rex, REX_FIELDS) | {"building_id": rex.building_id}


def link(
    session: Session, actor: ActorLike, rex_id: int, *, entries=(), bookings=()
) -> list[RexLink]:
    """Link more of the incident: logbook entries and bookings of the rex's building (a link
    already there is left as it is)."""
    rex = get_rex(session, actor, rex_id)
    _require(actor, "rex.open", "relier des entrées à un retour d'expérience")
    made = []
    for entry_id in dict.fromkeys(int(e) for e in entries or ()):
        entry = session.get(LogbookEntry, entry_id)
        if entry is None:
            raise LookupError(f"entrée {entry_id} inconnue")
        if entry.building_id != rex.building_id:
            raise RexError(f"l'entrée {entry_id} concerne un autre bâtiment")
        made += _add_link(session, rex, logbook_entry_id=entry_id)
    for booking_id in dict.fromkeys(int(b) for b in bookings or ()):
        room_building = session.scalar(
            select(Room.building_id)
            .join(Booking, Booking.room_id == Room.id)
            .where(Booking.id == booking_id)
        )
        if room_building is None:
            raise LookupError(f"réservation {booking_id} inconnue")
        if room_building != rex.building_id:
            raise RexError(f"la réservation {booking_id} concerne un autre bâtiment")
        made += _add_link(session, rex, booking_id=booking_id)
    for row in made:
        record(
            session,
            actor.login,
            "link",
            "rex",
            rex.id,
            None,
            {"logbook_entry_id": row.logbook_entry_id, "booking_id": row.booking_id},
        )
    return made


def _add_link(session: Session, rex: Rex, **target) -> list[RexLink]:
    column, value = next(iter(target.items()))
    exists = session.scalar(
        select(RexLink.id).where(RexLink.rex_id == rex.id, getattr(RexLink, column) == value)
    )
    if exists is not None:
        return []
    row = RexLink(rex_id=rex.id, **target)
    session.add(row)
    session.flush()
    return [row]


def write_account(session: Session, actor: ActorLike, rex_id: int, text: str) -> RexAccount:
    """The actor's own account of what happened (written again: replaced, audited)."""
    rex = get_rex(session, actor, rex_id)
    _require(actor, "rex.account", "apporter un récit")
    text = (text or "").strip()
    if not text:
        raise RexError("le récit est vide")
    account = session.scalar(
        select(RexAccount).where(
            RexAccount.rex_id == rex.id, RexAccount.author_login == actor.login
        )
    )
    before = None if account is None else {"text": account.text, "role": account.role}
    if account is None:
        account = RexAccount(rex_id=rex.id, author_login=actor.login)
        session.add(account)
    account.role, account.text = actor.role, text
    session.flush()
    after = {"text": account.text, "role": account.role}
    record(session, actor.login, "account", "rex", rex.id, before, after)
    return account


def record_lessons(session: Session, actor: ActorLike, rex_id: int, lessons: str) -> Rex:
    """What was learned, in the words the group agreed on (the manager writes it)."""
    rex = get_rex(session, actor, rex_id)
    _require(actor, "rex.decide", "consigner les enseignements")
    before = _rex_image(rex)
    rex.lessons = (lessons or "").strip() or None
    session.flush()
    record(session, actor.login, "update", "rex", rex.id, before, _rex_image(rex))
    return rex


def add_decision(
    session: Session,
    actor: ActorLike,
    rex_id: int,
    text: str,
    owner: str,
    due_on: dt.date | None = None,
) -> RexDecision:
    """A decision, who carries it (a login or a service) and by when."""
    rex = get_rex(session, actor, rex_id)
    _require(actor, "rex.decide", "consigner une décision")
    text, owner = (text or "").strip(), (owner or "").strip()
    if not text or not owner:
        raise RexError("une décision a besoin d'un texte et d'un porteur")
    decision = RexDecision(
        rex_id=rex.id, text=text, owner=owner, due_on=due_on, status="open",
        author_login=actor.login,
    )  # fmt: skip
    session.add(decision)
    session.flush()
    record(
        session, actor.login, "create", "rex_decision", decision.id, None, _decision_image(decision)
    )
    return decision


def _decision_image(decision: RexDecision) -> dict:
    return row_image(decision, DECISION_FIELDS) | {"rex_id": decision.rex_id}


def _get_decision(session: Session, actor: ActorLike, decision_id: int) -> RexDecision:
    decision = session.get(RexDecision, int(decision_id))
    if decision is None:
        raise LookupError(f"décision {decision_id} inconnue")
    get_rex(session, actor, decision.rex_id)
    return decision


def _update_decision(session: Session, actor: ActorLike, decision: RexDecision, **changes):
    """Set `changes` on the decision, audited with its image before and after."""
    before = _decision_image(decision)
    for name, value in changes.items():
        setattr(decision, name, value)
    session.flush()
    record(
        session,
        actor.login,
        "update",
        "rex_decision",
        decision.id,
        before,
        _decision_image(decision),
    )


def complete_decision(
    session: Session, actor: ActorLike, decision_id: int, done_on: dt.date | None = None
) -> RexDecision:
    """The decision is carried out: done on `done_on` (default today)."""
    decision = _get_decision(session, actor, decision_id)
    _require(actor, "rex.decide", "clore une décision")
    _update_decision(session, actor, decision, status="done", done_on=done_on or local_today())
    return decision


def close_rex(session: Session, actor: ActorLike, rex_id: int) -> Rex:
    """Close a retour d'expérience once every decision is done (it leaves the monthly report)."""
    rex = get_rex(session, actor, rex_id)
    _require(actor, "rex.decide", "clore un retour d'expérience")
    waiting = session.scalar(
        select(func.count()).where(RexDecision.rex_id == rex.id, RexDecision.status == "open")
    )
    if waiting:
        raise RexError(
            f"{waiting} décision(s) encore à faire : le retour d'expérience reste ouvert"
        )
    before = _rex_image(rex)
    rex.status = "closed"
    session.flush()
    record(session, actor.login, "update", "rex", rex.id, before, _rex_image(rex))
    return rex


def decision_to_obligation(
    session: Session,
    actor: ActorLike,
    decision_id: int,
    months: int | None = None,
    days: int | None = None,
    label: str | None = None,
) -> RexDecision:
    """A decision that is a recurring duty (e.g. « vérifier la relance du chauffage avant
    chaque concert d'hiver ») becomes an obligation of the building, first due on the
    decision's date; the decision keeps the link."""
    decision = _get_decision(session, actor, decision_id)
    _require(actor, "rex.decide", "transformer une décision en obligation")
    if decision.obligation_id is not None:
        raise RexError(f"la décision {decision.id} est déjà l'obligation {decision.obligation_id}")
    rex = session.get(Rex, decision.rex_id)
    ob = add_obligation(
        session,
        actor,
        session.get(Building, rex.building_id),
        label or decision.text,
        months=months,
        days=days,
        next_due_on=decision.due_on,
        notes=f"Décision du retour d'expérience n° {rex.id} : {rex.title}",
    )
    _update_decision(session, actor, decision, obligation_id=ob.id)
    return decision


def decision_to_work(session: Session, actor: ActorLike, decision_id: int) -> WorkOrder:
    """A decision that is a piece of work becomes a work order of the rex's building (entered
    by hand: its title the decision, due on the decision's date, assigned to its owner), so that
    it is followed and closed with its intervention like any other; the decision keeps the link."""
    decision = _get_decision(session, actor, decision_id)
    _require(actor, "rex.decide", "transformer une décision en ordre de travail")
    if decision.work_order_id is not None:
        raise RexError(
            f"la décision {decision.id} est déjà l'ordre de travail {decision.work_order_id}"
        )
    rex = session.get(Rex, decision.rex_id)
    order = create_work_order(
        session,
        actor,
        building=rex.building_id,
        title=decision.text,
        description=f"Décision du retour d'expérience n° {rex.id} : {rex.title}",
        assignee=decision.owner,
        due_on=decision.due_on,
    )
    _update_decision(session, actor, decision, work_order_id=order.id)
    return order


# ---------------------------------------------------------------- reading

REX_COLUMNS = [
    "id",
    "building_code",
    "building_name",
    "title",
    "occurred_on",
    "date",
    "summary",
    "lessons",
    "status",
    "status_label",
    "author_login",
    "links",
    "accounts",
    "decisions_open",
    "decisions_done",
]
DECISION_COLUMNS = [
    "id",
    "rex_id",
    "rex_title",
    "building_code",
    "text",
    "owner",
    "due_on",
    "due",
    "status",
    "status_label",
    "done_on",
    "overdue",
    "obligation_id",
    "work_order_id",
]


def _visible(session: Session, actor: ActorLike) -> frozenset[int] | None:
    """Buildings whose retours d'expérience the actor sees (None = all); refuses the roles
    without `rex.view`."""
    if not can(actor.role, "rex.view"):
        raise _deny(actor, "consulter les retours d'expérience")
    return viewable_building_ids(session, actor)


def rex_frame(
    session: Session,
    actor: ActorLike,
    building: Building | str | int | None = None,
    *,
    open_only: bool = False,
    building_ids: set[int] | frozenset[int] | None = None,
) -> pd.DataFrame:
    """The retours d'expérience the actor sees, newest incident first, with how many links,
    accounts and open/done decisions; `open_only`: still open, or with a decision to do;
    `building_ids` narrows further (a contract's buildings, for its monthly report)."""
    scope = _visible(session, actor)
    stmt = (
        select(
            Rex.id,
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Rex.title,
            Rex.occurred_on,
            Rex.summary,
            Rex.lessons,
            Rex.status,
            Rex.author_login,
        )
        .join(Building, Building.id == Rex.building_id)
        .order_by(Rex.occurred_on.desc(), Rex.id.desc())
    )
    if scope is not None:
        stmt = stmt.where(Rex.building_id.in_(scope or [-1]))
    if building_ids is not None:
        stmt = stmt.where(Rex.building_id.in_(building_ids or [-1]))
    if building is not None:
        stmt = stmt.where(Rex.building_id == resolve_building(session, building).id)
    frame = pd.DataFrame(
        [dict(r) for r in session.execute(stmt).mappings()],
        columns=["id", "building_code", "building_name", "title", "occurred_on", "summary",
                 "lessons", "status", "author_login"],
    )  # fmt: skip
    ids = frame["id"].tolist()
    links = _counts(session, RexLink.rex_id, ids)
    accounts = _counts(session, RexAccount.rex_id, ids)
    open_ = _counts(session, RexDecision.rex_id, ids, RexDecision.status == "open")
    done = _counts(session, RexDecision.rex_id, ids, RexDecision.status == "done")
    frame["date"] = [fr_date(d) for d in frame["occurred_on"]]
    frame["status_label"] = frame["status"].map(STATUS_LABELS_FR)
    for name, counts in (("links", links), ("accounts", accounts), ("decisions_open", open_),
                         ("decisions_done", done)):  # fmt: skip
        frame[name] = frame["id"].map(counts).fillna(0).astype(int)
    if open_only:
        frame = frame[(frame["status"] == "open") | (frame["decisions_open"] > 0)]
    return frame[REX_COLUMNS].reset_index(drop=True)


def _counts(session: Session, column, ids: list[int], *where) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(column, func.count()).where(column.in_(ids), *where).group_by(column)
    )
    return dict(rows.all())


def decisions_frame(
    session: Session,
    actor: ActorLike,
    rex_ids: list[int] | None = None,
    *,
    open_only: bool = False,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Decisions of the retours d'expérience the actor sees (or of `rex_ids`), soonest due
    first, `overdue` when still open past their date."""
    scope = _visible(session, actor)
    today = today or local_today()
    stmt = (
        select(
            RexDecision.id,
            RexDecision.rex_id,
            Rex.title.label("rex_title"),
            Building.code.label("building_code"),
            RexDecision.text,
            RexDecision.owner,
            RexDecision.due_on,
            RexDecision.status,
            RexDecision.done_on,
            RexDecision.obligation_id,
            RexDecision.work_order_id,
        )
        .join(Rex, Rex.id == RexDecision.rex_id)
        .join(Building, Building.id == Rex.building_id)
        .order_by(RexDecision.due_on.is_(None), RexDecision.due_on, RexDecision.id)
    )
    if scope is not None:
        stmt = stmt.where(Rex.building_id.in_(scope or [-1]))
    if rex_ids is not None:
        stmt = stmt.where(RexDecision.rex_id.in_(rex_ids or [-1]))
    if open_only:
        stmt = stmt.where(RexDecision.status == "open")
    frame = pd.DataFrame(
        [dict(r) for r in session.execute(stmt).mappings()],
        columns=[c for c in DECISION_COLUMNS if c not in ("due", "status_label", "overdue")],
    )
    frame["due"] = [fr_date(d) if d is not None else "" for d in frame["due_on"]]
    frame["status_label"] = frame["status"].map(DECISION_STATUS_LABELS_FR)
    frame["overdue"] = [
        s == "open" and d is not None and d < today
        for s, d in zip(frame["status"], frame["due_on"], strict=True)
    ]
    for name in ("obligation_id", "work_order_id"):
        frame[name] = frame[name].astype("Int64")
    return frame[DECISION_COLUMNS].reset_index(drop=True)


def rex_detail(session: Session, actor: ActorLike, rex_id: int) -> dict:
    """One retour d'expérience with its linked entries and bookings, the accounts (each with
    its author's name and role) and the decisions."""
    rex = get_rex(session, actor, rex_id)
    entries = session.execute(
        select(LogbookEntry.id, LogbookEntry.occurred_at, LogbookEntry.kind, LogbookEntry.text,
               LogbookEntry.status)
        .join(RexLink, RexLink.logbook_entry_id == LogbookEntry.id)
        .where(RexLink.rex_id == rex.id)
        .order_by(LogbookEntry.occurred_at)
    ).all()  # fmt: skip
    bookings = session.execute(
        select(Booking.id, Booking.title, Booking.starts_at, Room.code)
        .join(RexLink, RexLink.booking_id == Booking.id)
        .join(Room, Room.id == Booking.room_id)
        .where(RexLink.rex_id == rex.id)
        .order_by(Booking.starts_at)
    ).all()
    accounts = session.execute(
        select(RexAccount.author_login, User.name, RexAccount.role, RexAccount.text,
               RexAccount.updated_at)
        .outerjoin(User, User.login == RexAccount.author_login)
        .where(RexAccount.rex_id == rex.id)
        .order_by(RexAccount.created_at, RexAccount.id)
    ).all()  # fmt: skip
    building = session.get(Building, rex.building_id)
    links = [
        {"kind": "entry", "id": e.id, "date": fr_date(local_date(e.occurred_at)),
         "label": KIND_LABELS_FR.get(e.kind, e.kind), "text": e.text, "status": e.status}
        for e in entries
    ] + [
        {"kind": "booking", "id": b.id, "date": fr_date(local_date(b.starts_at)),
         "label": f"Réservation ({b.code})", "text": b.title, "status": None}
        for b in bookings
    ]  # fmt: skip
    return {
        "id": rex.id,
        "building_code": building.code,
        "building_name": building.name,
        "title": rex.title,
        "occurred_on": rex.occurred_on.isoformat(),
        "date": fr_date(rex.occurred_on),
        "summary": rex.summary,
        "lessons": rex.lessons,
        "status": rex.status,
        "status_label": STATUS_LABELS_FR[rex.status],
        "author_login": rex.author_login,
        "links": links,
        "accounts": [
            {
                "author_login": a.author_login,
                "author_name": a.name or a.author_login,
                "role": a.role,
                "role_label": ROLE_LABELS_FR.get(a.role, a.role),
                "text": a.text,
            }
            for a in accounts
        ],  # fmt: skip
        "decisions": decisions_frame(session, actor, [rex.id]).to_dict("records"),
    }
