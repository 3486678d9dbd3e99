"""data version for the page cache; every building holds its QR token from creation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:30:00.000000
"""

import secrets
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO data_version (id, epoch, version) VALUES (1, :epoch, 0)"),
        {"epoch": uuid.uuid4().hex},
    )
    # the building page no longer draws a missing token on a GET: the ones never printed are
    # drawn here (the existing ones, maybe on a wall, are kept)
    bind = op.get_bind()
    ids = bind.execute(sa.text("SELECT id FROM building WHERE qr_token IS NULL")).scalars().all()
    if ids:
        bind.execute(
            sa.text("UPDATE building SET qr_token = :token WHERE id = :id"),
            [{"id": i, "token": secrets.token_urlsafe(12)} for i in ids],
        )


def downgrade() -> None:
    op.drop_table("data_version")
