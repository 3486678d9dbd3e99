"""Data of the bookings page (`/reservations`): the bookable rooms and bookings in the user's
scope as plain values, and the writes of the form (through `carnet.bookings`, which checks
the role again and refuses conflicts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from carnet import bookings as bk
from carnet.access import ActorLike
from carnet.db import session_scope
from carnet.timeutil import TZ


@dataclass(frozen=True)
class BookingView:
    """A booking as the calendar and the form show it (no database session behind it)."""

    id: int
    room_id: int
    room_code: str
    title: str
    organiser: str | None
    attendance: int | None
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    setpoint_c: float | None
    preheat_min: int | None
    heating_note: str | None
    series_id: int | None


def _view(b) -> BookingView:
    return BookingView(
        b.id, b.room_id, b.room.code, b.title, b.organiser, b.attendance, b.status, b.starts_at,
        b.ends_at, b.setpoint_c, b.preheat_min, b.heating_note, b.series_id,
    )  # fmt: skip


def rooms(engine: Engine, user: ActorLike) -> list[dict]:
    """`carnet.bookings.bookable_rooms` of the user."""
    with session_scope(engine) as s:
        return bk.bookable_rooms(s, user)


def bookings_between(
    engine: Engine,
    user: ActorLike,
    building_id: int,
    room: str | None,
    start: dt.datetime,
    end: dt.datetime,
    room_ids: set[int],
) -> list[BookingView]:
    """The bookings the user sees in the building (or room) overlapping [start, end), kept to
    `room_ids` (the rooms shown)."""
    with session_scope(engine) as s:
        found = bk.list_bookings(
            s, user, room=room or None, building_id=building_id, start=start, end=end
        )
        return [_view(b) for b in found if b.room_id in room_ids]


def booking(engine: Engine, user: ActorLike, booking_id: int) -> BookingView | None:
    """The booking if the user may see it, else None (an id from the browser)."""
    with session_scope(engine) as s:
        found = bk.visible_booking(s, user, booking_id)
        return None if found is None else _view(found)


def cancel_series_from(
    engine: Engine, user: ActorLike, booking_id: int
) -> tuple[str, dt.date, int] | None:
    """Cancel the booking's series from the booking's (local) day on: (title, that day, how
    many occurrences were cancelled), or None if the booking is in no series."""
    with session_scope(engine) as s:
        b = bk.visible_booking(s, user, booking_id)
        if b is None or b.series_id is None:
            return None
        day = b.starts_at.astimezone(TZ).date()
        return b.title, day, len(bk.cancel_series(s, user, b.series_id, day))


def cancel_booking(engine: Engine, user: ActorLike, booking_id: int) -> BookingView:
    with session_scope(engine) as s:
        return _view(bk.cancel_booking(s, user, booking_id))


def edit_booking(engine: Engine, user: ActorLike, booking_id: int, **changes: Any) -> BookingView:
    with session_scope(engine) as s:
        return _view(bk.edit_booking(s, user, booking_id, **changes))


def create_booking(
    engine: Engine, user: ActorLike, room: str, title: str, starts_at, ends_at, **fields: Any
) -> BookingView:
    with session_scope(engine) as s:
        return _view(bk.create_booking(s, user, room, title, starts_at, ends_at, **fields))


def create_series(
    engine: Engine, user: ActorLike, room: str, title: str, starts_at, ends_at, until, skip,
    **fields: Any,
) -> tuple[int, int, list[str]]:  # fmt: skip
    """`carnet.bookings.create_series`: (occurrences created, dates skipped, the refused
    occurrences' conflict messages)."""
    with session_scope(engine) as s:
        report = bk.create_series(s, user, room, title, starts_at, ends_at, until, skip, **fields)
        return (
            len(report.created),
            len(report.skipped_dates),
            [c.message for c in report.conflicts],
        )
