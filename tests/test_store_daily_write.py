"""Rollup rows written as the driver-side literals of `carnet.store._write_daily` (multi-row
VALUES on SQLite, a binary COPY on PostgreSQL): NaN lands as SQL NULL, floats come back bit
for bit, days and flags as given, and a second write of the same keys replaces the first."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from carnet.increments import DAILY_COLUMNS
from carnet.store import upsert_daily


def _channels(engine, n: int) -> None:
    with engine.begin() as conn:
        for i in range(1, n + 1):
            conn.execute(
                text("INSERT INTO channel (id, code, quantity, kind, unit) VALUES (:i, :c, 'q',"
                     " 'instant', 'degC')"), {"i": i, "c": f"C{i}"},
            )  # fmt: skip


def _rows(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n channels x 2 days (more than one 500-row statement), a NaN in every float column."""
    frame = pd.DataFrame(
        {
            "channel_id": np.repeat(np.arange(1, n + 1), 2),
            "day": np.tile(np.array(["2025-12-01", "2025-12-02"], dtype="datetime64[D]"), n),
        }
    )
    for c in DAILY_COLUMNS[2:]:
        if c == "n_readings":
            frame[c] = rng.integers(0, 1440, len(frame))
        elif c == "estimated":
            frame[c] = rng.random(len(frame)) < 0.3
        else:
            values = rng.normal(0, 1e3, len(frame)) / 3
            values[rng.random(len(frame)) < 0.1] = np.nan
            frame[c] = values
    return frame[DAILY_COLUMNS]


def _stored(engine) -> pd.DataFrame:
    cols = ", ".join(DAILY_COLUMNS)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {cols} FROM daily_rollup ORDER BY channel_id, day"))
        return pd.DataFrame(rows.all(), columns=DAILY_COLUMNS)


def test_rollup_rows_round_trip_with_nulls(engine):
    rng = np.random.default_rng(7)
    _channels(engine, 600)
    for _ in range(2):  # the second write replaces every row (ON CONFLICT DO UPDATE)
        rows = _rows(600, rng)
        with engine.begin() as conn:
            upsert_daily(conn, rows)
    got = _stored(engine)
    assert len(got) == len(rows) == 1200
    for c in DAILY_COLUMNS[2:]:
        if c in ("n_readings", "estimated"):
            assert got[c].astype(rows[c].dtype).tolist() == rows[c].tolist(), c
            continue
        nan = rows[c].isna().to_numpy()
        assert nan.any() and got[c].isna().to_numpy().tolist() == nan.tolist(), c
        assert got[c].to_numpy(dtype=float)[~nan].tolist() == rows[c].to_numpy()[~nan].tolist()
    days = pd.to_datetime(got["day"].astype(str)).dt.strftime("%Y-%m-%d")
    assert days.tolist() == rows["day"].astype(str).str[:10].tolist()
    with engine.connect() as conn:  # NULL, not a NaN float
        nulls = conn.execute(text("SELECT COUNT(*) FROM daily_rollup WHERE value IS NULL"))
        assert nulls.scalar_one() == int(rows["value"].isna().sum())
