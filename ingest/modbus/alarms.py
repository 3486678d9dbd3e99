"""Fault codes become alarms: one alarm row and one logbook entry per fault episode
(`carnet.alarms`), the episode ending when the fault clears.

The episode state lives in the database (an alarm the device has not cleared, with the point's
`alarm_key`), so a restarted poller neither reopens a known fault nor forgets to close it. Events
are queued in memory and applied with the next buffer flush; if the database is away they wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from carnet.alarms import device_normal, open_episode, open_episode_keys

log = logging.getLogger(__name__)


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


class AlarmTracker:
    def __init__(self):
        self.open_keys: set[str] = set()
        self.pending: list[AlarmEvent] = []

    def load_open(self, session: Session) -> None:
        """Episodes still running from a previous run (their alarm not cleared by the device)."""
        self.open_keys = open_episode_keys(session)

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
        """Write `events` in the caller's transaction (idempotent against the alarms' state:
        a replayed episode is not opened twice); returns how many were applied."""
        applied = 0
        for event in events:
            if event.action == "open":
                if event.building_id is None:
                    log.warning("alarme %s : aucun bâtiment connu, entrée non créée", event.key)
                    continue
                open_episode(
                    session,
                    event.key,
                    event.ts,
                    event.code,
                    event.label,
                    event.building_id,
                    event.equipment_id,
                )
            else:
                device_normal(session, event.key, event.ts)
            applied += 1
        return applied
