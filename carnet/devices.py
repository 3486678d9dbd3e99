"""The communicating devices as people check them: each Modbus device's last contact (kept by
the poller in `device_status`) and the open alarms the poller raised in the logbook."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import Building, DeviceStatus, Equipment, LogbookEntry

OPEN_ALARM = ("open", "in_progress")
STATUS_FIELDS = (
    "gateway_code", "unit", "model", "last_contact_at", "last_error", "last_error_at",
    "consecutive_failures",
)  # fmt: skip


def device_statuses(session: Session, building_ids: Collection[int] | None = None) -> list[dict]:
    """One dict per device (`STATUS_FIELDS`, `building` (code, name) or None, `equipment` name
    or None), by gateway and unit; `building_ids` None = every building."""
    stmt = (
        select(DeviceStatus, Building, Equipment)
        .outerjoin(Building, Building.id == DeviceStatus.building_id)
        .outerjoin(Equipment, Equipment.id == DeviceStatus.equipment_id)
        .order_by(DeviceStatus.gateway_code, DeviceStatus.unit)
    )
    if building_ids is not None:
        stmt = stmt.where(DeviceStatus.building_id.in_(building_ids or [-1]))
    return [
        {
            **{name: getattr(st, name) for name in STATUS_FIELDS},
            "building": (b.code, b.name) if b else None,
            "equipment": e.name or e.code if e else None,
        }
        for st, b, e in session.execute(stmt)
    ]


def open_alarms(session: Session, building_ids: Collection[int] | None = None) -> list[dict]:
    """The open or in-progress alarms, latest first: `occurred_at`, `title`, `text`, `status`,
    `alarm_key`, `building` (code, name), `equipment` name or None."""
    stmt = (
        select(LogbookEntry, Building, Equipment)
        .join(Building, Building.id == LogbookEntry.building_id)
        .outerjoin(Equipment, Equipment.id == LogbookEntry.equipment_id)
        .where(LogbookEntry.kind == "alarm", LogbookEntry.status.in_(OPEN_ALARM))
        .order_by(LogbookEntry.occurred_at.desc())
    )
    if building_ids is not None:
        stmt = stmt.where(LogbookEntry.building_id.in_(building_ids or [-1]))
    return [
        {
            "occurred_at": entry.occurred_at,
            "title": entry.title,
            "text": entry.text,
            "status": entry.status,
            "alarm_key": entry.alarm_key,
            "building": (b.code, b.name),
            "equipment": e.name or e.code if e else None,
        }
        for entry, b, e in session.execute(stmt)
    ]
