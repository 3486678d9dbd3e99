"""When each user last looked at a place of the app, so that the place can say what changed
since (the contractor's landing page: heating notes created, changed or cancelled)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from carnet.models import LastSeen
from carnet.seen_rows import record_seen_at, seen_at

LANDING = "landing"


def last_seen(session: Session, user_id: int, place: str) -> dt.datetime | None:
    return seen_at(session, LastSeen, {"user_id": user_id, "place": place})


def record_seen(
    session: Session, user_id: int, place: str, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Store that the user looks at `place` now (an upsert: first views race); returns the
    previous look (or None)."""
    now = now or dt.datetime.now(dt.UTC)
    return record_seen_at(session, LastSeen, {"user_id": user_id, "place": place}, now)
