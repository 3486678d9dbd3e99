"""What is worth an e-mail, to whom, and how each user wants it (issue 16, "Notifications").

Events are read from the record, never pushed by the services that write it: a detector looks
at bookings, the logbook, obligations and closed periods as they stand, and names each fact by a
stable key, so that running the detection again (or twice at once) finds the same facts and the
outbox (`carnet.outbox`) creates each notice once. The detectors that need the contract engine
(a month running above its corrected target, a CUSUM that turns) live with the composition root
(`carnet_cli/notify_cmd.py`), which hands their events to `fan_out` like the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carnet.access import viewable_building_ids
from carnet.fr_format import fr_number
from carnet.models import (
    Adjustment,
    Alarm,
    AuditEvent,
    Booking,
    Building,
    ClosedPeriod,
    Contract,
    ContractBuilding,
    LogbookEntry,
    NotificationPref,
    Obligation,
    QuarantinedReading,
    Room,
    User,
)
from carnet.roles import AGENT, CONTRACTOR, FINANCE, MANAGER, is_contractor
from carnet.timeutil import TZ, fr_date

MODES = ("immediate", "digest", "off")
MODE_LABELS_FR = {"immediate": "Tout de suite", "digest": "Résumé quotidien", "off": "Jamais"}
BASE_URL_ENV = "CARNET_BASE_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:8050/"


@dataclass(frozen=True)
class Kind:
    code: str  # stable: stored in preferences and notices
    label: str  # French, for the "Mes notifications" page
    roles: frozenset[str]
    default_mode: str


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind(
            "booking_heating",
            "Réservation avec note de chauffage créée, modifiée ou annulée (14 jours à venir ;"
            " tout de suite à moins de 48 h)",
            frozenset({CONTRACTOR}),
            "immediate",
        ),
        Kind(
            "alarm_new", "Nouvelle alarme sur vos bâtiments", frozenset({CONTRACTOR}), "immediate"
        ),
        Kind(
            "signalement_new",
            "Nouveau signalement sur un bâtiment",
            frozenset({CONTRACTOR, MANAGER}),
            "digest",
        ),
        Kind(
            "obligation_due",
            "Obligation réglementaire à échéance dans les 30 jours",
            frozenset({CONTRACTOR}),
            "digest",
        ),
        Kind(
            "drift_month",
            "Bâtiment dont le mois dépasse sa cible corrigée",
            frozenset({MANAGER}),
            "digest",
        ),
        Kind("cusum_turn", "Retournement du CUSUM d'un bâtiment", frozenset({MANAGER}), "digest"),
        Kind(
            "alarm_open",
            "Alarme restée ouverte trop longtemps",
            frozenset({MANAGER}),
            "immediate",
        ),
        Kind("obligation_overdue", "Obligation en retard", frozenset({MANAGER}), "digest"),
        Kind(
            "regularisation_pending",
            "Régularisation en attente sur une période arrêtée",
            frozenset({MANAGER}),
            "digest",
        ),
        Kind(
            "signalement_answer",
            "Réponse à votre signalement",
            frozenset({AGENT}),
            "immediate",
        ),
        Kind(
            "month_closed",
            "Mois arrêté : l'export financier est prêt",
            frozenset({FINANCE}),
            "immediate",
        ),
    )
}


def kinds_for(role: str) -> list[Kind]:
    return [k for k in KINDS.values() if role in k.roles]


@dataclass(frozen=True)
class Thresholds:
    """The "set share", "set time" and windows of the issue; `from_env` reads the overrides."""

    lookback_h: float = 48.0  # how far back a new fact (booking change, alarm...) is looked for
    booking_days: int = 14
    urgent_h: float = 48.0  # a booking this close is announced at once, digest or not
    obligation_days: int = 30
    alarm_open_h: float = 24.0
    drift_pct: float = 10.0  # month above its corrected target by more than this share

    @classmethod
    def from_env(cls) -> Thresholds:
        def num(name: str, default: float) -> float:
            value = os.environ.get(name)
            return float(value.replace(",", ".")) if value else default

        return cls(
            alarm_open_h=num("CARNET_NOTIFY_ALARM_OPEN_HOURS", cls.alarm_open_h),
            drift_pct=num("CARNET_NOTIFY_DRIFT_PCT", cls.drift_pct),
        )


@dataclass(frozen=True)
class Event:
    """One fact worth telling. `key` names the fact (same fact, same key, one notice)."""

    kind: str
    key: str
    subject: str
    lines: tuple[str, ...]
    path: str  # the page of the app it links back to
    building_id: int | None = None
    contract_id: int | None = None
    recipient_login: str | None = None  # only this user (the author of a signalement)
    urgent: bool = False  # at once even for a user who chose the digest
    extra_links: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, path)


def base_url() -> str:
    url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def absolute(path: str) -> str:
    return base_url() + path.lstrip("/")


def _fr_datetime(when: dt.datetime) -> str:
    return when.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


# ---------------------------------------------------------------- preferences


def preferences(session: Session, user: User) -> dict[str, str]:
    """kind code -> mode, for the kinds of the user's role (the default where none is set)."""
    stored = dict(
        session.execute(
            select(NotificationPref.kind, NotificationPref.mode).where(
                NotificationPref.user_id == user.id
            )
        ).all()
    )
    return {k.code: stored.get(k.code, k.default_mode) for k in kinds_for(user.role)}


def set_preferences(
    session: Session, user: User, modes: dict[str, str], digest_hour: int | None = None
) -> None:
    """Store the user's choices; a kind of another role or an unknown mode is refused."""
    allowed = {k.code for k in kinds_for(user.role)}
    for kind, mode in modes.items():
        if kind not in allowed:
            raise ValueError(f"type d'avis inconnu pour ce rôle « {kind} »")
        if mode not in MODES:
            raise ValueError(f"mode inconnu « {mode} »")
        pref = session.get(NotificationPref, (user.id, kind))
        if pref is None:
            session.add(NotificationPref(user_id=user.id, kind=kind, mode=mode))
        else:
            pref.mode = mode
    if digest_hour is not None:
        if not 0 <= int(digest_hour) <= 23:
            raise ValueError("heure du résumé entre 0 et 23")
        user.digest_hour = int(digest_hour)
    session.flush()


def next_digest_at(now: dt.datetime, hour: int) -> dt.datetime:
    """The next local `hour`:00 (Europe/Paris) after `now`, in UTC."""
    local = now.astimezone(TZ)
    day = local.date()
    at = dt.datetime.combine(day, dt.time(hour), tzinfo=TZ)
    if at <= local:
        at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(hour), tzinfo=TZ)
    return at.astimezone(dt.UTC)


# ---------------------------------------------------------------- detection


def _since(now: dt.datetime, th: Thresholds) -> dt.datetime:
    return now - dt.timedelta(hours=th.lookback_h)


def _edited_bookings(session: Session, booking_ids: list[int]) -> set[int]:
    """The bookings edited since they were entered, as the audit trail tells: `updated_at`
    against `created_at` cannot, since an edit may come milliseconds after the creation and
    numbering a new series moves `updated_at` of its first booking."""
    if not booking_ids:
        return set()
    return {
        int(entity_id)
        for entity_id in session.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.entity == "booking",
                AuditEvent.action == "update",
                AuditEvent.entity_id.in_([str(i) for i in booking_ids]),
            )
        )
    }


def booking_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    """A booking with a heating note created, changed or cancelled, starting in the next
    `booking_days`; each change is its own fact (its key carries the change's time)."""
    rows = session.execute(
        select(Booking, Room.name, Building.id, Building.name)
        .join(Room, Room.id == Booking.room_id)
        .join(Building, Building.id == Room.building_id)
        .where(
            Booking.starts_at >= now,
            Booking.starts_at < now + dt.timedelta(days=th.booking_days),
            Booking.updated_at >= _since(now, th),
            or_(
                Booking.setpoint_c.is_not(None),
                Booking.preheat_min.is_not(None),
                Booking.heating_note.is_not(None),
            ),
        )
        .order_by(Booking.starts_at, Booking.id)
    ).all()
    edited = _edited_bookings(session, [b.id for b, *_ in rows])
    events = []
    for b, room_name, building_id, building_name in rows:
        if b.status == "cancelled":
            what = "annulée"
        elif b.id in edited:
            what = "modifiée"
        else:
            what = "créée"
        note = []
        if b.setpoint_c is not None:
            note.append(f"consigne {fr_number(b.setpoint_c, 1)} °C")
        if b.preheat_min:
            note.append(f"préchauffage {b.preheat_min} min")
        if b.heating_note:
            note.append(b.heating_note)
        events.append(
            Event(
                "booking_heating",
                f"booking_heating:{b.id}:{b.updated_at:%Y%m%dT%H%M%S.%f}",
                f"Réservation {what} : {b.title}, {building_name}, {_fr_datetime(b.starts_at)}",
                (
                    f"Réservation {what} : « {b.title} » ({b.organiser or 'organisateur non précisé'}).",
                    f"Salle : {room_name}, {building_name}.",
                    f"Du {_fr_datetime(b.starts_at)} au {_fr_datetime(b.ends_at)}.",
                    "Chauffage : " + ("; ".join(note) if note else "—") + ".",
                ),
                "/planning-chauffage",
                building_id=building_id,
                urgent=(b.starts_at - now) <= dt.timedelta(hours=th.urgent_h),
            )
        )
    return events


@dataclass(frozen=True)
class AlarmRow:
    id: int
    building_id: int
    building_code: str
    building_name: str
    title: str | None
    text: str
    opened_at: dt.datetime
    status: str


def alarms(
    session: Session,
    *,
    created_since: dt.datetime | None = None,
    open_before: dt.datetime | None = None,
) -> list[AlarmRow]:
    """The alarms (`carnet.alarms`: one row per fault episode, open until closed), with the
    text of their logbook entry; `open_before`: those still not closed opened before it."""
    stmt = (
        select(
            Alarm.id,
            Alarm.building_id,
            Building.code,
            Building.name,
            Alarm.label,
            func.coalesce(LogbookEntry.text, Alarm.label),
            Alarm.opened_at,
            Alarm.status,
        )
        .join(Building, Building.id == Alarm.building_id)
        .outerjoin(LogbookEntry, LogbookEntry.id == Alarm.entry_id)
        .order_by(Alarm.id)
    )
    if created_since is not None:
        stmt = stmt.where(Alarm.opened_at >= created_since)
    if open_before is not None:
        stmt = stmt.where(Alarm.status != "closed", Alarm.opened_at <= open_before)
    return [AlarmRow(*row) for row in session.execute(stmt).all()]


def alarm_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    events = [
        Event(
            "alarm_new",
            f"alarm_new:{a.id}",
            f"Alarme : {a.title or a.text[:60]} ({a.building_name})",
            (
                f"Nouvelle alarme sur {a.building_name} ({a.building_code}),"
                f" le {_fr_datetime(a.opened_at)}.",
                a.text,
            ),
            f"/batiments/{a.building_code}",
            building_id=a.building_id,
        )
        for a in alarms(session, created_since=_since(now, th))
    ]
    open_before = now - dt.timedelta(hours=th.alarm_open_h)
    events += [
        Event(
            "alarm_open",
            f"alarm_open:{a.id}",
            f"Alarme toujours ouverte : {a.title or a.text[:60]} ({a.building_name})",
            (
                f"L'alarme de {a.building_name} ({a.building_code}) est ouverte depuis le"
                f" {_fr_datetime(a.opened_at)}, plus de {th.alarm_open_h:g} h.",
                a.text,
            ),
            f"/batiments/{a.building_code}",
            building_id=a.building_id,
        )
        for a in alarms(session, open_before=open_before)
    ]
    return events


def signalement_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    """New signalements (observations) and the answers given to their authors."""
    since = _since(now, th)
    base = (
        select(LogbookEntry, Building.code, Building.name)
        .join(Building, Building.id == LogbookEntry.building_id)
        .where(LogbookEntry.kind == "observation")
        .order_by(LogbookEntry.id)
    )
    events = [
        Event(
            "signalement_new",
            f"signalement_new:{e.id}",
            f"Signalement : {name}",
            (
                f"Nouveau signalement sur {name} ({code}), le {_fr_datetime(e.created_at)}"
                f" par {e.author_login}.",
                e.text,
            ),
            f"/batiments/{code}",
            building_id=e.building_id,
        )
        for e, code, name in session.execute(
            base.where(LogbookEntry.created_at >= since, LogbookEntry.status != "cancelled")
        ).all()
    ]
    for e, _code, name in session.execute(
        base.where(LogbookEntry.updated_at >= since, LogbookEntry.answer.is_not(None))
    ).all():
        digest = hashlib.sha256(e.answer.encode()).hexdigest()[:12]
        events.append(
            Event(
                "signalement_answer",
                f"signalement_answer:{e.id}:{digest}",
                f"Réponse à votre signalement sur {name}",
                (
                    f"Votre signalement du {fr_date(e.occurred_at)} sur {name} : « {e.text} »",
                    f"Réponse : {e.answer}",
                ),
                "/mes-signalements",
                building_id=e.building_id,
                recipient_login=e.author_login,
            )
        )
    return events


def obligation_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    today = now.astimezone(TZ).date()
    rows = session.execute(
        select(Obligation, Building.code, Building.name)
        .join(Building, Building.id == Obligation.building_id)
        .where(
            Obligation.active.is_(True),
            Obligation.next_due_on.is_not(None),
            Obligation.next_due_on <= today + dt.timedelta(days=th.obligation_days),
        )
        .order_by(Obligation.next_due_on, Obligation.id)
    ).all()
    events = []
    for ob, code, name in rows:
        due = fr_date(ob.next_due_on)
        late = ob.next_due_on < today
        events.append(
            Event(
                "obligation_overdue" if late else "obligation_due",
                f"{'obligation_overdue' if late else 'obligation_due'}:{ob.id}:{ob.next_due_on}",
                f"Obligation {'en retard' if late else 'à échéance'} : {ob.label} ({name})",
                (
                    f"{ob.label}, {name} ({code}) : "
                    + (f"échue le {due}." if late else f"à faire avant le {due}."),
                ),
                "/obligations",
                building_id=ob.building_id,
            )
        )
    return events


def closing_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    """A month closed (its export is ready), and what waits for a regularisation on a closed
    period: readings held for it, or adjustments pending."""
    events = []
    for cp, code in session.execute(
        select(ClosedPeriod, Contract.code)
        .join(Contract, Contract.id == ClosedPeriod.contract_id)
        .where(
            ClosedPeriod.period_kind == "month",
            ClosedPeriod.status == "closed",
            ClosedPeriod.closed_at >= _since(now, th),
        )
        .order_by(ClosedPeriod.id)
    ).all():
        export = f"/export/finances/{code}/{cp.period}.csv"
        events.append(
            Event(
                "month_closed",
                f"month_closed:{cp.id}",
                f"Mois {cp.period} arrêté ({code}) : export financier prêt",
                (
                    f"Le mois {cp.period} du contrat {code} a été arrêté le"
                    f" {_fr_datetime(cp.closed_at)} par {cp.closed_by}.",
                    "Son export financier est prêt.",
                ),
                "/finances",
                contract_id=cp.contract_id,
                extra_links=(("Télécharger l'export (CSV)", export),),
            )
        )
    held = session.execute(
        select(
            ClosedPeriod.id,
            ClosedPeriod.contract_id,
            ClosedPeriod.period,
            Contract.code,
            QuarantinedReading.id,
        )
        .join(ClosedPeriod, ClosedPeriod.id == QuarantinedReading.closed_period_id)
        .join(Contract, Contract.id == ClosedPeriod.contract_id)
        .where(QuarantinedReading.status == "held", ClosedPeriod.status == "closed")
    ).all()
    by_period: dict[int, list] = {}
    for row in held:
        by_period.setdefault(row[0], []).append(row)
    for cp_id, rows in sorted(by_period.items()):
        _, contract_id, period, code, _ = rows[0]
        events.append(
            Event(
                "regularisation_pending",
                f"regularisation_pending:period:{cp_id}:{max(r[4] for r in rows)}",
                f"Régularisation en attente : {code}, période {period} arrêtée",
                (
                    f"{len(rows)} relevé(s) reçu(s) pour la période arrêtée {period} du contrat"
                    f" {code} attendent une décision (régularisation ou réouverture).",
                ),
                "/economies",
                contract_id=contract_id,
            )
        )
    pending = session.execute(
        select(ContractBuilding.contract_id, Contract.code, Adjustment.id)
        .join(ContractBuilding, ContractBuilding.id == Adjustment.contract_building_id)
        .join(Contract, Contract.id == ContractBuilding.contract_id)
        .where(Adjustment.status == "pending")
    ).all()
    by_contract: dict[int, list] = {}
    for row in pending:
        by_contract.setdefault(row[0], []).append(row)
    for contract_id, rows in sorted(by_contract.items()):
        code = rows[0][1]
        events.append(
            Event(
                "regularisation_pending",
                f"regularisation_pending:adjustment:{contract_id}:{max(r[2] for r in rows)}",
                f"Régularisation en attente : ajustement(s) du contrat {code}",
                (
                    f"{len(rows)} ajustement(s) du contrat {code} touchent une période arrêtée"
                    " et attendent une régularisation.",
                ),
                "/economies",
                contract_id=contract_id,
            )
        )
    return events


DETECTORS = (booking_events, alarm_events, signalement_events, obligation_events, closing_events)


def record_events(session: Session, now: dt.datetime, th: Thresholds) -> list[Event]:
    """Every event the record shows (not those that need the contract engine)."""
    return [event for detect in DETECTORS for event in detect(session, now, th)]


# ---------------------------------------------------------------- who hears of it


@dataclass(frozen=True)
class Addressed:
    """One event for one user, with the mode it goes by and the bodies it carries."""

    event: Event
    user: User
    mode: str  # immediate, digest
    due_at: dt.datetime
    dedup_key: str
    body_text: str
    body_html: str


def _in_scope(session: Session, user: User, event: Event, cache: dict) -> bool:
    """A contractor hears only of its contract's buildings (carnet.access) and contract."""
    if not is_contractor(user.role):
        return True
    if user.id not in cache:
        cache[user.id] = set(viewable_building_ids(session, user) or ())
    if event.building_id is not None and event.building_id not in cache[user.id]:
        return False
    if event.contract_id is not None and event.contract_id != user.contract_id:
        return False
    return event.building_id is not None or event.contract_id is not None


def bodies(event: Event) -> tuple[str, str]:
    """The French text and HTML fragment of one event, with its links back to the app."""
    link = absolute(event.path)
    links = [("Ouvrir dans Carnet", link)] + [(lb, absolute(p)) for lb, p in event.extra_links]
    text = "\n".join([event.subject, "", *event.lines, ""] + [f"{lb} : {u}" for lb, u in links])
    html = (
        f"<section><h2>{escape(event.subject)}</h2>"
        + "".join(f"<p>{escape(line)}</p>" for line in event.lines)
        + "<p>"
        + " · ".join(f'<a href="{escape(u)}">{escape(lb)}</a>' for lb, u in links)
        + "</p></section>"
    )
    return text, html


def fan_out(session: Session, events: Iterable[Event], now: dt.datetime) -> list[Addressed]:
    """Each event to every active user with an e-mail whose role receives its kind, in scope,
    who has not opted out; an urgent event skips the digest."""
    users = session.scalars(
        select(User).where(User.active.is_(True), User.email.is_not(None), User.email != "")
    ).all()
    prefs: dict[int, dict[str, str]] = {}
    scope_cache: dict = {}
    out = []
    for event in events:
        kind = KINDS[event.kind]
        text, html = bodies(event)
        for user in users:
            if user.role not in kind.roles:
                continue
            if event.recipient_login is not None and user.login != event.recipient_login:
                continue
            if not _in_scope(session, user, event, scope_cache):
                continue
            if user.id not in prefs:
                prefs[user.id] = preferences(session, user)
            mode = prefs[user.id][event.kind]
            if mode == "off":
                continue
            if mode == "digest" and event.urgent:
                mode = "immediate"
            due = now if mode == "immediate" else next_digest_at(now, user.digest_hour or 0)
            out.append(Addressed(event, user, mode, due, f"{event.key}|{user.id}", text, html))
    return out
