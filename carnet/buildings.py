"""The building record (fiche bâtiment) as plain data: what the building page shows.

One query function gathers identity, rooms, the equipment tree (boiler room > boiler > burner),
channels with their last reading, obligations, open alarms and the recent logbook, filtered by
what the user's role may see, so that the page only lays it out.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carnet.access import (
    ActorLike,
    CarnetPermissionError,
    can_view_building,
    can_view_logbook,
    viewable_building_ids,
)
from carnet.attachments import entry_attachments
from carnet.logbook import KIND_LABELS_FR
from carnet.logbook_refs import resolve_building
from carnet.logbook_timeline import timeline
from carnet.models import Attachment, Building, Channel, Equipment, LogbookEntry, Reading, Room
from carnet.obligations import local_today, obligations_frame
from carnet.quantities import quantity_labels
from carnet.timeutil import epoch_to_local, fr_date

EQUIPMENT_LABELS_FR = {
    "boiler_room": "Chaufferie",
    "boiler": "Chaudière",
    "burner": "Brûleur",
    "heat_pump": "Pompe à chaleur",
    "gas_meter": "Compteur gaz",
    "heat_meter": "Compteur de chaleur",
    "electricity_meter": "Compteur électrique",
    "sensor": "Sonde",
    "controller": "Régulateur",
    "lift": "Ascenseur",
    "bacs": "GTB",
    "water_meter": "Compteur d'eau",
    "pump": "Pompe",
    "air_handling_unit": "Centrale de traitement d'air",
    "chimney": "Conduit de fumée",
    "dhw_tank": "Ballon d'eau chaude",
    "other": "Autre équipement",
}


def building_by_qr_token(session: Session, token: str) -> Building | None:
    if not token:
        return None
    return session.scalar(select(Building).where(Building.qr_token == token))


def building_rooms(session: Session, building_id: int) -> list[dict]:
    """The building's rooms by name (`code`, `name`), for the QR report form's "Où ?"."""
    rooms = session.scalars(select(Room).where(Room.building_id == building_id).order_by(Room.name))
    return [{"code": r.code, "name": r.name} for r in rooms]


def visible_buildings(session: Session, actor: ActorLike) -> list[Building]:
    scope = viewable_building_ids(session, actor)
    stmt = select(Building).order_by(Building.code)
    if scope is not None:
        stmt = stmt.where(Building.id.in_(scope or [-1]))
    return list(session.scalars(stmt))


def equipment_tree(equipment: list[Equipment]) -> list[dict]:
    """Nested dicts following `parent_id` (roots first, children sorted by code)."""
    nodes = {
        eq.id: {
            "id": eq.id,
            "code": eq.code,
            "kind": eq.kind,
            "kind_label": EQUIPMENT_LABELS_FR.get(eq.kind, eq.kind),
            "name": eq.name,
            "make": eq.make,
            "model": eq.model,
            "serial": eq.serial,
            "power_kw": eq.power_kw,
            "fuel": eq.fuel,
            "installed_on": fr_date(eq.installed_on),
            "removed_on": fr_date(eq.removed_on),
            "children": [],
        }
        for eq in equipment
    }
    roots = []
    for eq in sorted(equipment, key=lambda e: e.code):
        node = nodes[eq.id]
        parent = nodes.get(eq.parent_id) if eq.parent_id else None
        (parent["children"] if parent else roots).append(node)
    return roots


def last_readings(session: Session, channel_ids: list[int]) -> dict[int, tuple[int, float | None]]:
    """(ts, value) of the latest reading of each channel: one grouped query on the PK index."""
    if not channel_ids:
        return {}
    latest = (
        select(Reading.channel_id, func.max(Reading.ts).label("ts"))
        .where(Reading.channel_id.in_(channel_ids))
        .group_by(Reading.channel_id)
        .subquery()
    )
    rows = session.execute(
        select(Reading.channel_id, Reading.ts, Reading.value).join(
            latest, (Reading.channel_id == latest.c.channel_id) & (Reading.ts == latest.c.ts)
        )
    )
    return {cid: (ts, value) for cid, ts, value in rows}


def building_record(
    session: Session,
    actor: ActorLike,
    code: str,
    today: dt.date | None = None,
    timeline_limit: int = 100,
) -> dict:
    """Everything the building page shows, limited to what `actor` may see.

    The programmer gets identity and rooms only (`rooms_only`); a user outside the building's
    scope gets CarnetPermissionError."""
    building = resolve_building(session, code)
    if not can_view_building(session, actor, building.id):
        raise CarnetPermissionError(f"accès refusé au bâtiment {building.code}")
    today = today or local_today()
    rooms = session.scalars(select(Room).where(Room.building_id == building.id).order_by(Room.code))
    record = {
        "identity": {
            "id": building.id,
            "code": building.code,
            "name": building.name,
            "address": building.address,
            "usage": building.usage,
            "heated_area_m2": building.heated_area_m2,
            "tertiary_area_m2": building.tertiary_area_m2,
            "year_built": building.year_built,
            "erp_category": building.erp_category,
            "erp_type": building.erp_type,
            "main_energy": building.main_energy,
        },
        "rooms": [
            {
                "code": r.code,
                "name": r.name,
                "bookable": r.bookable,
                "capacity": r.capacity,
                "area_m2": r.area_m2,
                "heating_zone": r.heating_zone,
            }
            for r in rooms
        ],
        "rooms_only": not can_view_logbook(session, actor, building.id),
        "equipment": [],
        "channels": [],
        "obligations": [],
        "open_alarms": [],
        "timeline": [],
        "documents": [],
    }
    if record["rooms_only"]:
        return record
    equipment = session.scalars(select(Equipment).where(Equipment.building_id == building.id)).all()
    record["equipment"] = equipment_tree(list(equipment))
    channels = session.scalars(
        select(Channel).where(Channel.building_id == building.id).order_by(Channel.code)
    ).all()
    last = last_readings(session, [c.id for c in channels])
    labels = quantity_labels(session)
    for ch in channels:
        ts, value = last.get(ch.id, (None, None))
        record["channels"].append(
            {
                "code": ch.code,
                "quantity": ch.quantity,
                "quantity_label": labels.get(ch.quantity, ch.quantity),
                "kind": ch.kind,
                "unit": ch.unit,
                "external_ref": ch.external_ref,
                "equipment_code": ch.equipment.code if ch.equipment else None,
                "room_code": ch.room.code if ch.room else None,
                "last_ts": ts,
                "last_at": epoch_to_local([ts])[0].strftime("%d/%m/%Y %H:%M") if ts else "",
                "last_value": value,
            }
        )
    obligations = obligations_frame(session, actor, building=building, today=today)
    record["obligations"] = [
        row | {"last_done": fr_date(row["last_done_on"]), "next_due": fr_date(row["next_due_on"])}
        for row in _records(obligations)
    ]
    alarms = timeline(session, actor, building, kind="alarm", status=["open", "in_progress"])
    record["open_alarms"] = _records(alarms)
    frame = timeline(session, actor, building, limit=timeline_limit)
    record["timeline"] = _records(frame)
    attached = entry_attachments(session, frame["id"].tolist())
    for row in record["timeline"]:
        row["files"] = attached.get(row["id"], [])
    docs = session.execute(
        select(Attachment, LogbookEntry.kind, LogbookEntry.occurred_at)
        .join(LogbookEntry, LogbookEntry.id == Attachment.entry_id)
        .where(LogbookEntry.building_id == building.id, LogbookEntry.status != "cancelled")
        .order_by(LogbookEntry.occurred_at.desc())
    ).all()
    record["documents"] = [
        {
            "id": att.id,
            "filename": att.filename,
            "content_type": att.content_type,
            "size_bytes": att.size_bytes,
            "entry_id": att.entry_id,
            "kind_label": KIND_LABELS_FR.get(kind, kind),
            "date": fr_date(when),
        }
        for att, kind, when in docs
    ]
    return record


def _records(frame) -> list[dict]:
    """Frame rows as dicts with None instead of NA (plain data for a page or JSON)."""
    out = []
    for row in frame.astype(object).to_dict("records"):
        out.append({k: (None if _isna(v) else v) for k, v in row.items()})
    return out


def _isna(value) -> bool:
    if isinstance(value, list | dict):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
