"""The communicating devices as people check them: each Modbus device's last contact (kept by
the poller in `device_status`) and the open alarms the poller raised in the logbook."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.alarms import ACTIVE, STATUS_LABELS_FR
from carnet.models import Alarm, Building, DeviceStatus, Equipment, LogbookEntry

STATUS_FIELDS = (
    "gateway_code", "unit", "model", "last_contact_at", "last_error", "last_error_at",
    "consecutive_failures",
)  # fmt: skip


def device_statuses(session: Session, building_ids: Collection[int] | None = None) -> list[dict]:
    """One dict per device (`STATUS_FIELDS`, `building` (code, name) or None, `equipment` name
    or None, `equipment_id`), by gateway and unit; `building_ids` None = every building."""
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
            "equipment_id": st.equipment_id,
        }
        for st, b, e in session.execute(stmt)
    ]


def open_alarms(session: Session, building_ids: Collection[int] | None = None) -> list[dict]:
    """The alarms not closed (`carnet.alarms`), latest first: `id`, `occurred_at`, `title`,
    `text` (its logbook entry's), `status` (open, acknowledged, answered) and its `status_label`, `alarm_key`,
    `building` (code, name), `equipment` name or None, `equipment_id`."""
    stmt = (
        select(Alarm, Building, Equipment, LogbookEntry.text)
        .join(Building, Building.id == Alarm.building_id)
        .outerjoin(Equipment, Equipment.id == Alarm.equipment_id)
        .outerjoin(LogbookEntry, LogbookEntry.id == Alarm.entry_id)
        .where(Alarm.status.in_(ACTIVE))
        .order_by(Alarm.opened_at.desc(), Alarm.id.desc())
    )
    if building_ids is not None:
        stmt = stmt.where(Alarm.building_id.in_(building_ids or [-1]))
    return [
        {
            "id": alarm.id,
            "occurred_at": alarm.opened_at,
            "title": alarm.label,
            "text": text or alarm.label,
            "status": alarm.status,
            "status_label": STATUS_LABELS_FR[alarm.status],
            "alarm_key": alarm.alarm_key,
            "building": (b.code, b.name),
            "equipment": e.name or e.code if e else None,
            "equipment_id": alarm.equipment_id,
        }
        for alarm, b, e, text in session.execute(stmt)
    ]
