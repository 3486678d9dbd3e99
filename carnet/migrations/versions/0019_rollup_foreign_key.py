"""PostgreSQL: no per-row foreign key from `daily_rollup` to `channel`

Like `reading`'s (0011), the key was checked row by row: the poller's first merge of a day
inserts a row per channel (10 000 at 500 devices x 20 points), and the check doubled the
insert's cost (measured on 10 000 rows: 153-170 ms with it, 74-83 ms without). A rollup row
is only ever computed from stored readings, whose channels the store checks once per batch
(`carnet.partitions.check_channels`), and Carnet never deletes a channel: nothing can orphan
a rollup. SQLite keeps its foreign key (its checks cost little and are off by default).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLE = "daily_rollup"


def _channel_keys(conn) -> list[str]:
    return [
        fk["name"]
        for fk in sa.inspect(conn).get_foreign_keys(TABLE)
        if fk["referred_table"] == "channel" and fk["name"]
    ]


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for name in _channel_keys(conn):
        op.drop_constraint(name, TABLE, type_="foreignkey")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or _channel_keys(conn):
        return
    op.create_foreign_key("daily_rollup_channel_id_fkey", TABLE, "channel", ["channel_id"], ["id"])
