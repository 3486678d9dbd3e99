"""Data of "Mes notifications": the signed-in user's choices, address and recent notices.

The page holds layout and callbacks; the choices are read and written through
`carnet.notifications` (the same rules as the detection), the notices through `carnet.outbox`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carnet import outbox
from carnet.mailer import smtp_settings
from carnet.models import User
from carnet.notifications import MODE_LABELS_FR, kinds_for, preferences, set_preferences
from dashboards import db
from dashboards.fmt import fr_datetime

RECENT = 20


@dataclass(frozen=True)
class Choices:
    email: str | None
    digest_hour: int
    rows: list[dict]  # kind, label, mode
    recent: list[dict]  # date, subject, state label, mode label
    smtp_configured: bool


def smtp_configured() -> bool:
    try:
        return smtp_settings() is not None
    except ValueError:  # set but unreadable: nothing can be sent either
        return False


def choices(user_id: int) -> Choices:
    with db.session() as s:
        user = s.get(User, user_id)
        modes = preferences(s, user)
        rows = [
            {"kind": k.code, "label": k.label, "mode": modes[k.code]} for k in kinds_for(user.role)
        ]
        recent = [
            {
                "date": fr_datetime(dt.datetime.fromisoformat(n["created_at"])),
                "subject": n["subject"],
                "state": outbox.STATE_LABELS_FR.get(n["state"], n["state"]),
                "mode": MODE_LABELS_FR.get(n["mode"], n["mode"]),
            }
            for n in outbox.list_notices(s, user_id=user.id, limit=RECENT)
        ]
        return Choices(user.email, user.digest_hour, rows, recent, smtp_configured())


def save(user_id: int, modes: dict[str, str], digest_hour: int | None) -> None:
    """Store the choices (ValueError, French, for a kind or mode this role may not choose)."""
    with db.session() as s:
        set_preferences(s, s.get(User, user_id), modes, digest_hour)
