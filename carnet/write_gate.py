"""One writer at a time among a process's SQLite connections, served in arrival order.

SQLite has one write lock per database. Left to itself, each connection that finds it taken
sleeps in the busy handler (steps of up to 100 ms, no order) until `busy_timeout`: under a
burst of page writes the waiters race each other, a late one may pass one that has waited
long, and one whose transaction does some work makes the others run out their timeout. The
web server (`dashboards.server`) installs this gate on its engine: a transaction's first
write waits here, first come first served, and holds the gate until its commit or rollback,
so the process's writers never contend inside SQLite; the busy timeout
(`CARNET_SQLITE_WRITE_WAIT_S`) is left to arbitrate with other processes (an import, the
poller). Reads never wait (WAL). No effect on PostgreSQL, which locks rows.
"""

from __future__ import annotations

import re
import threading
from collections import deque

from sqlalchemy import Engine, event

from carnet.config import sqlite_write_wait_s

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class GateTimeout(TimeoutError):
    """Another writer of the process kept the database longer than the write wait."""


class WriteGate:
    """A FIFO lock held by one DB-API connection from its first write to its transaction's end.
    `granted` counts the transactions served, `max_waiting` the longest queue seen."""

    def __init__(self, wait_s: float):
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._holder: int | None = None
        self.granted = 0
        self.max_waiting = 0

    def acquire(self, holder: int) -> None:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            self.max_waiting = max(self.max_waiting, len(self._queue) - 1)
            ok = self._cond.wait_for(
                lambda: self._holder is None and self._queue[0] is ticket, self.wait_s
            )
            if not ok:
                self._queue.remove(ticket)
                self._cond.notify_all()
                raise GateTimeout(
                    f"base occupée par une autre écriture depuis plus de {self.wait_s:g} s"
                )
            self._queue.popleft()
            self._holder = holder
            self.granted += 1

    def holds(self, holder: int) -> bool:
        return self._holder == holder

    def release(self, holder: int) -> None:
        with self._cond:
            if self._holder == holder:
                self._holder = None
                self._cond.notify_all()


def install(engine: Engine, wait_s: float | None = None) -> WriteGate | None:
    """Put `engine`'s writes through one gate (SQLite only; once per engine). `wait_s`: how
    long a writer waits for the gate (default `CARNET_SQLITE_WRITE_WAIT_S`)."""
    if engine.dialect.name != "sqlite":
        return None
    gate = getattr(engine, "write_gate", None)
    if gate is not None:
        return gate
    gate = WriteGate(sqlite_write_wait_s() if wait_s is None else wait_s)
    dialect = engine.dialect

    @event.listens_for(engine, "before_cursor_execute")
    def _first_write(conn, cursor, statement, parameters, context, executemany) -> None:
        key = id(conn.connection.dbapi_connection)
        if _WRITE.match(statement) and not gate.holds(key):
            gate.acquire(key)

    def ending(original):
        def end(dbapi_connection) -> None:  # the pool's proxy or the driver's connection
            try:
                original(dbapi_connection)
            finally:
                gate.release(id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection)))

        return end

    dialect.do_commit = ending(dialect.do_commit)
    dialect.do_rollback = ending(dialect.do_rollback)

    @event.listens_for(engine.pool, "close")
    @event.listens_for(engine.pool, "invalidate")
    def _gone(dbapi_connection, *_args) -> None:  # closed mid-transaction: free the gate
        gate.release(id(dbapi_connection))

    engine.write_gate = gate
    return gate
