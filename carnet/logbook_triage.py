"""The manager's triage of the agents' observations: accept one as work, merge a duplicate
into the entry that already follows the problem, or close it with an answer.

Kept apart from the writing rules of `carnet.logbook` because triage is a workflow over
observations (who may triage, which work kinds an observation becomes); every change it makes
is an ordinary `edit_entry`/`add_entry`, so the audit trail and the status side effects stay
the logbook's own.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from carnet.access import ActorLike
from carnet.logbook import CLOSED, add_entry, check_merge_target, deny, edit_entry, get_entry
from carnet.logbook_refs import LogbookError
from carnet.models import Equipment, LogbookEntry
from carnet.roles import can

WORK_KINDS = frozenset({"corrective", "works", "preventive", "inspection"})


def _require_triage(session: Session, actor: ActorLike, entry_id: int) -> LogbookEntry:
    if not can(actor.role, "carnet.triage"):
        raise deny(actor, "traiter les signalements")
    entry = get_entry(session, entry_id)
    if entry.kind != "observation":
        raise LogbookError(f"l'entrée {entry_id} n'est pas une observation")
    return entry


def accept_as_work(
    session: Session,
    actor: ActorLike,
    observation_id: int,
    kind: str = "corrective",
    text: str | None = None,
    answer: str | None = None,
    equipment: Equipment | str | int | None = None,
) -> LogbookEntry:
    """Turn an observation into an open work entry; the observation follows it (in progress,
    done when the work is done) and the agent reads the answer."""
    observation = _require_triage(session, actor, observation_id)
    if kind not in WORK_KINDS:
        raise LogbookError(f"nature de travail invalide « {kind} »")
    work = add_entry(
        session,
        actor,
        observation.building_id,
        kind,
        text or observation.text,
        equipment=equipment if equipment is not None else observation.equipment_id,
        room=observation.room_id,
        title=observation.title,
        status="open",
    )
    edit_entry(
        session,
        actor,
        observation.id,
        status="in_progress",
        merged_into_id=work.id,
        answer=answer or f"Pris en charge : intervention n° {work.id} programmée.",
    )
    return work


def merge_into(
    session: Session,
    actor: ActorLike,
    observation_id: int,
    target_id: int,
    answer: str | None = None,
) -> LogbookEntry:
    """A duplicate report: it follows `target` (same status rules as an accepted one)."""
    observation = _require_triage(session, actor, observation_id)
    target = check_merge_target(session, observation, target_id)
    status = target.status if target.status in CLOSED else "in_progress"
    return edit_entry(
        session,
        actor,
        observation.id,
        status=status,
        merged_into_id=target.id,
        answer=answer or f"Déjà signalé : suivi dans l'entrée n° {target.id}.",
    )


def close_with_answer(
    session: Session, actor: ActorLike, observation_id: int, answer: str
) -> LogbookEntry:
    """Close an observation that needs no work, with the answer its author will read."""
    _require_triage(session, actor, observation_id)
    if not (answer or "").strip():
        raise LogbookError("une réponse est nécessaire pour clore un signalement")
    return edit_entry(session, actor, observation_id, status="done", answer=answer.strip())
