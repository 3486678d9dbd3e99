"""Rows saying when a user last looked at something, written as one upsert.

A user's first view races with itself (several tabs, a page's callbacks fired at once): a read
then an INSERT lets two requests insert the same key and one fail on the primary key, so the
row is written with INSERT ... ON CONFLICT DO UPDATE on both databases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session


def _insert(session: Session, table):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def seen_at(session: Session, model, keys: dict) -> dt.datetime | None:
    """The stored `seen_at` of the row with these primary-key values, read from the database."""
    table = model.__table__
    stmt = select(table.c.seen_at).where(*(table.c[k] == v for k, v in keys.items()))
    return session.execute(stmt).scalar_one_or_none()


def record_seen_at(session: Session, model, keys: dict, now: dt.datetime) -> dt.datetime | None:
    """Store `seen_at = now` for these primary-key values; returns the previous value (or None).

    Two first views at once both return None and both succeed; the later `now` is kept
    whichever commits last, which is all a "what changed since" needs."""
    previous = seen_at(session, model, keys)
    table = model.__table__
    stmt = _insert(session, table).values(**keys, seen_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={"seen_at": now})
    session.execute(stmt)
    return previous
