"""daily_rollup pages keep room for updated rows (PostgreSQL fillfactor 70)

The poller rewrites today's rollup row of every channel at each flush (10,000 rows a minute
at 500 devices x 20 points). In full pages each new row version goes to another page, and
the primary key gets a new entry per row; with room left in the page the update is a
heap-only tuple (no index entry) and the dead versions are pruned in place. Existing pages
are not rewritten (new ones, such as each new day's, take the setting). SQLite: nothing.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 18:30:00.000000
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_rollup SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_rollup RESET (fillfactor)")
