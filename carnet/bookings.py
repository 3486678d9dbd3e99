"""Room bookings with their heating notes: the system of record the heating schedule is built from.

Times are entered in Europe/Paris wall-clock time and stored as aware UTC datetimes. Weekly series
are generated in LOCAL time so that a 19:00 concert stays at 19:00 across DST changes (its UTC
offset moves instead). A conflict (same room, overlapping time, neither cancelled) is refused with a
message that names the other booking; a series creates the free occurrences and reports every
conflicting one, so nothing overlaps silently and nothing is lost silently. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import Actor as Actor  # re-exported: callers name it from here
from carnet.access import ActorLike, by_ref, scope_of
from carnet.audit import record, row_image
from carnet.fr_format import fr_number
from carnet.models import BOOKING_STATUSES, AuditEvent, Booking, Building, Room
from carnet.roles import can
from carnet.timeutil import TZ, fr_date

STATUS_LABELS_FR = {"option": "option", "confirmed": "confirmée", "cancelled": "annulée"}
SETPOINT_RANGE_C = (5.0, 30.0)
MAX_PREHEAT_MIN = 24 * 60
MAX_SERIES_OCCURRENCES = 260  # five years of weekly occurrences
AUDIT_FIELDS = [
    "room_id",
    "series_id",
    "title",
    "organiser",
    "attendance",
    "starts_at",
    "ends_at",
    "status",
    "setpoint_c",
    "preheat_min",
    "heating_note",
]
EDITABLE = set(AUDIT_FIELDS) - {"series_id"}


class BookingError(ValueError):
    """A user error, with a French message."""


class BookingPermissionError(BookingError):
    pass


class BookingConflict(BookingError):
    """The slot is taken: `other` is the booking in the way."""

    def __init__(self, other: Booking):
        super().__init__(conflict_message(other))
        self.other = other


@dataclass
class SeriesConflict:
    starts_at: dt.datetime
    ends_at: dt.datetime
    other: Booking

    @property
    def message(self) -> str:
        return f"{fr_date(self.starts_at)} : {conflict_message(self.other)}"


@dataclass
class SeriesReport:
    """What a weekly series did: created occurrences, refused ones (with the other booking)."""

    series_id: int | None
    created: list[Booking] = field(default_factory=list)
    conflicts: list[SeriesConflict] = field(default_factory=list)
    skipped_dates: list[dt.date] = field(default_factory=list)

    def summary_fr(self) -> str:
        lines = [f"{len(self.created)} occurrence(s) créée(s)"]
        if self.skipped_dates:
            lines.append(
                "exceptions : " + ", ".join(d.strftime("%d/%m/%Y") for d in self.skipped_dates)
            )
        if self.conflicts:
            lines.append(f"{len(self.conflicts)} occurrence(s) refusée(s) pour conflit :")
            lines.extend(f"  - {c.message}" for c in self.conflicts)
        return "\n".join(lines)


# --- time input ---------------------------------------------------------------------------


def parse_local_datetime(text: str) -> dt.datetime:
    """ISO or French date-time; without an offset it is Europe/Paris wall-clock time.

    A wall-clock time that does not exist (the March hour) or is repeated (the October hour)
    is refused rather than shifted silently, unless it carries an explicit offset.
    """
    raw = text.strip()
    value = None
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d/%m/%Y"):
        try:
            value = dt.datetime.strptime(raw, fmt)
            break
        except ValueError:
            continue
    if value is None:
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError as exc:
            raise BookingError(
                f"date et heure illisibles « {raw} » (attendu AAAA-MM-JJTHH:MM ou JJ/MM/AAAA HH:MM)"
            ) from exc
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return localize(value)


def localize(naive: dt.datetime) -> dt.datetime:
    """Europe/Paris wall-clock time to aware UTC; refuses nonexistent and ambiguous times."""
    first = naive.replace(tzinfo=TZ, fold=0)
    second = naive.replace(tzinfo=TZ, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(dt.UTC).astimezone(TZ).replace(tzinfo=None)
        if round_trip != naive:
            raise BookingError(
                f"l'heure {naive:%d/%m/%Y %H:%M} n'existe pas (passage à l'heure d'été)"
            )
        raise BookingError(
            f"l'heure {naive:%d/%m/%Y %H:%M} est ambiguë (passage à l'heure d'hiver) : "
            "précisez le décalage, par exemple +02:00 ou +01:00"
        )
    return first.astimezone(dt.UTC)


def _aware_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return localize(value)
    return value.astimezone(dt.UTC)


# --- messages -----------------------------------------------------------------------------


def conflict_message(other: Booking) -> str:
    room = other.room.code if other.room is not None else str(other.room_id)
    return (
        f"conflit avec la réservation « {other.title} » du {fr_date(other.starts_at)} "
        f"au {fr_date(other.ends_at)} (salle {room}, n° {other.id})"
    )


# --- roles --------------------------------------------------------------------------------


def _require(actor: ActorLike, capability: str) -> None:
    if not can(getattr(actor, "role", None), capability):
        raise BookingPermissionError(
            f"action refusée : le rôle « {getattr(actor, 'role', None)} » ne peut pas "
            + (
                "modifier les réservations"
                if capability == "bookings.edit"
                else "voir les réservations"
            )
        )


# --- validation ---------------------------------------------------------------------------


def get_room(session: Session, room: Room | str | int) -> Room:
    try:
        return by_ref(session, Room, room, "salle inconnue")
    except LookupError as exc:
        raise BookingError(str(exc)) from exc


def _validate(values: dict[str, Any]) -> None:
    if not (values.get("title") or "").strip():
        raise BookingError("le titre de la réservation est obligatoire")
    start, end = values["starts_at"], values["ends_at"]
    if end <= start:
        raise BookingError(f"la fin ({fr_date(end)}) doit être après le début ({fr_date(start)})")
    if values.get("status") not in BOOKING_STATUSES:
        raise BookingError(
            f"statut inconnu « {values.get('status')} » (attendu : "
            f"{', '.join(STATUS_LABELS_FR[s] for s in BOOKING_STATUSES)})"
        )
    setpoint = values.get("setpoint_c")
    if setpoint is not None and not SETPOINT_RANGE_C[0] <= setpoint <= SETPOINT_RANGE_C[1]:
        raise BookingError(
            f"consigne {fr_number(setpoint, 1)} °C hors limites ({fr_number(SETPOINT_RANGE_C[0])} à "
            f"{fr_number(SETPOINT_RANGE_C[1])} °C)"
        )
    preheat = values.get("preheat_min")
    if preheat is not None and not 0 <= preheat <= MAX_PREHEAT_MIN:
        raise BookingError(f"préchauffage {preheat} min hors limites (0 à {MAX_PREHEAT_MIN} min)")
    attendance = values.get("attendance")
    if attendance is not None and attendance < 0:
        raise BookingError("l'effectif attendu ne peut pas être négatif")


def find_conflicts(
    session: Session,
    room_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_ids: set[int] | None = None,
) -> list[Booking]:
    """Live bookings of the room overlapping [starts_at, ends_at); touching edges do not overlap."""
    stmt = select(Booking).where(
        Booking.room_id == room_id,
        Booking.status != "cancelled",
        Booking.starts_at < ends_at,
        Booking.ends_at > starts_at,
    )
    if exclude_ids:
        stmt = stmt.where(Booking.id.not_in(exclude_ids))
    return list(session.scalars(stmt.order_by(Booking.starts_at)))


# --- create, edit, cancel -----------------------------------------------------------------


def create_booking(
    session: Session,
    actor: ActorLike,
    room: Room | str | int,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    *,
    organiser: str | None = None,
    attendance: int | None = None,
    status: str = "confirmed",
    setpoint_c: float | None = None,
    preheat_min: int | None = None,
    heating_note: str | None = None,
    series_id: int | None = None,
) -> Booking:
    """Create one booking; raises `BookingConflict` naming the booking in the way."""
    _require(actor, "bookings.edit")
    room_obj = get_room(session, room)
    if not room_obj.bookable:
        raise BookingError(f"la salle {room_obj.code} n'est pas réservable")
    values = {
        "room_id": room_obj.id,
        "series_id": series_id,
        "title": (title or "").strip(),
        "organiser": organiser or None,
        "attendance": attendance,
        "starts_at": _aware_utc(starts_at),
        "ends_at": _aware_utc(ends_at),
        "status": status,
        "setpoint_c": None if setpoint_c is None else float(setpoint_c),
        "preheat_min": None if preheat_min is None else int(preheat_min),
        "heating_note": heating_note or None,
    }
    _validate(values)
    if status != "cancelled":
        clash = find_conflicts(session, room_obj.id, values["starts_at"], values["ends_at"])
        if clash:
            raise BookingConflict(clash[0])
    booking = Booking(**values, created_by=actor.login)
    session.add(booking)
    session.flush()
    record(session, actor.login, "create", "booking", booking.id, None, _image(booking))
    return booking


def edit_booking(session: Session, actor: ActorLike, booking_id: int, **changes: Any) -> Booking:
    """Change any editable field (room may be a code); re-checks conflicts when it matters."""
    _require(actor, "bookings.edit")
    booking = _get(session, booking_id)
    unknown = set(changes) - EDITABLE - {"room"}
    if unknown:
        raise BookingError(f"champ(s) non modifiable(s) : {', '.join(sorted(unknown))}")
    if "room" in changes:
        changes["room_id"] = get_room(session, changes.pop("room")).id
    for key in ("starts_at", "ends_at"):
        if key in changes:
            changes[key] = _aware_utc(changes[key])
    before = _image(booking)
    values = before | changes
    values["starts_at"], values["ends_at"] = (
        changes.get("starts_at", booking.starts_at),
        changes.get("ends_at", booking.ends_at),
    )
    _validate(values)
    if "room_id" in changes and not get_room(session, values["room_id"]).bookable:
        raise BookingError("la salle choisie n'est pas réservable")
    if values["status"] != "cancelled":
        clash = find_conflicts(
            session, values["room_id"], values["starts_at"], values["ends_at"], {booking.id}
        )
        if clash:
            raise BookingConflict(clash[0])
    for key, value in changes.items():
        setattr(booking, key, value)
    session.flush()
    after = _image(booking)
    if after != before:
        booking.updated_at = dt.datetime.now(dt.UTC)
        record(session, actor.login, "update", "booking", booking.id, before, after)
    return booking


def cancel_booking(
    session: Session, actor: ActorLike, booking_id: int, reason: str | None = None
) -> Booking:
    """Cancel (never delete): the contractor's schedule must see that a slot went away."""
    _require(actor, "bookings.edit")
    booking = _get(session, booking_id)
    if booking.status == "cancelled":
        return booking
    before = _image(booking)
    booking.status = "cancelled"
    booking.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    after = _image(booking) | ({"reason": reason} if reason else {})
    record(session, actor.login, "cancel", "booking", booking.id, before, after)
    return booking


def cancel_series(
    session: Session,
    actor: ActorLike,
    series_id: int,
    from_date: dt.date | None = None,
) -> list[Booking]:
    """Cancel the series' live occurrences (from a local date on, if given)."""
    _require(actor, "bookings.edit")
    stmt = select(Booking).where(Booking.series_id == series_id, Booking.status != "cancelled")
    if from_date is not None:
        stmt = stmt.where(Booking.starts_at >= localize(dt.datetime.combine(from_date, dt.time())))
    return [cancel_booking(session, actor, b.id) for b in session.scalars(stmt).all()]


def _get(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise BookingError(f"réservation n° {booking_id} introuvable")
    return booking


def _image(booking: Booking) -> dict:
    return row_image(booking, AUDIT_FIELDS)


# --- weekly series ------------------------------------------------------------------------


def weekly_occurrences(
    first_start_local: dt.datetime,
    first_end_local: dt.datetime,
    until: dt.date,
    except_dates: set[dt.date] | frozenset[dt.date] = frozenset(),
) -> tuple[list[tuple[dt.datetime, dt.datetime]], list[dt.date]]:
    """(start, end) in aware UTC of each weekly occurrence, generated on the LOCAL wall clock.

    The occurrence keeps the first one's local start time and local duration; a time in the
    nonexistent March hour moves forward by the hour skipped, a repeated October hour takes its
    first (summer-time) occurrence. Returns the occurrences and the dates skipped as exceptions.
    """
    if first_start_local.tzinfo is not None:
        first_start_local = first_start_local.astimezone(TZ).replace(tzinfo=None)
    if first_end_local.tzinfo is not None:
        first_end_local = first_end_local.astimezone(TZ).replace(tzinfo=None)
    wall_duration = first_end_local - first_start_local
    if wall_duration <= dt.timedelta(0):
        raise BookingError("la fin doit être après le début")
    if wall_duration > dt.timedelta(days=7):
        raise BookingError("une occurrence hebdomadaire ne peut pas durer plus d'une semaine")
    if until < first_start_local.date():
        raise BookingError("la date de fin de la série est avant la première occurrence")
    out, skipped = [], []
    day = first_start_local.date()
    while day <= until:
        if len(out) + len(skipped) >= MAX_SERIES_OCCURRENCES:
            raise BookingError(f"série trop longue (plus de {MAX_SERIES_OCCURRENCES} semaines)")
        if day in except_dates:
            skipped.append(day)
        else:
            start = dt.datetime.combine(day, first_start_local.time())
            out.append((_wall_to_utc(start), _wall_to_utc(start + wall_duration)))
        day += dt.timedelta(days=7)
    return out, skipped


def _wall_to_utc(naive: dt.datetime) -> dt.datetime:
    aware = naive.replace(tzinfo=TZ, fold=0)
    utc = aware.astimezone(dt.UTC)
    if utc.astimezone(TZ).replace(tzinfo=None) != naive:  # nonexistent: move to after the gap
        utc = naive.replace(tzinfo=TZ, fold=1).astimezone(dt.UTC)
        utc = max(utc, aware.astimezone(dt.UTC))
    return utc


def create_series(
    session: Session,
    actor: ActorLike,
    room: Room | str | int,
    title: str,
    first_starts_at: dt.datetime,
    first_ends_at: dt.datetime,
    until: dt.date,
    except_dates: set[dt.date] | frozenset[dt.date] = frozenset(),
    **fields: Any,
) -> SeriesReport:
    """Book every week up to `until` (local date, inclusive) but the exception dates.

    Free occurrences are created and share a `series_id` (the first created booking's id);
    each conflicting occurrence is reported with the booking in its way, never created.
    """
    _require(actor, "bookings.edit")
    room_obj = get_room(session, room)
    start_local = _aware_utc(first_starts_at).astimezone(TZ)
    end_local = _aware_utc(first_ends_at).astimezone(TZ)
    occurrences, skipped = weekly_occurrences(start_local, end_local, until, set(except_dates))
    report = SeriesReport(series_id=None, skipped_dates=skipped)
    for start, end in occurrences:
        try:
            booking = create_booking(
                session,
                actor,
                room_obj,
                title,
                start,
                end,
                series_id=report.series_id,
                **fields,
            )
        except BookingConflict as exc:
            report.conflicts.append(SeriesConflict(start, end, exc.other))
            continue
        if report.series_id is None:
            report.series_id = booking.id
            booking.series_id = booking.id
            session.flush()
        report.created.append(booking)
    return report


# --- reading ------------------------------------------------------------------------------


def list_bookings(
    session: Session,
    actor: ActorLike,
    *,
    room: str | None = None,
    building_id: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    include_cancelled: bool = True,
) -> list[Booking]:
    """Bookings overlapping [start, end), ordered by start; a contractor sees its buildings only."""
    _require(actor, "bookings.view")
    stmt = select(Booking).join(Room, Booking.room_id == Room.id)
    if room is not None:
        stmt = stmt.where(Room.id == get_room(session, room).id)
    if building_id is not None:
        stmt = stmt.where(Room.building_id == building_id)
    if start is not None:
        stmt = stmt.where(Booking.ends_at > _aware_utc(start))
    if end is not None:
        stmt = stmt.where(Booking.starts_at < _aware_utc(end))
    if not include_cancelled:
        stmt = stmt.where(Booking.status != "cancelled")
    scope = scope_of(session, actor).building_filter
    if scope is not None:
        stmt = stmt.where(Room.building_id.in_(scope or {-1}))
    return list(session.scalars(stmt.order_by(Booking.starts_at, Booking.id)))


def visible_booking(session: Session, actor: ActorLike, booking_id: int) -> Booking | None:
    """The booking if the actor may see it (its room in the actor's buildings), else None."""
    _require(actor, "bookings.view")
    booking = session.get(Booking, booking_id)
    if booking is None or not scope_of(session, actor).has_building(booking.room.building_id):
        return None
    return booking


def bookable_rooms(session: Session, actor: ActorLike) -> list[dict]:
    """The bookable rooms of the actor's buildings, by building and room name: `id`, `code`,
    `name`, `building_id`, `building` (code), `building_name`."""
    _require(actor, "bookings.view")
    stmt = (
        select(Room, Building)
        .join(Building, Room.building_id == Building.id)
        .where(Room.bookable.is_(True))
        .order_by(Building.name, Room.name)
    )
    scope = scope_of(session, actor).building_filter
    if scope is not None:
        stmt = stmt.where(Building.id.in_(scope or [-1]))
    return [
        {
            "id": r.id,
            "code": r.code,
            "name": r.name,
            "building_id": b.id,
            "building": b.code,
            "building_name": b.name,
        }
        for r, b in session.execute(stmt)
    ]


def booking_dict(booking: Booking) -> dict:
    """A JSON-ready view of a booking (ISO times with the local offset)."""
    return {
        "id": booking.id,
        "series_id": booking.series_id,
        "room": booking.room.code,
        "building": booking.room.building.code,
        "title": booking.title,
        "organiser": booking.organiser,
        "attendance": booking.attendance,
        "start": booking.starts_at.astimezone(TZ).isoformat(),
        "end": booking.ends_at.astimezone(TZ).isoformat(),
        "status": booking.status,
        "setpoint_c": booking.setpoint_c,
        "preheat_min": booking.preheat_min,
        "heating_note": booking.heating_note,
    }


# what a change of a booking is called when the contractor is told about it
CHANGE_FIELD_LABELS_FR = {
    "room_id": "salle",
    "title": "intitulé",
    "starts_at": "début",
    "ends_at": "fin",
    "status": "statut",
    "setpoint_c": "consigne",
    "preheat_min": "préchauffage",
    "heating_note": "note de chauffage",
}


def _change_value(session: Session, name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name in ("starts_at", "ends_at"):
        return _local_text(value)
    if name == "setpoint_c":
        return f"{fr_number(float(value), 1)} °C"
    if name == "preheat_min":
        return f"{int(value)} min"
    if name == "status":
        return STATUS_LABELS_FR.get(value, value)
    if name == "room_id":
        room = session.get(Room, int(value))
        return room.name if room is not None else str(value)
    return str(value)


def _local_text(value: Any) -> str:
    """An ISO or datetime UTC instant as dd/mm/yyyy HH:MM in Europe/Paris."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


def changes_since(
    session: Session, booking_ids: list[int], since: dt.datetime | None
) -> dict[int, list[str]]:
    """Booking id -> what changed since `since`, from the audit trail, in French: the value
    before the first change and after the last (« consigne 19,0 °C → 21,0 °C »); a field
    changed and changed back says nothing. Empty without a previous look."""
    if since is None or not booking_ids:
        return {}
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity == "booking",
            AuditEvent.action.in_(("update", "cancel")),
            AuditEvent.entity_id.in_([str(i) for i in booking_ids]),
            AuditEvent.at > since,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    first: dict[int, dict] = {}
    last: dict[int, dict] = {}
    for event in events:  # the few changes of the few bookings of the next days
        key = int(event.entity_id)
        first.setdefault(key, event.before or {})
        last[key] = event.after or {}
    out: dict[int, list[str]] = {}
    for key, before in first.items():
        after = last[key]
        out[key] = [
            f"{label} {_change_value(session, name, before.get(name))}"
            f" → {_change_value(session, name, after.get(name))}"
            for name, label in CHANGE_FIELD_LABELS_FR.items()
            if before.get(name) != after.get(name)
        ]
    return out
