"""Data of the heating schedule page (`/planning-chauffage`): the next days of heating in the
user's scope with what changed since the previous visit, and the iCal feeds it may see."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from carnet import heating_schedule as hs
from carnet import ical
from carnet.access import ActorLike, Scope
from carnet.db import session_scope


def schedule_since_last_visit(
    engine: Engine, user: ActorLike, user_id: int, now: dt.datetime
) -> tuple[pd.DataFrame, dt.datetime | None]:
    """(the schedule with its changes since the user's previous visit, that visit or None);
    records this visit."""
    with session_scope(engine) as s:
        since = hs.last_seen(s, user_id)
        frame = hs.heating_schedule(s, user, now=now, since=since)
        hs.record_view(s, user_id, now)
    return frame, since


def schedule(
    engine: Engine, user: ActorLike, now: dt.datetime, since: dt.datetime | None
) -> pd.DataFrame:
    """The schedule with its changes since `since`, without recording a visit (a download of
    the table the page shows)."""
    with session_scope(engine) as s:
        return hs.heating_schedule(s, user, now=now, since=since)


def feeds(engine: Engine, scope: Scope):
    """`carnet.ical.feeds_in_scope`: (contracts, rooms) with their tokens."""
    with session_scope(engine) as s:
        return ical.feeds_in_scope(s, scope)


def set_feed_token(engine: Engine, user: ActorLike, kind: str, code: str, revoke: bool) -> None:
    """A new secret address for the contract's or room's feed, or none (`revoke`)."""
    with session_scope(engine) as s:
        setter = ical.set_contract_token if kind == "contract" else ical.set_room_token
        setter(s, user, code, revoke=revoke)
