"""the poller's rollups merged every few minutes: a rebuild marker and a pending flag

`daily_rollup.rebuilt_version`: the data version a writer read when it rebuilt the row from
the readings (a recompute; a merge of later readings leaves it). The poller, which merges the
rollups of its last few flushes at once, finds with it the channel-days another writer
rebuilt meanwhile, whose rows already count its readings. `import_batch.rollups_pending`: a
poller batch whose readings are stored but not yet in the rollups; a poller that stopped
without merging them (killed, power cut) rebuilds those days at its next start (a partial
index: the flagged rows are a handful among hundreds of thousands of batches).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("daily_rollup", sa.Column("rebuilt_version", sa.BigInteger(), nullable=True))
    op.add_column(
        "import_batch",
        sa.Column("rollups_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_import_batch_rollups_pending",
        "import_batch",
        ["rollups_pending"],
        postgresql_where=sa.text("rollups_pending"),
        sqlite_where=sa.text("rollups_pending"),
    )


def downgrade() -> None:
    op.drop_index("ix_import_batch_rollups_pending", table_name="import_batch")
    with op.batch_alter_table("import_batch") as batch:
        batch.drop_column("rollups_pending")
    with op.batch_alter_table("daily_rollup") as batch:
        batch.drop_column("rebuilt_version")
