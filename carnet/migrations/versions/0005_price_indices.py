"""price indices: the published values the revision of the P1/P2/P3 prices reads

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_index",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Numeric(precision=16, scale=6), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "month"),
    )
    with op.batch_alter_table("price_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_index_import_batch_id"), ["import_batch_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("price_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_index_import_batch_id"))
    op.drop_table("price_index")
