"""The logbook of the carnet de santé: what happened to a building, written once, found again.

Rules live here, not in the pages: who may write which kind of entry on which building, that
nothing is hard-deleted (cancel instead), that every change is audited with its before/after,
and that a preventive visit or inspection linked to an obligation moves its next due date.
The manager's triage of observations is `carnet.logbook_triage`; reading the logbook back
(timeline, an agent's reports, counts) is `carnet.logbook_timeline`: both go through the
rules written here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import (
    ActorLike,
    CarnetPermissionError,
    can_view_building,
)
from carnet.alarms import entry_closed, raised_by_hand
from carnet.audit import record, row_image
from carnet.logbook_refs import (
    LogbookError,
    resolve_building,
    resolve_equipment,
    resolve_obligation,
    resolve_room,
)
from carnet.models import (
    LOG_KINDS,
    LOG_STATUSES,
    Building,
    Equipment,
    LogbookEntry,
    Obligation,
    Room,
)
from carnet.obligations import complete_obligation, undo_completion
from carnet.roles import can, is_contractor, is_manager
from carnet.timeutil import aware_utc, local_date

KIND_LABELS_FR = {
    "observation": "Observation",
    "preventive": "Maintenance préventive",
    "corrective": "Dépannage",
    "inspection": "Contrôle réglementaire",
    "works": "Travaux",
    "alarm": "Alarme",
    "adjustment": "Ajustement",
    "meter_change": "Changement de compteur",
    "usage": "Action d'usage",
}
STATUS_LABELS_FR = {
    "open": "Ouvert",
    "in_progress": "En cours",
    "done": "Terminé",
    "cancelled": "Annulé",
}
# kinds a contractor records on its contract's buildings (its interventions)
INTERVENTION_KINDS = frozenset({"preventive", "corrective", "inspection", "works", "meter_change"})
# kinds whose completion fulfils a linked obligation
COMPLETING_KINDS = frozenset({"preventive", "inspection"})
EDITABLE_FIELDS = (
    "kind",
    "title",
    "text",
    "status",
    "cost_cents",
    "occurred_at",
    "equipment_id",
    "room_id",
    "obligation_id",
    "answer",
    "merged_into_id",
)
CLOSED = frozenset({"done", "cancelled"})


# ---------------------------------------------------------------- helpers


_COST_RE = re.compile(r"^-?\d+(\.\d+)?$")


def parse_cost_cents(value) -> int | None:
    """Euros to integer cents, half-up: "1 234,56", "1234.5 €", Decimal("12.345") -> 1235."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    else:
        text = str(value).strip().replace("€", "").replace("EUR", "")
        text = re.sub(r"[\s\u00a0\u202f']", "", text)
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        if not _COST_RE.match(text):
            raise LogbookError(f"montant illisible « {value} » (ex. 1 234,56)")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise LogbookError(f"montant illisible « {value} »") from exc
    if amount < 0:
        raise LogbookError("un coût ne peut pas être négatif")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _entry_image(entry: LogbookEntry) -> dict:
    return row_image(entry, list(EDITABLE_FIELDS)) | {
        "building_id": entry.building_id,
        "author_login": entry.author_login,
    }


# ---------------------------------------------------------------- permissions


def may_write(session: Session, actor: ActorLike, building: Building, kind: str) -> bool:
    """DESIGN.md roles: the manager writes everything; a contractor its interventions (and
    observations) on its contract's buildings; an agent observations; nobody else."""
    if is_manager(actor.role):
        return True
    if not can_view_building(session, actor, building.id):
        return False
    if kind in ("observation", "usage"):  # the agents' and users' contributions
        return can(actor.role, "carnet.observation")
    if kind in INTERVENTION_KINDS:
        return can(actor.role, "carnet.intervention")
    return False  # alarm (poller), adjustment (manager)


def may_edit(session: Session, actor: ActorLike, entry: LogbookEntry) -> bool:
    """The manager edits any entry; a contractor its own interventions on its buildings."""
    if is_manager(actor.role):
        return True
    building = session.get(Building, entry.building_id)
    return (
        is_contractor(actor.role)
        and entry.author_login == actor.login
        and may_write(session, actor, building, entry.kind)
    )


def deny(actor: ActorLike, what: str) -> CarnetPermissionError:
    """The one refusal of the logbook's rules (writing, triage, reading), in the same words."""
    return CarnetPermissionError(f"accès refusé : {actor.login} ({actor.role}) ne peut pas {what}")


# ---------------------------------------------------------------- writing


def add_entry(
    session: Session,
    actor: ActorLike,
    building: Building | str | int,
    kind: str,
    text: str,
    *,
    equipment: Equipment | str | int | None = None,
    room: Room | str | int | None = None,
    occurred_at: dt.datetime | dt.date | None = None,
    title: str | None = None,
    cost=None,
    status: str | None = None,
    obligation: Obligation | int | None = None,
    source: str = "user",
    alarm_key: str | None = None,
    author_login: str | None = None,
) -> LogbookEntry:
    """Write an entry as `actor` (raises `CarnetPermissionError` when the role may not).

    Interventions default to "done", observations and alarms to "open". A done preventive or
    inspection entry linked to an obligation completes it on the entry's local date."""
    building = resolve_building(session, building)
    if kind not in LOG_KINDS:
        raise LogbookError(f"nature inconnue « {kind} » (attendu : {', '.join(LOG_KINDS)})")
    if not may_write(session, actor, building, kind):
        raise deny(actor, f"ajouter « {KIND_LABELS_FR[kind]} » au carnet de {building.code}")
    text = (text or "").strip()
    if not text:
        raise LogbookError("le texte de l'entrée est vide")
    if status is None:
        status = "open" if kind in ("observation", "alarm") else "done"
    if status not in LOG_STATUSES:
        raise LogbookError(f"statut inconnu « {status} »")
    eq = resolve_equipment(session, building, equipment)
    rm = resolve_room(session, building, room)
    ob = resolve_obligation(session, building, obligation)
    entry = LogbookEntry(
        building_id=building.id,
        equipment_id=eq.id if eq else (ob.equipment_id if ob else None),
        room_id=rm.id if rm else None,
        obligation_id=ob.id if ob else None,
        occurred_at=aware_utc(occurred_at),
        kind=kind,
        title=(title or "").strip() or None,
        text=text,
        author_login=author_login or actor.login,
        status=status,
        cost_cents=parse_cost_cents(cost),
        source=source,
        alarm_key=alarm_key,
    )
    session.add(entry)
    session.flush()
    record(session, actor.login, "create", "logbook_entry", entry.id, None, _entry_image(entry))
    if kind == "alarm":
        raised_by_hand(session, actor.login, entry)
        if entry.status in CLOSED:
            entry_closed(session, actor, entry)
    _after_status_change(session, entry, actor.login)
    return entry


def _after_status_change(session: Session, entry: LogbookEntry, actor_login: str) -> None:
    """Side effects of an entry reaching "done": its obligation, and the observations it
    answers (accepted or merged into it) are done too."""
    if entry.status != "done":
        return
    if entry.obligation_id and entry.kind in COMPLETING_KINDS:
        ob = session.get(Obligation, entry.obligation_id)
        complete_obligation(session, ob, local_date(entry.occurred_at), actor_login)
    followers = session.scalars(
        select(LogbookEntry).where(
            LogbookEntry.merged_into_id == entry.id, LogbookEntry.status.not_in(CLOSED)
        )
    ).all()
    for follower in followers:
        before = _entry_image(follower)
        follower.status = "done"
        record(
            session,
            actor_login,
            "update",
            "logbook_entry",
            follower.id,
            before,
            _entry_image(follower),
        )
        _after_status_change(session, follower, actor_login)


def get_entry(session: Session, entry_id: int) -> LogbookEntry:
    entry = session.get(LogbookEntry, entry_id)
    if entry is None:
        raise LookupError(f"entrée {entry_id} inconnue")
    return entry


def edit_entry(session: Session, actor: ActorLike, entry_id: int, **changes) -> LogbookEntry:
    """Change fields of an entry; the audit trail keeps the before and after images.

    Accepts `cost` (euros) besides `cost_cents`, and equipment/room codes."""
    entry = get_entry(session, entry_id)
    if not may_edit(session, actor, entry):
        raise deny(actor, f"modifier l'entrée {entry_id}")
    building = session.get(Building, entry.building_id)
    if "cost" in changes:
        changes["cost_cents"] = parse_cost_cents(changes.pop("cost"))
    if "equipment" in changes:
        eq = resolve_equipment(session, building, changes.pop("equipment"))
        changes["equipment_id"] = eq.id if eq else None
    if "room" in changes:
        rm = resolve_room(session, building, changes.pop("room"))
        changes["room_id"] = rm.id if rm else None
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise LogbookError(f"champ(s) non modifiable(s) : {', '.join(sorted(unknown))}")
    if "kind" in changes and changes["kind"] not in LOG_KINDS:
        raise LogbookError(f"nature inconnue « {changes['kind']} »")
    if "kind" in changes and not may_write(session, actor, building, changes["kind"]):
        raise deny(actor, f"donner la nature « {changes['kind']} » à une entrée")
    if "status" in changes and changes["status"] not in LOG_STATUSES:
        raise LogbookError(f"statut inconnu « {changes['status']} »")
    if "text" in changes and not (changes["text"] or "").strip():
        raise LogbookError("le texte de l'entrée est vide")
    if "occurred_at" in changes:
        changes["occurred_at"] = aware_utc(changes["occurred_at"])
    if changes.get("obligation_id") is not None:
        resolve_obligation(session, building, changes["obligation_id"])
    if changes.get("merged_into_id") is not None:
        check_merge_target(session, entry, changes["merged_into_id"])
    before = _entry_image(entry)
    for name, value in changes.items():
        setattr(entry, name, value)
    session.flush()
    after = _entry_image(entry)
    if after != before:
        record(session, actor.login, "update", "logbook_entry", entry.id, before, after)
        if entry.kind == "alarm" and entry.status in CLOSED:
            entry_closed(session, actor, entry)
        if before["status"] != "done":
            _after_status_change(session, entry, actor.login)
        elif (
            entry.status != "done"
            and before["obligation_id"]
            and before["kind"] in COMPLETING_KINDS
        ):
            # a completing visit cancelled or reopened: its obligation is no longer done by it
            ob = session.get(Obligation, before["obligation_id"])
            undo_completion(session, ob, local_date(before["occurred_at"]), actor.login)
    return entry


def cancel_entry(
    session: Session, actor: ActorLike, entry_id: int, reason: str | None = None
) -> LogbookEntry:
    """Nothing is deleted: a mistaken entry is cancelled, with its reason in the answer."""
    changes: dict = {"status": "cancelled"}
    if reason:
        changes["answer"] = reason
    return edit_entry(session, actor, entry_id, **changes)


def check_merge_target(session: Session, entry: LogbookEntry, target_id: int) -> LogbookEntry:
    """The entry `entry` may follow: same building, and no loop of merges."""
    target = get_entry(session, target_id)
    if target.id == entry.id:
        raise LogbookError("une entrée ne peut pas être fusionnée avec elle-même")
    if target.building_id != entry.building_id:
        raise LogbookError("fusion impossible : les entrées concernent deux bâtiments différents")
    seen = {entry.id}
    cursor = target
    while cursor.merged_into_id is not None:  # refuse cycles
        if cursor.merged_into_id in seen or cursor.id in seen:
            raise LogbookError("fusion impossible : elle créerait une boucle")
        seen.add(cursor.id)
        cursor = get_entry(session, cursor.merged_into_id)
    if cursor.id in seen:
        raise LogbookError("fusion impossible : elle créerait une boucle")
    return target
