"""Modbus gateways and their devices in the record (were in the poller's site file only)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "modbus_gateway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("port", sa.String(length=200), nullable=True),
        sa.Column("framer", sa.String(length=8), nullable=True),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("baudrate", sa.Integer(), nullable=True),
        sa.Column("parity", sa.String(length=1), nullable=True),
        sa.Column("stopbits", sa.SmallInteger(), nullable=True),
        sa.Column("bytesize", sa.SmallInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "modbus_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("map", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("poll_s", sa.Float(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["equipment_id"], ["equipment.id"]),
        sa.ForeignKeyConstraint(["gateway_id"], ["modbus_gateway.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gateway_id", "unit"),
    )
    op.create_index("ix_modbus_device_gateway_id", "modbus_device", ["gateway_id"])


def downgrade() -> None:
    op.drop_index("ix_modbus_device_gateway_id", table_name="modbus_device")
    op.drop_table("modbus_device")
    op.drop_table("modbus_gateway")
