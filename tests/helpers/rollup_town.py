"""Three channels (index, interval, instant) and their rollups compared with a full recompute:
the check that merged day figures are exactly what recomputing the day gives."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from carnet.store import recompute_daily

KINDS = {1: "index", 2: "interval", 3: "instant"}
UNITS = {"index": "m3", "interval": "kWh", "instant": "degC"}
SPRING = int(pd.Timestamp("2025-03-29 20:00", tz="UTC").timestamp())  # 30/03: 23 h
AUTUMN = int(pd.Timestamp("2025-10-25 20:00", tz="UTC").timestamp())  # 26/10: 25 h


def channels(engine, kinds: dict[int, str] = KINDS, clear: bool = True) -> None:
    """Channels `kinds` (id -> kind), a factor on index ones; `clear`: empty the tables first."""
    with engine.begin() as conn:
        for table in ("daily_rollup", "reading", "channel") if clear else ():
            conn.execute(text(f"DELETE FROM {table}"))
        for cid, kind in kinds.items():
            conn.execute(
                text(
                    "INSERT INTO channel (id, code, quantity, kind, unit, kwh_per_unit)"
                    " VALUES (:i, :c, 'q', :k, :u, :f)"
                ),
                {"i": cid, "c": f"C{cid}", "k": kind, "u": UNITS[kind],
                 "f": 10.0 if kind == "index" else None},
            )  # fmt: skip


def import_readings(
    engine, tmp_path, frame: pd.DataFrame, name: str, chunk_lines: int | None = None
) -> None:
    """`frame` (channel_id, ts, value) from a CSV file of channel codes: another writer's
    commit, with its own rollups (read `chunk_lines` at a time, when given)."""
    from ingest.importer import CHUNK_LINES, import_file

    path = tmp_path / f"{name}.csv"
    pd.DataFrame(
        {
            "channel": [f"C{c}" for c in frame["channel_id"]],
            "timestamp": pd.to_datetime(frame["ts"], unit="s", utc=True).dt.strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "value": frame["value"],
        }
    ).to_csv(path, index=False)
    report = import_file(engine, path, chunk_lines=chunk_lines or CHUNK_LINES)
    assert report.rows_inserted == len(frame), report.as_dict()


def rollups(engine) -> pd.DataFrame:
    """The rollup figures (not the rebuild marker, which says who wrote them, not what)."""
    frame = pd.read_sql_query(text("SELECT * FROM daily_rollup ORDER BY channel_id, day"), engine)
    frame = frame.drop(columns=["rebuilt_version"], errors="ignore")
    return frame.assign(day=pd.to_datetime(frame["day"]).dt.date)


def full_recompute(engine) -> pd.DataFrame:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM daily_rollup"))
        spans = conn.execute(
            text("SELECT channel_id, MIN(ts), MAX(ts) FROM reading GROUP BY channel_id")
        ).all()
        recompute_daily(conn, [(int(c), int(a), int(b)) for c, a, b in spans])
    return rollups(engine)
