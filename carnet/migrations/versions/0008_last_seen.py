"""last_seen: when a user last looked at a place of the app (the contractor's landing page)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import carnet.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "last_seen",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=32), nullable=False),
        sa.Column("seen_at", carnet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("user_id", "place"),
    )


def downgrade() -> None:
    op.drop_table("last_seen")
