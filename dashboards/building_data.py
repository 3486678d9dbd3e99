"""Data of the building page (`/batiments/<code>`): the record, the logbook with its files and
links, the triage queue, and the page's writes. Every read and write goes through `carnet`
(`carnet.buildings`, `carnet.logbook`, `carnet.obligations`), which enforces roles; the writes
that name an entry or an obligation by number are first checked against the building in the
URL and the user's scope here, so that a form cannot reach another building's rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError, can_view_building
from carnet.attachments import add_attachment, entry_attachments
from carnet.buildings import building_record
from carnet.db import session_scope
from carnet.logbook import add_entry, cancel_entry, edit_entry, get_entry
from carnet.logbook_refs import LogbookError, resolve_building
from carnet.logbook_timeline import open_observations, timeline
from carnet.logbook_triage import accept_as_work, close_with_answer, merge_into
from carnet.models import Building, Obligation
from carnet.obligations import edit_obligation, obligations_frame
from dashboards import alarms_data


def _records(frame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _in_scope(s: Session, user: ActorLike, code: str) -> Building:
    building = resolve_building(s, code)
    if not can_view_building(s, user, building.id):
        raise CarnetPermissionError(f"accès refusé au bâtiment {building.code}")
    return building


def _with_files(s: Session, frame) -> list[dict]:
    rows = _records(frame)
    files = entry_attachments(s, [r["id"] for r in rows])
    links = alarms_data.entry_links(s, [r["id"] for r in rows])
    for r in rows:
        r["files"] = files.get(r["id"], [])
        r["links"] = links.get(r["id"], {})
    return rows


def _triage_rows(s: Session, user: ActorLike, building: Building) -> dict | None:
    if not user.can("carnet.triage"):
        return None
    pending = open_observations(s, user, building)
    targets = timeline(s, user, building, status=["open", "in_progress"], include_cancelled=False)
    return {"pending": _records(pending), "targets": _records(targets)}


def sections(
    engine: Engine,
    user: ActorLike,
    code: str,
    filters: dict | None = None,
    with_triage: bool = True,
) -> dict:
    """The record and its dynamic parts: `rec` (from `building_record`, its open alarms with
    their links), `timeline` rows with files and links, and `triage` ({pending, targets}, None
    for whoever may not triage or when not asked). The programmer's rooms-only record comes
    alone."""
    with session_scope(engine) as s:
        rec = building_record(s, user, code)
        if rec["rooms_only"]:
            return {"rec": rec}
        building = resolve_building(s, code)
        rows = _with_files(s, timeline(s, user, building, **(filters or {})))
        alarm_links = alarms_data.entry_links(s, [r["id"] for r in rec["open_alarms"]])
        for r in rec["open_alarms"]:
            r["links"] = alarm_links.get(r["id"], {})
        triage = _triage_rows(s, user, building) if with_triage else None
    return {"rec": rec, "timeline": rows, "triage": triage}


def triage_rows(engine: Engine, user: ActorLike, code: str) -> dict | None:
    """The observations waiting for the manager and the entries they may be merged into."""
    with session_scope(engine) as s:
        return _triage_rows(s, user, resolve_building(s, code))


def qr_token(engine: Engine, code: str) -> str | None:
    """The building's signalling token (drawn when the building was created: reading it
    writes nothing)."""
    with session_scope(engine) as s:
        return resolve_building(s, code).qr_token


def building_obligations(engine: Engine, user: ActorLike, code: str) -> list[dict]:
    """The building's obligations, for the forms' choices."""
    with session_scope(engine) as s:
        return _records(obligations_frame(s, user, building=resolve_building(s, code)))


def add_to_logbook(
    engine: Engine,
    user: ActorLike,
    code: str,
    kind: str,
    text: str,
    *,
    attachment: tuple[str, bytes] | None = None,
    **fields,
) -> int:
    """Write one entry (and its attached file, in the same transaction); its number."""
    with session_scope(engine) as s:
        entry = add_entry(s, user, code, kind, text, **fields)
        if attachment:
            add_attachment(s, user, entry, *attachment)
        return entry.id


def triage_action(
    engine: Engine,
    user: ActorLike,
    code: str,
    entry_id: int,
    action: str,
    *,
    kind: str,
    target,
    answer: str | None,
) -> str:
    """Accept, merge or close one observation of the building; the French confirmation."""
    with session_scope(engine) as s:
        building = _in_scope(s, user, code)
        if get_entry(s, entry_id).building_id != building.id:
            raise LogbookError(f"l'entrée n° {entry_id} ne concerne pas ce bâtiment")
        if action == "accept":
            work = accept_as_work(s, user, entry_id, kind=kind, answer=answer)
            return f"Signalement n° {entry_id} accepté : intervention n° {work.id} ouverte."
        if action == "merge":
            if not target:
                raise LogbookError("choisissez l'entrée avec laquelle fusionner")
            merge_into(s, user, entry_id, int(target), answer=answer)
            return f"Signalement n° {entry_id} fusionné avec l'entrée n° {target}."
        close_with_answer(s, user, entry_id, answer or "")
        return f"Signalement n° {entry_id} clos avec la réponse."


def update_entry(
    engine: Engine, user: ActorLike, code: str, entry_id, status, cost, note: str | None
) -> None:
    """Change an entry's status, cost or answer, or cancel it (with `note` as the reason)."""
    if not entry_id:
        raise LogbookError("indiquez le numéro de l'entrée")
    with session_scope(engine) as s:
        entry = get_entry(s, int(entry_id))
        if entry.building_id != _in_scope(s, user, code).id:
            raise LogbookError(f"l'entrée n° {entry_id} ne concerne pas ce bâtiment")
        if status == "cancelled":
            cancel_entry(s, user, entry.id, reason=note)
            return
        changes = {}
        if status:
            changes["status"] = status
        if cost not in (None, ""):
            changes["cost"] = cost
        if note:
            changes["answer"] = note
        if not changes:
            raise LogbookError("rien à modifier")
        edit_entry(s, user, entry.id, **changes)


def update_obligation(engine: Engine, user: ActorLike, code: str, ob_id, changes: dict) -> None:
    """Adapt one of the building's obligations (periodicity, last done, active, notes)."""
    if not ob_id:
        raise ValueError("choisissez une obligation")
    if not changes:
        raise ValueError("rien à modifier")
    with session_scope(engine) as s:
        ob = s.get(Obligation, int(ob_id))
        if ob is None or ob.building_id != _in_scope(s, user, code).id:
            raise ValueError("cette obligation ne concerne pas ce bâtiment")
        edit_obligation(s, user, ob.id, **changes)


def filter_args(kinds, equipment, start, end, author) -> dict:
    """The timeline filters of the page's controls, as `carnet.logbook.timeline` takes them."""
    return {
        "kind": kinds or None,
        "equipment": equipment or None,
        "date_from": dt.date.fromisoformat(start[:10]) if start else None,
        "date_to": dt.date.fromisoformat(end[:10]) if end else None,
        "author": author or None,
    }
