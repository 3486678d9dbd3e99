"""The data version: one counter that changes whenever the data the figures are computed from
changes, so that a cache of figures can be keyed on it and checked with one indexed read.

Every writer goes through an engine made by `carnet.db.make_engine`, so the engine is where
the writes are seen: a statement that inserts, updates or deletes rows of a table in `TRACKED`
marks its connection, and the mark bumps the one row of `data_version` just before the
connection commits, in the same transaction (a rolled back write bumps nothing). The bump is
the transaction's last statement, so on PostgreSQL the row is locked for the commit only: a
long import does not make the poller wait. Writers that go around SQLAlchemy to the driver
(bulk COPY / executemany of readings and held readings) mark their connection with `touch`.

`epoch` is drawn when the schema is created and again by a restore: a database rebuilt or
replaced at the same URL never matches a cache entry of the one before.

`Memo` keeps a value derived from tracked tables (the poller's channel limits) for as long as
the version says nothing changed, its holder's own commits included when nobody else's came
between (a flush writes readings, which bump the version, but changes no limit).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError

# the inputs of settlements, baselines and the savings pages (not the logbook, bookings,
# users, audit or device health, which no figure reads)
TRACKED = frozenset(
    {
        "reading",
        "daily_rollup",
        "index_reset",
        "import_batch",
        "reading_overwrite",
        "quarantined_reading",
        "closed_period",
        "regularisation",
        "adjustment",
        "contract",
        "contract_building",
        "building",
        "channel",
        "conversion_factor",
        "station",
        # what the plausibility limits read (ingest.plausibility.channel_limits, kept in a Memo)
        "equipment",
        "quantity",
    }
)
_DML = re.compile(
    r"^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM"
    r"|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?\"?(\w+)\"?",
    re.IGNORECASE,
)
_MARK = "carnet_data_written"
_OFF = "carnet_data_version_off"
_BUMP = "UPDATE data_version SET version = version + 1 WHERE id = 1"
_READ = READ_EPOCH_VERSION = "SELECT epoch, version FROM data_version WHERE id = 1"
READ_VERSION = "SELECT version FROM data_version WHERE id = 1"
_MEMOS = "carnet_data_version_memos"  # conn.info: the Memos read in this transaction


def touch(conn: Connection) -> None:
    """Mark the connection's transaction as changing the figures' data (for writes made on the
    driver's own cursor, which the engine does not see)."""
    conn.info[_MARK] = True


@contextmanager
def suspended(conn: Connection) -> Iterator[None]:
    """No bump on this connection meanwhile (migrations: the table may not exist yet)."""
    conn.info[_OFF] = True
    try:
        yield
    finally:
        conn.info.pop(_OFF, None)
        conn.info.pop(_MARK, None)


def current(engine: Engine) -> tuple[str, int] | None:
    """(epoch, version) of the database; None when it has no version yet (not migrated)."""
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT epoch, version FROM data_version WHERE id = 1")).first()
    except DBAPIError:
        return None
    return None if row is None else (row[0], int(row[1]))


def new_epoch(engine: Engine) -> None:
    """A new epoch for a database whose whole content was replaced (a restore): no cache
    entry of the data before, whatever its version number, matches again."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE data_version SET epoch = :e WHERE id = 1"), {"e": uuid4().hex})


def _seen(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    match = _DML.match(statement)
    if match is not None and match.group(1).lower() in TRACKED:
        conn.info[_MARK] = True


_HAS_TABLE = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'data_version'",
    "postgresql": "SELECT 1 WHERE to_regclass('data_version') IS NOT NULL",
}
_versioned: weakref.WeakSet = weakref.WeakSet()  # engines whose schema has the table


def forget_schema(engine: Engine) -> None:
    """After a migration: look again whether the schema holds the version table."""
    _versioned.discard(engine)


def _commit(conn) -> None:
    if conn.info.pop(_MARK, False) and not conn.info.get(_OFF):
        cursor = conn.connection.cursor()  # the driver's: we are inside Connection.commit
        try:
            # a database not yet at the schema that holds the version (a town's database
            # written to before its upgrade) has nothing to bump: no figure is cached for it
            if conn.engine not in _versioned:
                cursor.execute(_HAS_TABLE[conn.dialect.name])
                if cursor.fetchone() is None:
                    return
                _versioned.add(conn.engine)
            cursor.execute(_BUMP)
            memos = conn.info.pop(_MEMOS, None)
            if memos:  # the version this commit makes, for the Memos read in it
                cursor.execute(_READ)
                epoch, version = cursor.fetchone()
                for memo, key in memos:
                    memo._bumped(key, (epoch, int(version)))
        finally:
            cursor.close()
    conn.info.pop(_MEMOS, None)


def _forget(conn) -> None:
    conn.info.pop(_MARK, None)
    conn.info.pop(_MEMOS, None)


def _forget_pooled(_dbapi_conn, record, _state=None) -> None:
    record.info.pop(_MARK, None)
    record.info.pop(_MEMOS, None)


def _key(conn: Connection) -> tuple[str, int] | None:
    """(epoch, version) as `conn`'s transaction sees it; None without the version table."""
    if conn.engine not in _versioned:
        if conn.exec_driver_sql(_HAS_TABLE[conn.dialect.name]).first() is None:
            return None
        _versioned.add(conn.engine)
    row = conn.exec_driver_sql(_READ).first()
    return None if row is None else (row[0], int(row[1]))


class Memo:
    """A value computed from tracked tables by `load(conn)`, computed again only when the data
    version moved. Its holder's own commits move the version too: `get` on the committing
    connection, then `committed()` once the commit succeeded, keep the value for the version
    that commit made, when it is the only one since the value was read (none of the holder's
    writes may change what `load` reads). A database without the version table: no memo.

    Read the version before the value: a change committed in between makes the value newer
    than its key, never older, and versions only grow, so that key is never seen again."""

    def __init__(self, load):
        self._load = load
        self._key: tuple[str, int] | None = None
        self._value = None
        self._pending: tuple[str, int] | None = None

    def get(self, conn: Connection):
        self._pending = None
        key = _key(conn)
        if key is None or key != self._key:
            self._key, self._value = None, None
            value = self._load(conn)
            self._key, self._value = key, value
        if key is not None:
            conn.info.setdefault(_MEMOS, []).append((self, key))
        return self._value

    def _bumped(self, read: tuple[str, int], made: tuple[str, int]) -> None:
        if self._key == read and made == (read[0], read[1] + 1):
            self._pending = made

    def committed(self) -> None:
        """After the commit of the transaction `get` was called in: keep the value through
        the version it made (only if its bump was the only one since the value was read)."""
        if self._pending is not None and self._key is not None:
            self._key = self._pending
        self._pending = None

    def clear(self) -> None:
        self._key, self._value, self._pending = None, None, None


def install(engine: Engine) -> None:
    """Watch `engine`'s writes (called by `carnet.db.make_engine` on every engine)."""
    event.listen(engine, "before_cursor_execute", _seen)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "reset", _forget_pooled)
