"""Data of the work-orders page, through `carnet.work_orders`: the same rules, scope and audit
as `carnet work`."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from carnet import alarms, work_orders
from carnet.access import CarnetPermissionError
from carnet.attachments import AttachmentError
from carnet.buildings import visible_buildings
from carnet.logbook import INTERVENTION_KINDS, KIND_LABELS_FR
from carnet.logbook_refs import LogbookError
from dashboards import db

OPEN = list(work_orders.OPEN)
STATUS_OPTIONS = [
    {"label": label, "value": key} for key, label in work_orders.STATUS_LABELS_FR.items()
]
PRIORITY_OPTIONS = [
    {"label": label, "value": key} for key, label in work_orders.PRIORITY_LABELS_FR.items()
]
KIND_OPTIONS = [
    {"label": KIND_LABELS_FR[k], "value": k}
    for k in ("corrective", "preventive", "inspection", "works")
    if k in INTERVENTION_KINDS
]
ORIGIN_PARAMS = {"alarme": "alarm", "signalement": "observation", "obligation": "obligation"}
ERRORS = (
    CarnetPermissionError,
    work_orders.WorkOrderError,
    alarms.AlarmError,
    LogbookError,
    AttachmentError,
    LookupError,
    ValueError,
)


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _message(exc: Exception) -> str:
    return str(exc).strip("'\"")


def rows(user, status=None, priority=None, building=None, contract=None, overdue=False):
    with db.session() as s:
        frame = work_orders.work_orders_frame(
            s,
            user,
            status=status or None,
            priority=priority or None,
            building=building or None,
            contract=contract or None,
            overdue_only=overdue,
        )
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def building_options(user) -> list[dict]:
    with db.session() as s:
        return [
            {"label": f"{b.code} — {b.name}", "value": b.code} for b in visible_buildings(s, user)
        ]


def contract_options(user) -> list[dict]:
    with db.session() as s:
        return [
            {"label": f"{code} — {name}", "value": code}
            for code, name in work_orders.contracts_in_scope(s, user)
        ]


def origin_of(user, query: dict) -> dict | None:
    """The origin named in the page's address (`?alarme=12`, `?signalement=…`,
    `?obligation=…`) with what it says, or None (by hand, or not visible to the user)."""
    for param, origin in ORIGIN_PARAMS.items():
        value = query.get(param)
        if value and str(value).isdigit():
            with db.session() as s:
                try:
                    described = work_orders.describe_origin(s, user, origin, int(value))
                except (LookupError, CarnetPermissionError):
                    return None
            return {"origin": origin, "id": int(value), **described}
    return None


def create(
    user, origin: dict | None, building, title, assignee, due, priority, cost, description
) -> tuple[int | None, str]:
    """(new id or None, French message)."""
    ref = {origin["origin"]: origin["id"]} if origin else {"building": building}
    try:
        with db.session() as s:
            wo = work_orders.create_work_order(
                s,
                user,
                **ref,
                title=title,
                assignee=assignee,
                due_on=_day(due),
                priority=priority or "normal",
                cost=cost,
                description=description,
            )
            return wo.id, f"Ordre de travail n° {wo.id} créé."
    except ERRORS as exc:
        return None, _message(exc)


def open_options(user) -> list[dict]:
    return [
        {"label": f"n° {r['id']} — {r['building_code']} — {r['title']}", "value": r["id"]}
        for r in rows(user, status=OPEN)
    ]


def decode_upload(contents: str) -> bytes:
    try:
        _header, data = contents.split(",", 1)
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise AttachmentError("fichier illisible") from exc


def close(user, wo_id, report, kind, cost, contents, filename) -> tuple[int | None, str]:
    """Close with the report: (intervention entry id or None, French message)."""
    try:
        report_file = (filename or "rapport", decode_upload(contents)) if contents else None
        with db.session() as s:
            entry = work_orders.close_work_order(
                s, user, int(wo_id), report or "", kind=kind, cost=cost, report_file=report_file
            )
            return entry.id, (
                f"Ordre de travail n° {wo_id} clos : intervention n° {entry.id} consignée au carnet."
            )
    except ERRORS as exc:
        return None, _message(exc)
