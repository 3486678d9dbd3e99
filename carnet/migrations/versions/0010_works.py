"""works programme (projects and their subsidies) and the users' screen of a building

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import carnet.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "works_project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("cost_cents", sa.Integer(), nullable=False),
        sa.Column("expected_mwh_per_year", sa.Float(), nullable=True),
        sa.Column("expected_pct", sa.Float(), nullable=True),
        sa.Column("expected_source", sa.String(length=200), nullable=True),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.Column("author_login", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["adjustment_id"], ["adjustment.id"]),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("works_project", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_works_project_building_id"), ["building_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_works_project_starts_on"), ["starts_on"], unique=False)
    op.create_table(
        "works_subsidy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("works_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["works_id"], ["works_project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("works_subsidy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_works_subsidy_works_id"), ["works_id"], unique=False)
    op.create_table(
        "building_display",
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("tips", sa.Text(), nullable=True),
        sa.Column("updated_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.PrimaryKeyConstraint("building_id"),
        sa.UniqueConstraint("token"),
    )


def downgrade() -> None:
    for table in ("building_display", "works_subsidy", "works_project"):
        op.drop_table(table)
