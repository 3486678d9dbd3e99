"""`reading` partitioned by month on PostgreSQL (migration 0011); SQLite keeps one table.

A month is a range of `ts` (UTC epoch seconds, UTC calendar months): a month's readings sit in
one partition, `reading_yYYYYmMM`, whose key index stays the size of a month whatever the
history, and the key (channel_id, ts) contains the partition key as PostgreSQL requires.
Partitions are made ahead by `carnet db upgrade` (`MONTHS_AHEAD`) and by the store when a batch
reaches a month without one (`ensure_months`, under a transaction-level advisory lock so that
two writers do not race). `reading_default` takes what another path writes outside them; a
month made later moves its rows out of it first.

No foreign key from the partitioned `reading` to `channel`: checked per row it costs about
2.5 times the insert at bulk load, so the store checks once per batch that its channel ids
exist (`check_channels`). Channels are never deleted by Carnet, so nothing else can orphan a
reading. `daily_rollup`, computed only from stored readings, has none either (0019): the
poller's first merge of a day inserts a row per channel, and the check doubled its cost.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref

import numpy as np
from sqlalchemy import Connection, text

MONTHS_AHEAD = 3
DEFAULT = "reading_default"
PARTITION = re.compile(r"^reading_(y\d{4}m\d{2}|default)$")
NO_FOREIGN_KEY = ("reading", "daily_rollup")  # on PostgreSQL: checked once per batch
_LOCK = 0x43_41_52_4E  # advisory lock key of the partition DDL ("CARN")


class UnknownChannel(ValueError):
    """A batch names a channel that does not exist (what the per-row foreign key refused)."""


def _in_transaction(conn: Connection) -> dict:
    """What this module has learnt in the connection's current transaction (nothing outside
    one): whether `reading` is partitioned, the partitions seen, the channel ids found. A
    batch written in chunks asks once, not once per chunk; nothing Carnet does drops a
    partition or a channel, and a migration runs in a transaction of its own."""
    txn = conn.get_transaction()
    if txn is None:
        return {}
    held = conn.info.get(_KNOWN)
    if held is None or held[0]() is not txn:
        held = (weakref.ref(txn), {})
        conn.info[_KNOWN] = held
    return held[1]


_KNOWN = "carnet.partitions.known"


def forget(conn: Connection) -> None:
    """Drop what this transaction learnt: `reading` was just made partitioned or plain."""
    conn.info.pop(_KNOWN, None)


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL once 0011 has run (one catalogue probe per transaction, not kept
    longer: a migration on a pooled connection changes the answer)."""
    if conn.dialect.name != "postgresql":
        return False
    known = _in_transaction(conn)
    if "partitioned" not in known:
        known["partitioned"] = _probe_partitioned(conn)
    return known["partitioned"]


def _probe_partitioned(conn: Connection) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c"
                " ON c.oid = p.partrelid WHERE c.relname = 'reading'"
                " AND pg_table_is_visible(c.oid))"
            )
        ).scalar()
    )


def month_name(month: dt.date) -> str:
    return f"reading_y{month.year:04d}m{month.month:02d}"


def _epoch(month: dt.date) -> int:
    return int(dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC).timestamp())


def _next(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_between(ts_min: int, ts_max: int) -> list[dt.date]:
    """First days of the UTC months from the one holding `ts_min` to the one holding `ts_max`."""
    lo = dt.datetime.fromtimestamp(int(ts_min), dt.UTC).date().replace(day=1)
    hi = dt.datetime.fromtimestamp(int(ts_max), dt.UTC).date().replace(day=1)
    out = [lo]
    while out[-1] < hi:
        out.append(_next(out[-1]))
    return out


def existing(conn: Connection) -> set[str]:
    found = set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reading'"
                " AND pg_table_is_visible(p.oid)"
            )
        ).scalars()
    )
    _in_transaction(conn).setdefault("partitions", set()).update(found)
    return found


def create_month(conn: Connection, month: dt.date) -> None:
    """One month's partition; the rows the default partition holds for it move in first (a
    partition cannot be attached over rows the default still has)."""
    name, a, b = month_name(month), _epoch(month), _epoch(_next(month))
    conn.execute(text(f"CREATE TABLE {name} (LIKE reading INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE ts >= :a AND ts < :b RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        ),
        {"a": a, "b": b},
    )
    conn.execute(
        text(f"ALTER TABLE reading ATTACH PARTITION {name} FOR VALUES FROM ({a}) TO ({b})")
    )


def ensure_months(conn: Connection, months: list[dt.date]) -> int:
    """Make the missing partitions of `months` (in the caller's transaction); returns how many."""
    seen = _in_transaction(conn).get("partitions", set())
    if all(month_name(m) in seen for m in months):
        return 0
    have = existing(conn)
    missing = [m for m in months if month_name(m) not in have]
    if not missing:
        return 0
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    have = existing(conn)  # another writer may have made them while we waited
    missing = [m for m in missing if month_name(m) not in have]
    for month in missing:
        create_month(conn, month)
    _in_transaction(conn).setdefault("partitions", set()).update(map(month_name, missing))
    return len(missing)


def ensure_for(conn: Connection, ts: np.ndarray) -> int:
    """Partitions for every month a batch's instants reach (no-op unless partitioned)."""
    if not len(ts) or not is_partitioned(conn):
        return 0
    return ensure_months(conn, months_between(int(np.min(ts)), int(np.max(ts))))


def ensure_ahead(conn: Connection, today: dt.date | None = None) -> int:
    """This month's partition and the `MONTHS_AHEAD` after it."""
    if not is_partitioned(conn):
        return 0
    month = (today or dt.datetime.now(dt.UTC).date()).replace(day=1)
    months = [month]
    for _ in range(MONTHS_AHEAD):
        months.append(_next(months[-1]))
    return ensure_months(conn, months)


def check_channels(conn: Connection, channel_ids: np.ndarray) -> None:
    """The foreign key of the partitioned table, once per batch: every id must be a channel."""
    if not is_partitioned(conn):
        return
    ids = np.unique(np.asarray(channel_ids, dtype="int64"))
    checked = _in_transaction(conn).setdefault("channels", set())
    ask = [int(c) for c in ids if int(c) not in checked]
    if not ask:
        return
    found = set(
        conn.execute(text("SELECT id FROM channel WHERE id = ANY(:ids)"), {"ids": ask}).scalars()
    )
    checked.update(found)
    unknown = [c for c in ask if c not in found]
    if unknown:
        raise UnknownChannel(f"voie(s) inconnue(s) : {unknown[:10]}")


def include_object(partitioned: bool):
    """Alembic's comparison filter for a database: the partitions are not tables of the
    models, and neither the partitioned `reading` nor `daily_rollup` has a foreign key on
    purpose (module docstring; migration 0019)."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if not partitioned:
            return True
        if type_ == "table" and reflected and compare_to is None:
            return not PARTITION.match(name or "")
        if type_ == "foreign_key_constraint" and not reflected and compare_to is None:
            return obj.parent.name not in NO_FOREIGN_KEY
        return True

    return include
