"""Work orders: the jobs of a contract's buildings, from an alarm, a signalement (an
observation of the logbook), an obligation, or by hand.

A work order belongs to one contract (the contract of its building; the manager names it when the
building has several, and may leave it out when none), so that each contract has its list. The
contractor creates and closes those of its own contract only. Closing one writes the intervention
in the carnet de santé with its report (text and attached file), linked to the order: the alarm it
came from is then answered, the signalement done, and an obligation's preventive visit or
inspection completes the obligation (the logbook's own rule). Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet import alarms as alarm_rules
from carnet.access import ActorLike, CarnetPermissionError, by_ref, viewable_building_ids
from carnet.attachments import add_attachment
from carnet.audit import record, row_image
from carnet.fr_format import fr_cents
from carnet.logbook import INTERVENTION_KINDS, KIND_LABELS_FR, add_entry, parse_cost_cents
from carnet.logbook_refs import resolve_building
from carnet.models import (
    WORK_ORDER_ORIGINS,
    WORK_ORDER_PRIORITIES,
    Building,
    Contract,
    ContractBuilding,
    Equipment,
    LogbookEntry,
    Obligation,
    WorkOrder,
    utcnow,
)
from carnet.obligations import local_today
from carnet.roles import can, is_contractor
from carnet.timeutil import fr_date

PRIORITY_LABELS_FR = {"low": "Basse", "normal": "Normale", "high": "Haute", "urgent": "Urgente"}
STATUS_LABELS_FR = {
    "open": "À faire",
    "in_progress": "En cours",
    "done": "Terminé",
    "cancelled": "Annulé",
}
ORIGIN_LABELS_FR = {
    "alarm": "Alarme",
    "observation": "Signalement",
    "obligation": "Obligation",
    "manual": "Saisie",
}
OPEN = ("open", "in_progress")
EDITABLE = ("title", "description", "assignee", "due_on", "priority", "status", "cost_cents")
_IMAGE = [
    "contract_id",
    "building_id",
    "equipment_id",
    "origin",
    "alarm_id",
    "source_entry_id",
    "obligation_id",
    *EDITABLE,
    "closed_at",
    "closed_by",
    "intervention_entry_id",
]


class WorkOrderError(ValueError):
    """Invalid input or transition; French message for the user."""


def _deny(actor: ActorLike, what: str) -> CarnetPermissionError:
    return CarnetPermissionError(f"accès refusé : {actor.login} ({actor.role}) ne peut pas {what}")


def _audit(session: Session, actor: str, wo: WorkOrder, before: dict | None) -> None:
    action = "create" if before is None else "update"
    record(session, actor, action, "work_order", wo.id, before, row_image(wo, _IMAGE))


def _in_scope(session: Session, actor: ActorLike, wo: WorkOrder) -> bool:
    if not can(actor.role, "work_orders.view"):
        return False
    if is_contractor(actor.role):
        return actor.contract_id is not None and wo.contract_id == actor.contract_id
    scope = viewable_building_ids(session, actor)
    return scope is None or wo.building_id in scope


def get_work_order(session: Session, actor: ActorLike, wo_id: int) -> WorkOrder:
    """The order if `actor` may see it; one out of scope is reported as unknown."""
    wo = session.get(WorkOrder, int(wo_id))
    if wo is None or not _in_scope(session, actor, wo):
        raise LookupError(f"ordre de travail {wo_id} inconnu")
    return wo


def _editable(session: Session, actor: ActorLike, wo_id: int, what: str) -> WorkOrder:
    wo = get_work_order(session, actor, wo_id)
    if not can(actor.role, "work_orders.edit"):
        raise _deny(actor, f"{what} l'ordre de travail {wo.id}")
    if wo.status not in OPEN:
        raise WorkOrderError(
            f"l'ordre de travail {wo.id} est {STATUS_LABELS_FR[wo.status].lower()}"
        )
    return wo


def _contract_for(
    session: Session, actor: ActorLike, building: Building, contract: Contract | str | int | None
) -> int | None:
    """The contract of the order: the contractor's own; else the one named, or the building's
    only one (None for a building under no contract)."""
    contracts = set(
        session.scalars(
            select(ContractBuilding.contract_id).where(ContractBuilding.building_id == building.id)
        )
    )
    if is_contractor(actor.role):
        if actor.contract_id is None or actor.contract_id not in contracts:
            raise _deny(actor, f"créer un ordre de travail sur {building.code}")
        return actor.contract_id
    if contract is not None and contract != "":
        found = by_ref(session, Contract, contract, "contrat inconnu")
        if found.id not in contracts:
            raise WorkOrderError(f"le bâtiment {building.code} n'est pas au contrat {found.code}")
        return found.id
    if len(contracts) > 1:
        raise WorkOrderError(
            f"le bâtiment {building.code} relève de plusieurs contrats : précisez lequel"
        )
    return next(iter(contracts), None)


def _check_priority(priority: str) -> str:
    if priority not in WORK_ORDER_PRIORITIES:
        raise WorkOrderError(
            f"priorité inconnue « {priority} » (attendu : {', '.join(WORK_ORDER_PRIORITIES)})"
        )
    return priority


def _require_scope(session: Session, actor: ActorLike, building: Building) -> None:
    scope = viewable_building_ids(session, actor)
    if scope is not None and building.id not in scope:
        raise _deny(actor, f"créer un ordre de travail sur {building.code}")


def _resolve_origin(
    session: Session, actor: ActorLike, origin: str, ref: int
) -> tuple[Building, int | None, str, dict]:
    """(building, equipment id, default title, link fields) of an order's origin; an origin
    out of the actor's scope is reported as unknown, like one that does not exist."""
    if origin == "alarm":
        found = alarm_rules.viewable_alarm(session, actor, ref)
        if found.status == "closed" and found.device_cleared_at is not None:
            raise WorkOrderError(f"l'alarme {found.id} est close : le défaut a disparu")
        b = session.get(Building, found.building_id)
        out = (b, found.equipment_id, found.label, {"alarm_id": found.id})
    elif origin == "observation":
        entry = session.get(LogbookEntry, int(ref))
        if entry is None or entry.kind != "observation" or not _visible(session, actor, entry):
            raise LookupError(f"signalement {ref} inconnu")
        b = session.get(Building, entry.building_id)
        out = (b, entry.equipment_id, entry.title or entry.text, {"source_entry_id": entry.id})
    else:
        ob = session.get(Obligation, int(ref))
        if ob is None or not _visible(session, actor, ob):
            raise LookupError(f"obligation {ref} inconnue")
        b = session.get(Building, ob.building_id)
        out = (b, ob.equipment_id, ob.label, {"obligation_id": ob.id})
    return out


def _visible(session: Session, actor: ActorLike, row: LogbookEntry | Obligation) -> bool:
    scope = viewable_building_ids(session, actor)
    return scope is None or row.building_id in scope


def describe_origin(session: Session, actor: ActorLike, origin: str, ref: int) -> dict:
    """What a form says of the origin of the order it is about to create."""
    b, _eq, title, _link = _resolve_origin(session, actor, origin, ref)
    return {
        "building_code": b.code,
        "building_name": b.name,
        "title": title,
        "origin_label": ORIGIN_LABELS_FR[origin],
    }


def contracts_in_scope(session: Session, actor: ActorLike) -> list[tuple[str, str]]:
    """(code, contractor) of the contracts whose orders the actor may list."""
    stmt = select(Contract.code, Contract.contractor).order_by(Contract.code)
    if is_contractor(actor.role):
        stmt = stmt.where(Contract.id == (actor.contract_id or -1))
    return [tuple(r) for r in session.execute(stmt)]


def create_work_order(
    session: Session,
    actor: ActorLike,
    *,
    building: Building | str | int | None = None,
    alarm: int | None = None,
    observation: int | None = None,
    obligation: int | None = None,
    title: str | None = None,
    description: str | None = None,
    equipment: Equipment | str | int | None = None,
    assignee: str | None = None,
    due_on: dt.date | None = None,
    priority: str = "normal",
    cost=None,
    contract: Contract | str | int | None = None,
) -> WorkOrder:
    """A work order from at most one origin (`alarm`, `observation` or `obligation` id), which
    gives its building, equipment and a default title; by hand otherwise (`building`, `title`)."""
    refs = {"alarm": alarm, "observation": observation, "obligation": obligation}
    origins = [name for name, ref in refs.items() if ref is not None]
    if len(origins) > 1:
        raise WorkOrderError(
            "un ordre de travail a une seule origine (alarme, signalement ou obligation)"
        )
    origin = origins[0] if origins else "manual"
    if not can(actor.role, "work_orders.edit"):
        raise _deny(actor, "créer un ordre de travail")
    wo = WorkOrder(origin=origin, priority=_check_priority(priority), status="open")
    if origin == "manual":
        if building is None or building == "":
            raise WorkOrderError("bâtiment manquant pour un ordre de travail saisi")
        b, eq_id, source_title = resolve_building(session, building), None, None
        _require_scope(session, actor, b)
    else:
        b, eq_id, source_title, link = _resolve_origin(session, actor, origin, refs[origin])
        for name, value in link.items():
            setattr(wo, name, value)
    wo.building_id = b.id
    wo.contract_id = _contract_for(session, actor, b, contract)
    if equipment is not None and equipment != "":
        eq = by_ref(session, Equipment, equipment, "équipement inconnu")
        if eq.building_id != b.id:
            raise WorkOrderError(f"l'équipement {eq.code} n'appartient pas au bâtiment {b.code}")
        eq_id = eq.id
    wo.equipment_id = eq_id
    wo.title = ((title or "").strip() or (source_title or "").strip())[:200]
    if not wo.title:
        raise WorkOrderError("l'ordre de travail n'a pas d'intitulé")
    wo.description = (description or "").strip() or None
    wo.assignee = (assignee or "").strip() or None
    wo.due_on = due_on
    wo.cost_cents = parse_cost_cents(cost)
    wo.created_by = actor.login
    session.add(wo)
    session.flush()
    _audit(session, actor.login, wo, None)
    if origin == "observation":
        _follow_observation(
            session,
            actor.login,
            wo,
            status="in_progress",
            answer=f"Pris en charge : ordre de travail n° {wo.id}.",
        )
    return wo


def _follow_observation(session: Session, actor: str, wo: WorkOrder, **changes) -> None:
    """The signalement follows its work order: its author reads the answer."""
    entry = session.get(LogbookEntry, wo.source_entry_id)
    fields = ["status", "answer", "merged_into_id"]
    if entry is None or entry.status in ("done", "cancelled"):
        return
    before = row_image(entry, fields)
    for name, value in changes.items():
        setattr(entry, name, value)
    record(session, actor, "update", "logbook_entry", entry.id, before, row_image(entry, fields))


def update_work_order(session: Session, actor: ActorLike, wo_id: int, **changes) -> WorkOrder:
    """Assignee, due date, priority, status (open / in progress), cost (`cost` in euros)."""
    wo = _editable(session, actor, wo_id, "modifier")
    if "cost" in changes:
        changes["cost_cents"] = parse_cost_cents(changes.pop("cost"))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise WorkOrderError(f"champ(s) non modifiable(s) : {', '.join(sorted(unknown))}")
    if "priority" in changes:
        _check_priority(changes["priority"])
    if "status" in changes and changes["status"] not in OPEN:
        raise WorkOrderError("un ordre de travail se termine par sa clôture (avec son rapport)")
    before = row_image(wo, _IMAGE)
    for name, value in changes.items():
        setattr(wo, name, value)
    session.flush()
    if row_image(wo, _IMAGE) != before:
        _audit(session, actor.login, wo, before)
    return wo


def close_work_order(
    session: Session,
    actor: ActorLike,
    wo_id: int,
    report: str,
    *,
    kind: str | None = None,
    cost=None,
    occurred_at: dt.datetime | dt.date | None = None,
    report_file: tuple[str, bytes] | None = None,
) -> LogbookEntry:
    """Close the order with its report: the intervention is written in the logbook (with the
    report file attached), linked to the order and to its alarm, which is then answered."""
    wo = _editable(session, actor, wo_id, "clore")
    report = (report or "").strip()
    if not report:
        raise WorkOrderError("le compte rendu de l'intervention est vide")
    if kind is None:
        kind = "preventive" if wo.origin == "obligation" else "corrective"
    if kind not in INTERVENTION_KINDS:
        raise WorkOrderError(f"nature d'intervention invalide « {kind} »")
    cost_cents = parse_cost_cents(cost) if cost not in (None, "") else wo.cost_cents
    refs = f"ordre de travail n° {wo.id}" + (f", alarme n° {wo.alarm_id}" if wo.alarm_id else "")
    entry = add_entry(
        session,
        actor,
        wo.building_id,
        kind,
        f"{report}\n({refs})",
        equipment=wo.equipment_id,
        occurred_at=occurred_at,
        title=wo.title,
        cost=None if cost_cents is None else Decimal(cost_cents) / 100,
        status="done",
        obligation=wo.obligation_id,
    )
    if report_file is not None:
        filename, data = report_file
        add_attachment(session, actor, entry, filename, data)
    before = row_image(wo, _IMAGE)
    wo.status = "done"
    wo.cost_cents = cost_cents
    wo.closed_at = utcnow()
    wo.closed_by = actor.login
    wo.intervention_entry_id = entry.id
    session.flush()
    _audit(session, actor.login, wo, before)
    if wo.alarm_id is not None:
        alarm_rules.answer(session, actor, wo.alarm_id, entry)
    if wo.source_entry_id is not None:
        _follow_observation(
            session,
            actor.login,
            wo,
            status="done",
            merged_into_id=entry.id,
            answer=f"Traité : intervention n° {entry.id} du "
            f"{fr_date(entry.occurred_at)} (ordre de travail n° {wo.id}).",
        )
    return entry


def cancel_work_order(session: Session, actor: ActorLike, wo_id: int, reason: str) -> WorkOrder:
    wo = _editable(session, actor, wo_id, "annuler")
    if not (reason or "").strip():
        raise WorkOrderError("une raison est nécessaire pour annuler un ordre de travail")
    before = row_image(wo, _IMAGE)
    wo.status = "cancelled"
    wo.closed_at = utcnow()
    wo.closed_by = actor.login
    wo.description = ((wo.description or "") + f"\nAnnulé : {reason.strip()}").strip()
    _audit(session, actor.login, wo, before)
    return wo


# ---------------------------------------------------------------- reading

COLUMNS = [
    "id",
    "contract_code",
    "building_code",
    "building_name",
    "equipment_code",
    "origin",
    "origin_label",
    "alarm_id",
    "source_entry_id",
    "obligation_id",
    "title",
    "description",
    "assignee",
    "due_on",
    "due",
    "overdue",
    "priority",
    "priority_label",
    "status",
    "status_label",
    "cost_cents",
    "cost",
    "created_by",
    "created",
    "closed_by",
    "intervention_entry_id",
    "intervention_kind",
]
_DERIVED = {
    "origin_label",
    "due",
    "overdue",
    "priority_label",
    "status_label",
    "cost",
    "created",
    "intervention_kind",
}


def work_orders_frame(
    session: Session,
    actor: ActorLike,
    *,
    contract: Contract | str | int | None = None,
    status: str | list[str] | None = None,
    priority: str | list[str] | None = None,
    building: Building | str | int | None = None,
    assignee: str | None = None,
    origin: str | None = None,
    overdue_only: bool = False,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """The orders `actor` may see (a contractor: its contract's), most urgent first: open
    before closed, then by due date; French labels and dd/mm/yyyy dates."""
    if not can(actor.role, "work_orders.view"):
        raise _deny(actor, "consulter les ordres de travail")
    today = today or local_today()
    intervention = LogbookEntry
    stmt = (
        select(
            WorkOrder.id,
            Contract.code.label("contract_code"),
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Equipment.code.label("equipment_code"),
            WorkOrder.origin,
            WorkOrder.alarm_id,
            WorkOrder.source_entry_id,
            WorkOrder.obligation_id,
            WorkOrder.title,
            WorkOrder.description,
            WorkOrder.assignee,
            WorkOrder.due_on,
            WorkOrder.priority,
            WorkOrder.status,
            WorkOrder.cost_cents,
            WorkOrder.created_by,
            WorkOrder.created_at,
            WorkOrder.closed_by,
            WorkOrder.intervention_entry_id,
            intervention.kind.label("entry_kind"),
        )
        .join(Building, Building.id == WorkOrder.building_id)
        .outerjoin(Contract, Contract.id == WorkOrder.contract_id)
        .outerjoin(Equipment, Equipment.id == WorkOrder.equipment_id)
        .outerjoin(intervention, intervention.id == WorkOrder.intervention_entry_id)
        .order_by(WorkOrder.id.desc())
    )
    if is_contractor(actor.role):
        stmt = stmt.where(WorkOrder.contract_id == (actor.contract_id or -1))
    if contract is not None and contract != "":
        stmt = stmt.where(
            WorkOrder.contract_id == by_ref(session, Contract, contract, "contrat inconnu").id
        )
    for column, wanted in ((WorkOrder.status, status), (WorkOrder.priority, priority)):
        if wanted:
            stmt = stmt.where(column.in_([wanted] if isinstance(wanted, str) else wanted))
    if building is not None and building != "":
        stmt = stmt.where(WorkOrder.building_id == resolve_building(session, building).id)
    if assignee:
        stmt = stmt.where(WorkOrder.assignee == assignee)
    if origin:
        if origin not in WORK_ORDER_ORIGINS:
            raise WorkOrderError(f"origine inconnue « {origin} »")
        stmt = stmt.where(WorkOrder.origin == origin)
    if overdue_only:
        stmt = stmt.where(WorkOrder.status.in_(OPEN), WorkOrder.due_on < today)
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    base = [c for c in COLUMNS if c not in _DERIVED] + ["created_at", "entry_kind"]
    frame = pd.DataFrame(rows, columns=base)
    frame["origin_label"] = frame["origin"].map(ORIGIN_LABELS_FR)
    frame["priority_label"] = frame["priority"].map(PRIORITY_LABELS_FR)
    frame["status_label"] = frame["status"].map(STATUS_LABELS_FR)
    frame["due"] = [fr_date(d) if isinstance(d, dt.date) else "" for d in frame["due_on"]]
    frame["overdue"] = [
        bool(isinstance(d, dt.date) and d < today and s in OPEN)
        for d, s in zip(frame["due_on"], frame["status"], strict=True)
    ]
    frame["cost"] = [
        fr_cents(None if pd.isna(c) else int(c), empty="") for c in frame["cost_cents"]
    ]
    frame["cost_cents"] = frame["cost_cents"].astype("Int64")
    frame["created"] = [fr_date(t) for t in frame["created_at"]]
    frame["intervention_kind"] = frame["entry_kind"].map(KIND_LABELS_FR)
    rank = frame["status"].map({"in_progress": 0, "open": 0, "done": 1, "cancelled": 2})
    order = pd.DataFrame({"rank": rank, "due": pd.to_datetime(frame["due_on"]), "id": -frame["id"]})
    frame = frame.loc[order.sort_values(["rank", "due", "id"], na_position="last").index]
    return frame[COLUMNS].reset_index(drop=True)


def entry_links(session: Session, entry_ids: list[int]) -> dict[int, int]:
    """entry id -> the work order it closed (its intervention) or came from (its signalement)."""
    if not entry_ids:
        return {}
    out: dict[int, int] = {}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.intervention_entry_id, WorkOrder.source_entry_id).where(
            WorkOrder.intervention_entry_id.in_(entry_ids)
            | WorkOrder.source_entry_id.in_(entry_ids)
        )
    )
    for wo_id, intervention_id, source_id in rows:
        for linked in (intervention_id, source_id):
            if linked in entry_ids:
                out[linked] = wo_id
    return out
