"""retours d'expérience: the incident's links, each side's account, the decisions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import carnet.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rex",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("author_login", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rex", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rex_building_id"), ["building_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rex_occurred_on"), ["occurred_on"], unique=False)
    op.create_table(
        "rex_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rex_id", sa.Integer(), nullable=False),
        sa.Column("logbook_entry_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["logbook_entry_id"], ["logbook_entry.id"]),
        sa.ForeignKeyConstraint(["rex_id"], ["rex.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rex_id", "booking_id"),
        sa.UniqueConstraint("rex_id", "logbook_entry_id"),
    )
    with op.batch_alter_table("rex_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rex_link_rex_id"), ["rex_id"], unique=False)
    op.create_table(
        "rex_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rex_id", sa.Integer(), nullable=False),
        sa.Column("author_login", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rex_id"], ["rex.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rex_id", "author_login"),
    )
    with op.batch_alter_table("rex_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rex_account_rex_id"), ["rex_id"], unique=False)
    op.create_table(
        "rex_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rex_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("obligation_id", sa.Integer(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("author_login", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["obligation_id"], ["obligation.id"]),
        sa.ForeignKeyConstraint(["rex_id"], ["rex.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rex_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rex_decision_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_rex_decision_rex_id"), ["rex_id"], unique=False)


def downgrade() -> None:
    for table in ("rex_decision", "rex_account", "rex_link", "rex"):
        op.drop_table(table)
