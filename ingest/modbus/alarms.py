"""Fault codes become logbook alarms: one entry per fault episode, closed when the fault clears.

The episode state lives in the database (an open `alarm` entry with the point's `alarm_key`), so a
restarted poller neither reopens a known fault nor forgets to close it. Events are queued in
memory and applied with the next buffer flush; if the database is away they wait for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import LogbookEntry
from carnet.timeutil import epoch_to_local

log = logging.getLogger(__name__)

OPEN_STATUSES = ("open", "in_progress")


@dataclass
class AlarmEvent:
    action: str  # open or close
    key: str  # <gateway>/<unit>/<point>
    ts: int  # epoch seconds of the reading that showed it
    code: int = 0
    label: str | None = None
    building_id: int | None = None
    equipment_id: int | None = None


def alarm_key(gateway: str, unit: int, point: str) -> str:
    return f"{gateway}/{unit}/{point}"


def _fr_time(ts: int) -> str:
    return epoch_to_local(ts).strftime("%d/%m/%Y %H:%M")


class AlarmTracker:
    def __init__(self):
        self.open_keys: set[str] = set()
        self.pending: list[AlarmEvent] = []

    def load_open(self, session: Session) -> None:
        """Episodes already open in the logbook (from a previous run)."""
        rows = session.scalars(
            select(LogbookEntry.alarm_key).where(
                LogbookEntry.kind == "alarm",
                LogbookEntry.source == "poller",
                LogbookEntry.status.in_(OPEN_STATUSES),
                LogbookEntry.alarm_key.is_not(None),
            )
        )
        self.open_keys = set(rows)

    def observe(self, event_key: str, code: int, ts: int, label=None, building_id=None,
                equipment_id=None) -> AlarmEvent | None:  # fmt: skip
        if code != 0 and event_key not in self.open_keys:
            self.open_keys.add(event_key)
            event = AlarmEvent("open", event_key, ts, code, label, building_id, equipment_id)
        elif code == 0 and event_key in self.open_keys:
            self.open_keys.discard(event_key)
            event = AlarmEvent("close", event_key, ts)
        else:
            return None
        self.pending.append(event)
        return event

    @staticmethod
    def apply_events(session: Session, events: list[AlarmEvent]) -> int:
        """Write `events` in the caller's transaction (idempotent against the logbook's
        state); returns how many were applied."""
        applied = 0
        for event in events:
            current = session.scalars(
                select(LogbookEntry).where(
                    LogbookEntry.alarm_key == event.key,
                    LogbookEntry.kind == "alarm",
                    LogbookEntry.status.in_(OPEN_STATUSES),
                )
            ).all()
            if event.action == "open" and not current:
                if event.building_id is None:
                    log.warning("alarme %s : aucun bâtiment connu, entrée non créée", event.key)
                    continue
                what = f"défaut {event.code}" + (f" ({event.label})" if event.label else "")
                session.add(
                    LogbookEntry(
                        building_id=event.building_id,
                        equipment_id=event.equipment_id,
                        occurred_at=dt.datetime.fromtimestamp(event.ts, dt.UTC),
                        kind="alarm",
                        title=f"Alarme {event.key} : {what}"[:200],
                        text=f"Le relevé automatique signale un {what} le {_fr_time(event.ts)}.",
                        author_login="poller",
                        status="open",
                        source="poller",
                        alarm_key=event.key,
                    )
                )
            elif event.action == "close":
                for entry in current:
                    entry.status = "done"
                    entry.answer = f"Défaut disparu le {_fr_time(event.ts)} (relevé automatique)."
                    entry.text = entry.text + f"\nRetour à la normale le {_fr_time(event.ts)}."
            applied += 1
        return applied
