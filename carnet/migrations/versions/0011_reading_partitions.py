"""`reading` partitioned by month on PostgreSQL (a no-op on SQLite)

The readings move into a table partitioned by range of `ts` (UTC months, see
`carnet.partitions`): one partition per month from the first stored reading to
`MONTHS_AHEAD` months ahead, and `reading_default` for anything outside. The key
(channel_id, ts) holds on the partitioned table; the foreign key to `channel` is dropped
(checked once per batch by the store instead). Downgrade folds the months back into one
table with its foreign key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:30:00.000000
"""

import datetime as dt

from alembic import op
from sqlalchemy import text

from carnet import partitions

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COLUMNS = "channel_id, ts, value, quality, batch_id"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or partitions.is_partitioned(conn):
        return
    conn.execute(text("ALTER TABLE reading RENAME TO reading_unpartitioned"))
    conn.execute(text("ALTER INDEX reading_pkey RENAME TO reading_unpartitioned_pkey"))
    conn.execute(
        text(
            "CREATE TABLE reading (channel_id integer NOT NULL, ts bigint NOT NULL,"
            " value double precision, quality smallint NOT NULL, batch_id integer,"
            " CONSTRAINT reading_pkey PRIMARY KEY (channel_id, ts)) PARTITION BY RANGE (ts)"
        )
    )
    conn.execute(text(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF reading DEFAULT"))
    partitions.forget(conn)  # asked above in this transaction: the answer has changed
    lo, hi = conn.execute(text("SELECT MIN(ts), MAX(ts) FROM reading_unpartitioned")).one()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    months = partitions.months_between(min(lo, now) if lo is not None else now, max(hi or now, now))
    partitions.ensure_months(conn, months)
    partitions.ensure_ahead(conn)
    conn.execute(
        text(f"INSERT INTO reading ({_COLUMNS}) SELECT {_COLUMNS} FROM reading_unpartitioned")
    )
    conn.execute(text("DROP TABLE reading_unpartitioned"))
    conn.execute(text("ANALYZE reading"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or not partitions.is_partitioned(conn):
        return
    conn.execute(text("ALTER TABLE reading RENAME TO reading_partitioned"))
    conn.execute(text("ALTER INDEX reading_pkey RENAME TO reading_partitioned_pkey"))
    conn.execute(
        text(
            "CREATE TABLE reading (channel_id integer NOT NULL REFERENCES channel (id),"
            " ts bigint NOT NULL, value double precision, quality smallint NOT NULL,"
            " batch_id integer, CONSTRAINT reading_pkey PRIMARY KEY (channel_id, ts))"
        )
    )
    partitions.forget(conn)
    conn.execute(
        text(f"INSERT INTO reading ({_COLUMNS}) SELECT {_COLUMNS} FROM reading_partitioned")
    )
    conn.execute(text("DROP TABLE reading_partitioned"))  # its partitions go with it
