"""The contractor's heating schedule: when to start heating which room, to what setpoint, until when.

Built from confirmed bookings only (an option is not yet a reason to heat). The contractor must
notice what changed since it last looked, so each user's last view is stored (`schedule_view`)
and bookings created, updated or cancelled since are flagged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carnet.access import scope_of, scope_of_contract
from carnet.bookings import ActorLike, BookingPermissionError
from carnet.models import Booking, Building, Room, ScheduleView
from carnet.roles import can
from carnet.seen_rows import record_seen_at, seen_at

HORIZON_DAYS = 14
CHANGE_LABELS_FR = {"new": "nouveau", "updated": "modifié", "cancelled": "annulé"}
COLUMNS = [
    "booking_id",
    "building",
    "building_name",
    "room",
    "room_name",
    "heating_zone",
    "title",
    "status",
    "heat_from",
    "starts_at",
    "until",
    "setpoint_c",
    "preheat_min",
    "heating_note",
    "change",
]


def _require(actor: ActorLike) -> None:
    if not can(actor.role, "heating_schedule.view"):
        raise BookingPermissionError(
            f"action refusée : le rôle « {actor.role} » ne voit pas le planning de chauffage"
        )


def last_seen(session: Session, user_id: int) -> dt.datetime | None:
    return seen_at(session, ScheduleView, {"user_id": user_id})


def record_view(
    session: Session, user_id: int, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Store that the user looked at the schedule now (an upsert: first views race); returns
    the previous look (or None)."""
    now = now or dt.datetime.now(dt.UTC)
    return record_seen_at(session, ScheduleView, {"user_id": user_id}, now)


def change_since(booking: Booking, since: dt.datetime | None) -> str | None:
    """ "new", "updated", "cancelled" or None; with no previous look everything is new."""
    if since is None:
        return None if booking.status != "confirmed" else "new"
    if booking.status != "confirmed":
        changed = booking.updated_at > since and booking.created_at <= since
        return "cancelled" if changed else None
    if booking.created_at > since:
        return "new"
    if booking.updated_at > since:
        return "updated"
    return None


def heating_schedule(
    session: Session,
    actor: ActorLike,
    *,
    now: dt.datetime | None = None,
    days: int = HORIZON_DAYS,
    since: dt.datetime | None = None,
    contract_id: int | None = None,
    room_ids: set[int] | None = None,
) -> pd.DataFrame:
    """One row per confirmed booking whose heating period ends within [now, now + days).

    `heat_from` = start - pre-heating; `until` = end of the booking. Bookings cancelled (or put
    back to option) since `since` are kept with `change = "cancelled"` so the contractor sees the
    slot go away. Sorted by building, heating zone, room and heating start.
    """
    _require(actor)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    horizon = now + dt.timedelta(days=days)
    stmt = (
        select(Booking, Room, Building)
        .join(Room, Booking.room_id == Room.id)
        .join(Building, Room.building_id == Building.id)
        .where(Booking.ends_at > now, Booking.starts_at < horizon + dt.timedelta(days=1))
    )
    live = Booking.status == "confirmed"
    stmt = stmt.where(or_(live, Booking.updated_at > since) if since is not None else live)
    scope = scope_of(session, actor).building_filter
    if contract_id is not None:
        wanted = scope_of_contract(session, contract_id).building_ids
        scope = wanted if scope is None else scope & wanted
    if scope is not None:
        stmt = stmt.where(Room.building_id.in_(scope or {-1}))
    if room_ids is not None:
        stmt = stmt.where(Room.id.in_(room_ids or {-1}))
    rows: list[dict[str, Any]] = []
    for booking, room, building in session.execute(stmt):
        preheat = int(booking.preheat_min or 0)
        heat_from = booking.starts_at - dt.timedelta(minutes=preheat)
        if heat_from >= horizon:
            continue
        change = change_since(booking, since)
        if booking.status != "confirmed" and change is None:
            continue
        rows.append(
            {
                "booking_id": booking.id,
                "building": building.code,
                "building_name": building.name,
                "room": room.code,
                "room_name": room.name,
                "heating_zone": room.heating_zone or room.code,
                "title": booking.title,
                "status": booking.status,
                "heat_from": heat_from,
                "starts_at": booking.starts_at,
                "until": booking.ends_at,
                "setpoint_c": booking.setpoint_c,
                "preheat_min": preheat,
                "heating_note": booking.heating_note,
                "change": change,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not len(frame):
        return frame
    for col in ("heat_from", "starts_at", "until"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.sort_values(["building", "heating_zone", "room", "heat_from"]).reset_index(
        drop=True
    )


def zone_periods(schedule: pd.DataFrame) -> pd.DataFrame:
    """Merge the live rows of each building's heating zone into continuous heating periods.

    Overlapping or touching periods of rooms sharing a zone become one period, heated to the
    highest setpoint asked; what the boiler room actually has to program.
    """
    cols = ["building", "heating_zone", "heat_from", "until", "setpoint_c", "rooms", "bookings"]
    live = schedule[schedule["status"] == "confirmed"] if len(schedule) else schedule
    if not len(live):
        return pd.DataFrame(columns=cols)
    live = live.sort_values(["building", "heating_zone", "heat_from"]).reset_index(drop=True)
    key = ["building", "heating_zone"]
    prev_end = live.groupby(key)["until"].transform(lambda s: s.cummax().shift())
    new_group = prev_end.isna() | (live["heat_from"] > prev_end)
    live["period"] = new_group.cumsum()
    grouped = live.groupby("period")
    out = pd.DataFrame(
        {
            "building": grouped["building"].first(),
            "heating_zone": grouped["heating_zone"].first(),
            "heat_from": grouped["heat_from"].min(),
            "until": grouped["until"].max(),
            "setpoint_c": grouped["setpoint_c"].max(),
            "rooms": grouped["room"].agg(lambda s: ", ".join(sorted(set(s)))),
            "bookings": grouped["booking_id"].agg(list),
        }
    )
    return out.reset_index(drop=True)[cols]
