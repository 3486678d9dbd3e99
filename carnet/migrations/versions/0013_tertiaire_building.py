"""Décret tertiaire facts of a building: its declared reference year and OPERAT activity

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("building") as batch:
        batch.add_column(sa.Column("tertiaire_reference_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tertiaire_activity", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("building") as batch:
        batch.drop_column("tertiaire_activity")
        batch.drop_column("tertiaire_reference_year")
