"""Alarms: one row per device fault episode, and what was done about it.

open -> acknowledged (the contractor, who and when) -> answered (an intervention in the logbook)
-> closed (the device reports normal again, or a person closes it). The episode's `alarm`
logbook entry follows the alarm (in progress once acknowledged, done once closed or cleared), so
the poller's fault episode, the alarm and the carnet de santé are one story. An alarm closed by a
person while the fault persists stays the same episode: it is over only when the device says so
(`device_cleared_at`), and a restarted poller does not open it again.

Who: the manager any alarm; the contractor those of its contract's buildings; nobody else.
Every transition is audited with its before and after images.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError, by_ref, viewable_building_ids
from carnet.audit import record, row_image
from carnet.models import Alarm, Building, Equipment, LogbookEntry, utcnow
from carnet.roles import can
from carnet.timeutil import TZ, epoch_to_local, fr_date

POLLER = "poller"
STATUS_LABELS_FR = {
    "open": "Ouverte",
    "acknowledged": "Prise en compte",
    "answered": "Intervention faite",
    "closed": "Close",
}
ACTIVE = ("open", "acknowledged", "answered")
_IMAGE = [
    "status",
    "acknowledged_at",
    "acknowledged_by",
    "answered_at",
    "answered_by",
    "intervention_entry_id",
    "closed_at",
    "closed_by",
    "close_note",
    "device_cleared_at",
]
_ENTRY_IMAGE = ["status", "text", "answer"]


class AlarmError(ValueError):
    """A transition the alarm's state does not allow; French message for the user."""


def _fr_time(when: dt.datetime) -> str:
    return when.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


def _ts_time(ts: int) -> str:
    return epoch_to_local(ts).strftime("%d/%m/%Y %H:%M")


def _deny(actor: ActorLike, what: str) -> CarnetPermissionError:
    return CarnetPermissionError(f"accès refusé : {actor.login} ({actor.role}) ne peut pas {what}")


def _audit(session: Session, actor: str, alarm: Alarm, before: dict | None) -> None:
    after = row_image(alarm, _IMAGE) | {"building_id": alarm.building_id}
    record(
        session, actor, "create" if before is None else "update", "alarm", alarm.id, before, after
    )


def _set_entry(session: Session, actor: str, alarm: Alarm, **changes) -> None:
    """The episode's logbook entry follows the alarm (audited like any edit of the carnet)."""
    entry = session.get(LogbookEntry, alarm.entry_id) if alarm.entry_id else None
    if entry is None:
        return
    before = row_image(entry, _ENTRY_IMAGE)
    for name, value in changes.items():
        setattr(entry, name, value)
    after = row_image(entry, _ENTRY_IMAGE)
    if after != before:
        record(session, actor, "update", "logbook_entry", entry.id, before, after)


# ---------------------------------------------------------------- the poller's episodes


def open_episode_keys(session: Session) -> set[str]:
    """Episodes the device has not cleared yet (open, or closed by a person while the fault
    persists): the poller must not open them again."""
    return set(
        session.scalars(
            select(Alarm.alarm_key).where(
                Alarm.alarm_key.is_not(None), Alarm.device_cleared_at.is_(None)
            )
        )
    )


def open_episode(
    session: Session,
    key: str,
    ts: int,
    code: int,
    label: str | None,
    building_id: int,
    equipment_id: int | None,
) -> Alarm | None:
    """A fault seen by the poller: its logbook entry and its alarm row, once per episode
    (None when the episode is already known, e.g. a replayed spool file)."""
    known = session.scalar(
        select(Alarm.id).where(Alarm.alarm_key == key, Alarm.device_cleared_at.is_(None))
    )
    if known is not None:
        return None
    what = f"défaut {code}" + (f" ({label})" if label else "")
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    entry = LogbookEntry(
        building_id=building_id,
        equipment_id=equipment_id,
        occurred_at=when,
        kind="alarm",
        title=f"Alarme {key} : {what}"[:200],
        text=f"Le relevé automatique signale un {what} le {_ts_time(ts)}.",
        author_login=POLLER,
        status="open",
        source=POLLER,
        alarm_key=key,
    )
    session.add(entry)
    session.flush()
    alarm = Alarm(
        building_id=building_id,
        equipment_id=equipment_id,
        alarm_key=key,
        code=code,
        label=entry.title,
        status="open",
        opened_at=when,
        entry_id=entry.id,
    )
    session.add(alarm)
    session.flush()
    _audit(session, POLLER, alarm, None)
    return alarm


def raised_by_hand(session: Session, actor_login: str, entry: LogbookEntry) -> Alarm:
    """An alarm entry a person wrote in the logbook (no device reported it): an alarm of its
    own, open while its entry is, so that it is acknowledged, answered and closed like the
    poller's."""
    alarm = Alarm(
        building_id=entry.building_id,
        equipment_id=entry.equipment_id,
        alarm_key=entry.alarm_key,
        label=(entry.title or entry.text)[:200],
        status="open",
        opened_at=entry.occurred_at,
        entry_id=entry.id,
    )
    session.add(alarm)
    session.flush()
    _audit(session, actor_login, alarm, None)
    return alarm


def device_normal(session: Session, key: str, ts: int) -> list[Alarm]:
    """The device reports normal again: the episode ends, its alarm closes (or stays closed)
    and its entry says so."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    alarms = session.scalars(
        select(Alarm).where(Alarm.alarm_key == key, Alarm.device_cleared_at.is_(None))
    ).all()
    for alarm in alarms:
        before = row_image(alarm, _IMAGE)
        alarm.device_cleared_at = when
        entry = session.get(LogbookEntry, alarm.entry_id) if alarm.entry_id else None
        text = entry.text + f"\nRetour à la normale le {_ts_time(ts)}." if entry else None
        if alarm.status != "closed":
            alarm.status = "closed"
            alarm.closed_at = when
            alarm.closed_by = POLLER
            alarm.close_note = "Retour à la normale signalé par l'équipement."
            _set_entry(
                session,
                POLLER,
                alarm,
                status="done",
                text=text,
                answer=f"Défaut disparu le {_ts_time(ts)} (relevé automatique).",
            )
        elif entry is not None:
            _set_entry(session, POLLER, alarm, text=text)
        _audit(session, POLLER, alarm, before)
    return list(alarms)


# ---------------------------------------------------------------- people's transitions


def get_alarm(session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, int(alarm_id))
    if alarm is None:
        raise LookupError(f"alarme {alarm_id} inconnue")
    return alarm


def may_view(session: Session, actor: ActorLike, alarm: Alarm) -> bool:
    if not can(actor.role, "alarms.view"):
        return False
    scope = viewable_building_ids(session, actor)
    return scope is None or alarm.building_id in scope


def may_handle(session: Session, actor: ActorLike, alarm: Alarm) -> bool:
    """Acknowledge, answer, close: the manager; the contractor on its contract's buildings."""
    return can(actor.role, "alarms.handle") and may_view(session, actor, alarm)


def viewable_alarm(session: Session, actor: ActorLike, alarm_id: int) -> Alarm:
    """The alarm if `actor` may see it; an alarm out of scope is reported as unknown."""
    alarm = get_alarm(session, alarm_id)
    if not may_view(session, actor, alarm):
        raise LookupError(f"alarme {alarm_id} inconnue")
    return alarm


def _handled(session: Session, actor: ActorLike, alarm_id: int, what: str) -> Alarm:
    alarm = get_alarm(session, alarm_id)
    if not may_handle(session, actor, alarm):
        raise _deny(actor, f"{what} l'alarme {alarm.id}")
    return alarm


def acknowledge(
    session: Session, actor: ActorLike, alarm_id: int, at: dt.datetime | None = None
) -> Alarm:
    """The contractor (or the manager) has seen it and takes it in hand (`at`: now)."""
    alarm = _handled(session, actor, alarm_id, "prendre en compte")
    if alarm.status != "open":
        raise AlarmError(
            f"l'alarme {alarm.id} n'est pas ouverte ({STATUS_LABELS_FR[alarm.status].lower()})"
        )
    before = row_image(alarm, _IMAGE)
    alarm.status = "acknowledged"
    alarm.acknowledged_at = at or utcnow()
    alarm.acknowledged_by = actor.login
    _set_entry(session, actor.login, alarm, status="in_progress")
    _audit(session, actor.login, alarm, before)
    return alarm


def answer(session: Session, actor: ActorLike, alarm_id: int, entry: LogbookEntry) -> Alarm:
    """`entry` (an intervention on the alarm's building) answers the alarm. An alarm already
    closed stays closed, with the intervention linked."""
    alarm = _handled(session, actor, alarm_id, "traiter")
    if entry.building_id != alarm.building_id:
        raise AlarmError(f"l'entrée {entry.id} ne concerne pas le bâtiment de l'alarme {alarm.id}")
    before = row_image(alarm, _IMAGE)
    alarm.intervention_entry_id = entry.id
    alarm.answered_at = utcnow()
    alarm.answered_by = actor.login
    if alarm.status in ("open", "acknowledged"):
        alarm.status = "answered"
        _set_entry(
            session,
            actor.login,
            alarm,
            status="in_progress",
            answer=f"Intervention n° {entry.id} du {fr_date(entry.occurred_at)}.",
        )
    _audit(session, actor.login, alarm, before)
    return alarm


def close(
    session: Session,
    actor: ActorLike,
    alarm_id: int,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> Alarm:
    """Closed by a person (the manager, or the contractor that fixed it; `at`: now)."""
    alarm = _handled(session, actor, alarm_id, "clore")
    if alarm.status == "closed":
        raise AlarmError(f"l'alarme {alarm.id} est déjà close")
    before = row_image(alarm, _IMAGE)
    now = at or utcnow()
    alarm.status = "closed"
    alarm.closed_at = now
    alarm.closed_by = actor.login
    alarm.close_note = (note or "").strip() or None
    closing = f"Alarme close par {actor.login} le {_fr_time(now)}" + (
        f" : {alarm.close_note}" if alarm.close_note else "."
    )
    entry = session.get(LogbookEntry, alarm.entry_id) if alarm.entry_id else None
    if entry is not None:
        done = f"{entry.answer}\n{closing}" if entry.answer else closing
        _set_entry(session, actor.login, alarm, status="done", answer=done)
    _audit(session, actor.login, alarm, before)
    return alarm


def entry_closed(session: Session, actor: ActorLike, entry: LogbookEntry) -> Alarm | None:
    """The episode's entry was closed in the logbook itself (the manager's edit): its alarm
    closes with it, so that the two never tell different stories."""
    alarm = session.scalar(select(Alarm).where(Alarm.entry_id == entry.id))
    if alarm is None or alarm.status == "closed":
        return None
    before = row_image(alarm, _IMAGE)
    alarm.status = "closed"
    alarm.closed_at = utcnow()
    alarm.closed_by = actor.login
    alarm.close_note = entry.answer or "Entrée du carnet close."
    _audit(session, actor.login, alarm, before)
    return alarm


# ---------------------------------------------------------------- reading

COLUMNS = [
    "id",
    "building_id",
    "building_code",
    "building_name",
    "equipment_code",
    "code",
    "label",
    "status",
    "status_label",
    "opened_at",
    "opened",
    "acknowledged_by",
    "acknowledged",
    "answered_by",
    "intervention_entry_id",
    "closed_by",
    "closed",
    "close_note",
    "device_cleared",
    "entry_id",
]


def _fr_or_empty(when) -> str:
    return "" if when is None or pd.isna(when) else _fr_time(when)


def alarms_frame(
    session: Session,
    actor: ActorLike,
    *,
    status: str | list[str] | None = None,
    building: Building | str | int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> pd.DataFrame:
    """The alarms `actor` may see, newest first; dates as dd/mm/yyyy HH:MM (Paris)."""
    if not can(actor.role, "alarms.view"):
        raise _deny(actor, "consulter les alarmes")
    stmt = (
        select(
            Alarm.id,
            Alarm.building_id,
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Equipment.code.label("equipment_code"),
            Alarm.code,
            Alarm.label,
            Alarm.status,
            Alarm.opened_at,
            Alarm.acknowledged_at,
            Alarm.acknowledged_by,
            Alarm.answered_by,
            Alarm.intervention_entry_id,
            Alarm.closed_at,
            Alarm.closed_by,
            Alarm.close_note,
            Alarm.device_cleared_at,
            Alarm.entry_id,
        )
        .join(Building, Building.id == Alarm.building_id)
        .outerjoin(Equipment, Equipment.id == Alarm.equipment_id)
        .order_by(Alarm.opened_at.desc(), Alarm.id.desc())
    )
    scope = viewable_building_ids(session, actor)
    if scope is not None:
        stmt = stmt.where(Alarm.building_id.in_(scope or [-1]))
    if status:
        stmt = stmt.where(Alarm.status.in_([status] if isinstance(status, str) else status))
    if building is not None and building != "":
        b = by_ref(session, Building, building, "bâtiment inconnu")
        stmt = stmt.where(Alarm.building_id == b.id)
    if date_from is not None:
        start = dt.datetime.combine(date_from, dt.time(0), TZ).astimezone(dt.UTC)
        stmt = stmt.where(Alarm.opened_at >= start)
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(0), TZ)
        stmt = stmt.where(Alarm.opened_at < end.astimezone(dt.UTC))
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in _DERIVED] + _TIMES)
    frame["status_label"] = frame["status"].map(STATUS_LABELS_FR)
    frame["opened"] = [_fr_or_empty(t) for t in frame["opened_at"]]
    frame["acknowledged"] = [_fr_or_empty(t) for t in frame["acknowledged_at"]]
    frame["closed"] = [_fr_or_empty(t) for t in frame["closed_at"]]
    frame["device_cleared"] = [_fr_or_empty(t) for t in frame["device_cleared_at"]]
    return frame[COLUMNS].reset_index(drop=True)


_DERIVED = {"status_label", "opened", "acknowledged", "closed", "device_cleared"}
_TIMES = ["acknowledged_at", "closed_at", "device_cleared_at"]


def entry_links(session: Session, entry_ids: list[int]) -> dict[int, int]:
    """entry id -> the alarm it belongs to (its episode entry or its answering intervention),
    for the logbook's links."""
    if not entry_ids:
        return {}
    out: dict[int, int] = {}
    rows = session.execute(
        select(Alarm.id, Alarm.entry_id, Alarm.intervention_entry_id).where(
            Alarm.entry_id.in_(entry_ids) | Alarm.intervention_entry_id.in_(entry_ids)
        )
    )
    for alarm_id, entry_id, intervention_id in rows:
        for linked in (entry_id, intervention_id):
            if linked in entry_ids:
                out[linked] = alarm_id
    return out
