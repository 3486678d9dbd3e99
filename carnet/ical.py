"""iCalendar (RFC 5545) feeds of the heating schedule, per room and per contract.

Calendar programs and building management systems subscribe to a URL holding a secret token:
no account is needed, so the token IS the access right. It is random, stored on the contract
or the room, replaced or cleared on demand (revocation), and the feed is read-only. Each event
spans the heating period (start - pre-heating .. end) and carries the setpoint, so a BMS can
program the zone from it; times are written in UTC, which every client understands.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import Scope, scope_of_contract
from carnet.audit import record
from carnet.bookings import ActorLike, BookingPermissionError
from carnet.fr_format import fr_number
from carnet.models import Booking, Building, Contract, Room
from carnet.roles import can
from carnet.timeutil import TZ_NAME, fr_date

PRODID = "-//Carnet//Planning de chauffage//FR"
PAST_DAYS = 31
FUTURE_DAYS = 400
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
STATUS_MAP = {"confirmed": "CONFIRMED", "option": "TENTATIVE", "cancelled": "CANCELLED"}


class IcalError(ValueError):
    pass


# --- tokens -------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _require_manage(actor: ActorLike) -> None:
    if not can(actor.role, "contract.edit"):
        raise BookingPermissionError(
            f"action refusée : le rôle « {actor.role} » ne gère pas les flux iCal"
        )


def set_contract_token(
    session: Session, actor: ActorLike, code: str, revoke: bool = False
) -> str | None:
    """Issue a new secret for the contract's feed (the old URL stops working) or revoke it."""
    return _set_token(session, actor, Contract, "contract", code, "contrat inconnu", revoke)


def set_room_token(
    session: Session, actor: ActorLike, code: str, revoke: bool = False
) -> str | None:
    return _set_token(session, actor, Room, "room", code, "salle inconnue", revoke)


def _set_token(session, actor, model, kind: str, code: str, missing: str, revoke: bool):
    _require_manage(actor)
    target = session.scalar(select(model).where(model.code == code))
    if target is None:
        raise IcalError(f"{missing} « {code} »")
    target.ical_token = None if revoke else new_token()
    session.flush()
    _audit(session, actor, kind, code, revoke)
    return target.ical_token


def _audit(session: Session, actor: ActorLike, kind: str, code: str, revoke: bool) -> None:
    # the secret itself never goes to the audit trail
    record(
        session,
        actor.login,
        "revoke" if revoke else "update",
        f"ical_{kind}",
        code,
        None,
        {"ical_token": "(révoqué)" if revoke else "(régénéré)"},
    )


def feeds_in_scope(
    session: Session, scope: Scope
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str, str | None]]]:
    """The feeds a user may see: (contract code, token) of its contracts and (room code, room
    name, token) of the bookable rooms of its buildings; a token None = no feed open."""
    contracts = select(Contract.code, Contract.ical_token).order_by(Contract.code)
    rooms = select(Room.code, Room.name, Room.ical_token).where(Room.bookable.is_(True))
    if not scope.sees_all:
        contracts = contracts.where(Contract.id.in_(scope.contract_ids or [-1]))
        rooms = rooms.where(Room.building_id.in_(scope.building_ids or [-1]))
    return (
        [tuple(r) for r in session.execute(contracts)],
        [tuple(r) for r in session.execute(rooms.order_by(Room.code))],
    )


def feed_path(token: str) -> str:
    return f"/ical/{token}.ics"


# --- feeds --------------------------------------------------------------------------------


def feed_for_token(session: Session, token: str, now: dt.datetime | None = None) -> str | None:
    """The feed a token opens, or None (unknown, revoked or malformed token: the route says 404)."""
    if not token or not TOKEN_RE.match(token):
        return None
    contract = session.scalar(select(Contract).where(Contract.ical_token == token))
    if contract is not None:
        return contract_feed(session, contract, now)
    room = session.scalar(select(Room).where(Room.ical_token == token))
    if room is not None:
        return room_feed(session, room, now)
    return None


def room_feed(session: Session, room: Room, now: dt.datetime | None = None) -> str:
    name = f"Chauffage {room.name} ({room.code})"
    return _calendar(name, _bookings(session, [room.id], now))


def contract_feed(session: Session, contract: Contract, now: dt.datetime | None = None) -> str:
    buildings = scope_of_contract(session, contract.id).building_ids
    room_ids = list(session.scalars(select(Room.id).where(Room.building_id.in_(buildings))))
    name = f"Chauffage contrat {contract.code}"
    return _calendar(name, _bookings(session, room_ids, now))


def _bookings(session: Session, room_ids: list[int], now: dt.datetime | None) -> list[Booking]:
    now = now or dt.datetime.now(dt.UTC)
    if not room_ids:
        return []
    stmt = (
        select(Booking)
        .join(Room, Booking.room_id == Room.id)
        .join(Building, Room.building_id == Building.id)
        .where(
            Booking.room_id.in_(room_ids),
            Booking.ends_at > now - dt.timedelta(days=PAST_DAYS),
            Booking.starts_at < now + dt.timedelta(days=FUTURE_DAYS),
        )
        .order_by(Booking.starts_at, Booking.id)
    )
    return list(session.scalars(stmt))


def _calendar(name: str, bookings: list[Booking]) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"X-WR-TIMEZONE:{TZ_NAME}",
    ]
    for booking in bookings:
        lines.extend(_event(booking))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _event(booking: Booking) -> list[str]:
    room = booking.room
    preheat = int(booking.preheat_min or 0)
    heat_from = booking.starts_at - dt.timedelta(minutes=preheat)
    setpoint = booking.setpoint_c
    what = (
        f"Chauffage {fr_number(setpoint, 1, trim=True)} °C"
        if setpoint is not None
        else "Réservation"
    )
    summary = f"{what} – {booking.title} ({room.name})"
    description = [
        f"Réservation : {booking.title}",
        f"Salle : {room.name} ({room.code}), bâtiment {room.building.code}",
        f"Zone de chauffage : {room.heating_zone or room.code}",
        f"Début de la réservation : {fr_date(booking.starts_at)}",
        f"Fin : {fr_date(booking.ends_at)}",
        f"Démarrage du chauffage : {fr_date(heat_from)} (préchauffage {preheat} min)",
    ]
    if setpoint is not None:
        description.append(f"Consigne : {fr_number(setpoint, 1, trim=True)} °C")
    if booking.heating_note:
        description.append(f"Note : {booking.heating_note}")
    if booking.attendance:
        description.append(f"Effectif attendu : {booking.attendance}")
    changed = booking.updated_at or booking.created_at
    out = [
        "BEGIN:VEVENT",
        f"UID:booking-{booking.id}@carnet",
        f"DTSTAMP:{_utc(changed)}",
        f"LAST-MODIFIED:{_utc(changed)}",
        f"CREATED:{_utc(booking.created_at)}",
        f"SEQUENCE:{_sequence(booking)}",
        f"DTSTART:{_utc(heat_from)}",
        f"DTEND:{_utc(booking.ends_at)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(chr(10).join(description))}",
        f"LOCATION:{escape_text(f'{room.name}, {room.building.name}')}",
        f"STATUS:{STATUS_MAP.get(booking.status, 'CONFIRMED')}",
        "TRANSP:OPAQUE",
        f"X-CARNET-ROOM:{escape_text(room.code)}",
        f"X-CARNET-HEATING-ZONE:{escape_text(room.heating_zone or room.code)}",
        f"X-CARNET-BOOKING-START:{_utc(booking.starts_at)}",
        f"X-CARNET-PREHEAT-MIN:{preheat}",
    ]
    if setpoint is not None:
        out.append(f"X-CARNET-SETPOINT-C:{setpoint:g}")
    out.append("END:VEVENT")
    return out


def _sequence(booking: Booking) -> int:
    """Grows with every change, as RFC 5545 asks: seconds between creation and last change."""
    if booking.updated_at is None or booking.created_at is None:
        return 0
    return max(0, int((booking.updated_at - booking.created_at).total_seconds()))


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    parts, start, size = [], 0, limit
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a multi-byte char
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, size = end, limit - 1  # continuation lines start with one space
    return "\r\n ".join(parts)
