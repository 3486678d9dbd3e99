"""Helpers of the import tests: the sample portfolio, readings read back, UTC instants."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from carnet.db import session_scope
from carnet.portfolio import load_portfolio

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def load_samples(engine: Engine) -> None:
    with session_scope(engine) as session:
        load_portfolio(session, SAMPLES / "portfolio.yaml")


def utc(iso: str) -> int:
    """Epoch seconds of an ISO instant with an offset (written by hand in the tests)."""
    return int(pd.Timestamp(iso).timestamp())


def channel_id(engine: Engine, code: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT id FROM channel WHERE code = :c"), {"c": code}).scalar_one()
        )


def readings(engine: Engine, code: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT r.ts, r.value, r.quality, r.batch_id FROM reading r"
                " JOIN channel c ON c.id = r.channel_id WHERE c.code = :c ORDER BY r.ts"
            ),
            conn,
            params={"c": code},
        )


def daily(engine: Engine, code: str) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            text(
                "SELECT d.day, d.value, d.energy_kwh, d.estimated FROM daily_rollup d"
                " JOIN channel c ON c.id = d.channel_id WHERE c.code = :c ORDER BY d.day"
            ),
            conn,
            params={"c": code},
        )
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame.set_index("day")


def rejected(engine: Engine, batch_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT line_no, raw, reason FROM rejected_row WHERE batch_id = :b ORDER BY line_no"
            ),
            conn,
            params={"b": batch_id},
        )


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def assert_accounted(report) -> None:
    """Every value of a file is in exactly one count: read = inserted + updated + unchanged
    + rejected + quarantined."""
    assert report.rows_read == (
        report.rows_inserted
        + report.rows_updated
        + report.rows_unchanged
        + report.rows_rejected
        + report.rows_quarantined
    )
