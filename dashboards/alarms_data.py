"""Data of the alarms page (and the logbook's links to alarms and work orders), through
`carnet.alarms`: the page and the CLI go through the same rules, scope and audit."""

from __future__ import annotations

import datetime as dt

from carnet import alarms, work_orders
from carnet.access import CarnetPermissionError
from carnet.buildings import visible_buildings
from dashboards import db

ACTIVE = list(alarms.ACTIVE)
STATUS_OPTIONS = [{"label": label, "value": key} for key, label in alarms.STATUS_LABELS_FR.items()]


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def alarm_rows(user, status=None, building=None, start=None, end=None) -> list[dict]:
    """The alarms the user may see, newest first, with French dates, and what the user may do
    on each (`can_ack`, `can_close`, `can_order`)."""
    handle = user.can("alarms.handle")
    order = user.can("work_orders.edit")
    with db.session() as s:
        frame = alarms.alarms_frame(
            s,
            user,
            status=status or None,
            building=building or None,
            date_from=_day(start),
            date_to=_day(end),
        )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for r in rows:
        r["can_ack"] = handle and r["status"] == "open"
        r["can_close"] = handle and r["status"] != "closed"
        r["can_order"] = order and r["status"] != "closed"
    return rows


def building_options(user) -> list[dict]:
    with db.session() as s:
        return [
            {"label": f"{b.code} — {b.name}", "value": b.code} for b in visible_buildings(s, user)
        ]


def act(user, action: str, alarm_id: int, note: str | None = None) -> tuple[bool, str]:
    """Acknowledge (`ack`) or close (`close`) an alarm: (done, French message)."""
    try:
        with db.session() as s:
            if action == "ack":
                alarms.acknowledge(s, user, alarm_id)
                return True, f"Alarme n° {alarm_id} prise en compte."
            alarms.close(s, user, alarm_id, note)
            return True, f"Alarme n° {alarm_id} close."
    except (CarnetPermissionError, alarms.AlarmError, LookupError) as exc:
        return False, str(exc).strip("'\"")


def entry_links(session, entry_ids: list[int]) -> dict[int, dict]:
    """entry id -> {"alarm_id", "work_order_id"} for the logbook's cards."""
    out: dict[int, dict] = {}
    for name, links in (
        ("alarm_id", alarms.entry_links(session, entry_ids)),
        ("work_order_id", work_orders.entry_links(session, entry_ids)),
    ):
        for entry_id, target in links.items():
            out.setdefault(entry_id, {})[name] = target
    return out
