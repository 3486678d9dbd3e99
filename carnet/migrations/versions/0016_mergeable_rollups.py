"""mergeable daily rollups (value_sum, covered_s), an index on reading.batch_id

A day's rollup keeps the sum of its values and the seconds it covers, so that the poller's
readings of later in the day merge into it without reading the day back (`carnet.store`).
Rows already stored are backfilled from what they hold: the sum is the value (the mean times
the count for an instant channel), the covered seconds the coverage times the length of that
local day. `reading.batch_id` is indexed so that reverting a batch seeks its rows (on the
partitioned PostgreSQL table the index is made on the parent, hence on every month).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 14:30:00.000000
"""

import numpy as np
import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from carnet.timeutil import day_length_s

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("daily_rollup") as batch:
        batch.add_column(sa.Column("value_sum", sa.Float(), nullable=True))
        batch.add_column(sa.Column("covered_s", sa.Float(), nullable=True))
    conn = op.get_bind()
    conn.execute(
        text(
            "UPDATE daily_rollup SET value_sum = CASE WHEN (SELECT kind FROM channel c"
            " WHERE c.id = daily_rollup.channel_id) = 'instant'"
            " THEN value * n_readings ELSE value END"
        )
    )
    days = [row[0] for row in conn.execute(text("SELECT DISTINCT day FROM daily_rollup"))]
    if days:
        lengths = day_length_s(np.array([str(d)[:10] for d in days], dtype="datetime64[D]"))
        conn.execute(
            sa.text("UPDATE daily_rollup SET covered_s = coverage * :s WHERE day = :d"),
            [{"s": float(s), "d": d} for d, s in zip(days, lengths, strict=True)],
        )
    op.create_index("ix_reading_batch_id", "reading", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_reading_batch_id", table_name="reading")
    with op.batch_alter_table("daily_rollup") as batch:
        batch.drop_column("covered_s")
        batch.drop_column("value_sum")
