"""The devices' health rows a flush writes: inserted the first time, updated in one statement
after (on PostgreSQL from array literals built by the writer), every field exactly as the
snapshot says (instants to the microsecond, error texts with quotes, backslashes, braces and
commas), a contact never forgotten. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import DeviceStatus
from ingest.modbus.writer import DeviceSnapshot, _save_status

T0 = dt.datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=dt.UTC)
NASTY = 'délai dépassé {GW "2"}, a\\b, NULL'


def _snap(unit: int, contact, error=None, error_at=None, failures=0, model="chaudiere-x"):
    return DeviceSnapshot("GW-1", unit, model, None, None, contact, error, error_at, failures)


def _rows(engine) -> dict[int, tuple]:
    with Session(engine) as session:
        rows = session.execute(select(DeviceStatus).order_by(DeviceStatus.unit)).scalars()
        return {
            r.unit: (r.model, r.last_contact_at, r.last_error, r.last_error_at,
                     r.consecutive_failures)
            for r in rows
        }  # fmt: skip


def test_health_rows_insert_then_update_exactly(engine):
    with engine.begin() as conn:
        _save_status(conn, [_snap(1, T0), _snap(2, T0), _snap(3, None)])
    later = T0 + dt.timedelta(minutes=1, microseconds=1)
    with engine.begin() as conn:
        _save_status(
            conn,
            [
                _snap(1, later),
                _snap(2, None, NASTY, later, failures=3, model='modèle "β"'),
                _snap(3, None),
                _snap(4, later),  # a new device among known ones
            ],
        )
    rows = _rows(engine)
    assert rows[1] == ("chaudiere-x", later, None, None, 0)
    assert rows[2] == ('modèle "β"', T0, NASTY, later, 3)  # the contact is kept
    assert rows[3] == ("chaudiere-x", None, None, None, 0)
    assert rows[4] == ("chaudiere-x", later, None, None, 0)
