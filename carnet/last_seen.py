"""When each user last looked at a place of the app, so that the place can say what changed
since (the contractor's landing page: heating notes created, changed or cancelled)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from carnet.models import LastSeen

LANDING = "landing"


def last_seen(session: Session, user_id: int, place: str) -> dt.datetime | None:
    row = session.get(LastSeen, (user_id, place))
    return None if row is None else row.seen_at


def record_seen(
    session: Session, user_id: int, place: str, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Store that the user looks at `place` now; returns the previous look (or None)."""
    now = now or dt.datetime.now(dt.UTC)
    row = session.get(LastSeen, (user_id, place))
    previous = None if row is None else row.seen_at
    if row is None:
        session.add(LastSeen(user_id=user_id, place=place, seen_at=now))
    else:
        row.seen_at = now
    session.flush()
    return previous
