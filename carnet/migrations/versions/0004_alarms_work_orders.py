"""alarms and work orders; the fault episodes already in the logbook become alarm rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:30:00.000000
"""

import re

import sqlalchemy as sa
from alembic import op

import carnet.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = carnet.models.UTCDateTime(timezone=True)
# "Alarme GW/10/fault_code : défaut 12 (...)" (poller), "... : code 12 (...)" (older imports)
FAULT_CODE = re.compile(r"\b(?:défaut|code)\s+(\d+)")


def upgrade() -> None:
    op.create_table(
        "alarm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("alarm_key", sa.String(length=100), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("device_cleared_at", UTC, nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("intervention_entry_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["logbook_entry.id"]),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"]),
        sa.ForeignKeyConstraint(["intervention_entry_id"], ["logbook_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_alarm_key"), ["alarm_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_building_id"), ["building_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_status"), ["status"], unique=False)

    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("source_entry_id", sa.Integer(), nullable=True),
        sa.Column("obligation_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("intervention_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarm.id"]),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"]),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"]),
        sa.ForeignKeyConstraint(["intervention_entry_id"], ["logbook_entry.id"]),
        sa.ForeignKeyConstraint(["obligation_id"], ["obligation.id"]),
        sa.ForeignKeyConstraint(["source_entry_id"], ["logbook_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_order_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_work_order_building_id"), ["building_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_work_order_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_work_order_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_order_status"), ["status"], unique=False)

    _episodes_become_alarms()


def _episodes_become_alarms() -> None:
    """Each fault episode the poller wrote in the logbook becomes one alarm row linked to its
    entry: open while the entry is open, closed (episode over) once it is done or cancelled."""
    entry = sa.table(
        "logbook_entry",
        sa.column("id", sa.Integer),
        sa.column("building_id", sa.Integer),
        sa.column("equipment_id", sa.Integer),
        sa.column("occurred_at", UTC),
        sa.column("updated_at", UTC),
        sa.column("kind", sa.String),
        sa.column("title", sa.String),
        sa.column("text", sa.Text),
        sa.column("status", sa.String),
        sa.column("source", sa.String),
        sa.column("alarm_key", sa.String),
        sa.column("answer", sa.Text),
    )
    alarm = sa.table(
        "alarm",
        sa.column("building_id", sa.Integer),
        sa.column("equipment_id", sa.Integer),
        sa.column("alarm_key", sa.String),
        sa.column("code", sa.Integer),
        sa.column("label", sa.String),
        sa.column("status", sa.String),
        sa.column("opened_at", UTC),
        sa.column("device_cleared_at", UTC),
        sa.column("entry_id", sa.Integer),
        sa.column("closed_at", UTC),
        sa.column("closed_by", sa.String),
        sa.column("close_note", sa.Text),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(entry)
        .where(entry.c.kind == "alarm", entry.c.source == "poller")
        .order_by(entry.c.id)
    ).mappings()
    values = []
    for e in rows:
        found = FAULT_CODE.search(f"{e['title'] or ''} {e['text'] or ''}")
        over = e["status"] in ("done", "cancelled")
        cleared_by_device = over and "relevé automatique" in (e["answer"] or "")
        values.append(
            {
                "building_id": e["building_id"],
                "equipment_id": e["equipment_id"],
                "alarm_key": e["alarm_key"],
                "code": int(found.group(1)) if found else None,
                "label": (e["title"] or e["text"] or "Alarme")[:200],
                "status": "closed" if over else "open",
                "opened_at": e["occurred_at"],
                "device_cleared_at": e["updated_at"] if over else None,
                "entry_id": e["id"],
                "closed_at": e["updated_at"] if over else None,
                "closed_by": ("poller" if cleared_by_device else "reprise") if over else None,
                "close_note": e["answer"] if over else None,
            }
        )
    if values:
        conn.execute(alarm.insert(), values)


def downgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        for column in ("status", "due_on", "contract_id", "building_id", "alarm_id"):
            batch_op.drop_index(batch_op.f(f"ix_work_order_{column}"))
    op.drop_table("work_order")
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        for column in ("status", "building_id", "alarm_key"):
            batch_op.drop_index(batch_op.f(f"ix_alarm_{column}"))
    op.drop_table("alarm")
