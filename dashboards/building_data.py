"""Data of the building page (`/batiments/<code>`): the record, the logbook with its files and
links, the triage queue, and the page's writes. Every read and write goes through `carnet`
(`carnet.buildings`, `carnet.logbook`, `carnet.obligations`), which enforces roles; the writes
that name an entry or an obligation by number are first checked against the building in the
URL and the user's scope here, so that a form cannot reach another building's rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError, can_view_building
from carnet.attachments import add_attachment, entry_attachments
from carnet.buildings import building_record
from carnet.db import session_scope
from carnet.logbook import add_entry, deny, edit_entry, get_entry, may_edit, parse_cost_cents
from carnet.logbook_refs import LogbookError, resolve_building
from carnet.logbook_timeline import open_observations, timeline, timeline_count
from carnet.logbook_triage import accept_as_work, close_with_answer, merge_into
from carnet.models import Building, LogbookEntry, Obligation
from carnet.obligations import edit_obligation, obligations_frame
from carnet.roles import can
from carnet.timeutil import TZ
from dashboards import alarms_data


def _records(frame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _in_scope(s: Session, user: ActorLike, code: str) -> Building:
    building = resolve_building(s, code)
    if not can_view_building(s, user, building.id):
        raise CarnetPermissionError(f"accès refusé au bâtiment {building.code}")
    return building


PAGE_SIZE = 20  # logbook entries per page, newest first


def _with_files(s: Session, frame, user: ActorLike | None = None) -> list[dict]:
    """Rows with their files and links, and `can_edit` by `carnet.logbook.may_edit` when a
    user is given (the « Modifier » button of each entry)."""
    rows = _records(frame)
    ids = [r["id"] for r in rows]
    files = entry_attachments(s, ids)
    links = alarms_data.entry_links(s, ids)
    editable: set[int] = set()
    if user is not None and ids and can(user.role, "carnet.intervention"):
        entries = s.scalars(select(LogbookEntry).where(LogbookEntry.id.in_(ids)))
        editable = {e.id for e in entries if may_edit(s, user, e)}
    for r in rows:
        r["files"] = files.get(r["id"], [])
        r["links"] = links.get(r["id"], {})
        r["can_edit"] = r["id"] in editable
    return rows


def _logbook_page(
    s: Session, user: ActorLike, building: Building, filters: dict | None, page
) -> dict:
    filters = filters or {}
    total = timeline_count(s, user, building, **filters)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, int(page or 1)), pages)
    frame = timeline(s, user, building, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
    return {
        "rows": _with_files(s, frame, user),
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1 if total else 0,
        "last": min(page * PAGE_SIZE, total),
    }


def logbook_page(
    engine: Engine, user: ActorLike, code: str, filters: dict | None = None, page=1
) -> dict:
    """One page of the building's logbook, newest first, filtered and paged by the database:
    `rows` (with files, links and `can_edit`), `total`, `page` (clamped), `pages`, and the
    ranks `first`..`last` of the rows shown."""
    with session_scope(engine) as s:
        return _logbook_page(s, user, _in_scope(s, user, code), filters, page)


def _triage_rows(s: Session, user: ActorLike, building: Building) -> dict | None:
    if not can(user.role, "carnet.triage"):
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
    with_logbook: bool = True,
) -> dict:
    """The record and its dynamic parts: `rec` (from `building_record`, its open alarms with
    their links), `logbook` (the first page of `logbook_page` for `filters`, when asked), and `triage`
    ({pending, targets}, None for whoever may not triage or when not asked). The programmer's
    rooms-only record comes alone."""
    with session_scope(engine) as s:
        rec = building_record(s, user, code)
        if rec["rooms_only"]:
            return {"rec": rec}
        building = resolve_building(s, code)
        logbook = _logbook_page(s, user, building, filters, 1) if with_logbook else None
        alarm_links = alarms_data.entry_links(s, [r["id"] for r in rec["open_alarms"]])
        for r in rec["open_alarms"]:
            r["links"] = alarm_links.get(r["id"], {})
        triage = _triage_rows(s, user, building) if with_triage else None
    return {"rec": rec, "logbook": logbook, "triage": triage}


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


def _cost_text(cents) -> str:
    """Integer cents as the form shows them back ("1234,56"), "" without a cost."""
    if cents is None:
        return ""
    return f"{cents // 100},{cents % 100:02d}"


def _editable_entry(s: Session, user: ActorLike, code: str, entry_id) -> LogbookEntry:
    """The entry of this building that `user` may edit (the ids come from the browser)."""
    if not entry_id:
        raise LogbookError("choisissez l'entrée à modifier")
    entry = get_entry(s, int(entry_id))
    if entry.building_id != _in_scope(s, user, code).id:
        raise LogbookError(f"l'entrée n° {entry_id} ne concerne pas ce bâtiment")
    if not may_edit(s, user, entry):
        raise deny(user, f"modifier l'entrée {entry.id}")
    return entry


def entry_form_values(engine: Engine, user: ActorLike, code: str, entry_id) -> dict:
    """What the edit form shows of one entry (checked: this building, editable by `user`)."""
    with session_scope(engine) as s:
        e = _editable_entry(s, user, code, entry_id)
        return {
            "id": e.id,
            "kind": e.kind,
            "date": e.occurred_at.astimezone(TZ).date().isoformat(),
            "equipment": e.equipment.code if e.equipment else None,
            "room": e.room.code if e.room else None,
            "status": e.status,
            "cost": _cost_text(e.cost_cents),
            "text": e.text,
            "answer": e.answer or "",
        }


def update_entry(engine: Engine, user: ActorLike, code: str, entry_id, values: dict) -> None:
    """Save the edit form of one entry: only the fields that changed go to
    `carnet.logbook.edit_entry` (audited with before and after); a changed day keeps the
    entry's time of day; the status « Annulé » cancels it (nothing is deleted), `answer`
    being its reason."""
    with session_scope(engine) as s:
        entry = _editable_entry(s, user, code, entry_id)
        current = {
            "kind": entry.kind,
            "status": entry.status,
            "text": entry.text,
            "answer": entry.answer or None,
            "equipment": entry.equipment.code if entry.equipment else None,
            "room": entry.room.code if entry.room else None,
        }
        wanted = {
            "kind": values.get("kind") or entry.kind,
            "status": values.get("status") or entry.status,
            "text": (values.get("text") or "").strip(),
            "answer": (values.get("answer") or "").strip() or None,
            "equipment": values.get("equipment") or None,
            "room": values.get("room") or None,
        }
        changes = {k: v for k, v in wanted.items() if v != current[k]}
        if "cost" in values:
            cents = parse_cost_cents(values["cost"])
            if cents != entry.cost_cents:
                changes["cost_cents"] = cents
        if values.get("date"):
            local = entry.occurred_at.astimezone(TZ)
            day = dt.date.fromisoformat(values["date"][:10])
            if day != local.date():
                changes["occurred_at"] = dt.datetime.combine(day, local.timetz())
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


def filter_args(kinds, equipment, start, end, author, status=None, text=None) -> dict:
    """The logbook filters of the page's controls, as `carnet.logbook_timeline.timeline` takes
    them (applied by the database, before the page is cut)."""
    return {
        "kind": kinds or None,
        "equipment": equipment or None,
        "date_from": dt.date.fromisoformat(start[:10]) if start else None,
        "date_to": dt.date.fromisoformat(end[:10]) if end else None,
        "author": author or None,
        "status": status or None,
        "text": (text or "").strip() or None,
    }
