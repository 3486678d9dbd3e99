"""`reading` by month on PostgreSQL (migration 0011): partitions made ahead and by the writer,
the key (channel_id, ts) enforced across them, the channel checked once per batch instead of a
per-row foreign key, existing rows carried over; SQLite keeps its one table and foreign key."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from carnet import db, partitions
from carnet.store import upsert_readings, write_readings


def _channel(engine, cid: int = 1) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channel (id, code, quantity, kind, unit)"
                " VALUES (:i, :c, 'q', 'instant', 'degC')"
            ),
            {"i": cid, "c": f"T{cid}"},
        )


def _hours(day: str, n: int, cid: int = 1) -> pd.DataFrame:
    ts = int(pd.Timestamp(day, tz="UTC").timestamp()) + 3600 * np.arange(n)
    return pd.DataFrame({"channel_id": cid, "ts": ts, "value": 20.0 + np.arange(n)})


def _where(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, COUNT(*) FROM reading GROUP BY 1")
        ).all()
    return {name: int(n) for name, n in rows}


def test_sqlite_keeps_one_table_and_its_foreign_key(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert not partitions.is_partitioned(conn)
        for table in ("reading", "daily_rollup"):
            fks = conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})").fetchall()
            assert [(f[2], f[3], f[4]) for f in fks] == [("channel", "channel_id", "id")], table
    _channel(engine)
    assert write_readings(engine, _hours("2019-02-27", 72)).inserted == 72


def _foreign_keys(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT COUNT(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"
                 " AND contype = 'f'"), {"t": table}
        ).scalar()  # fmt: skip


@pytest.fixture
def pg(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    return engine


def test_upgrade_makes_the_coming_months_and_no_foreign_key(pg):
    with pg.connect() as conn:
        assert partitions.is_partitioned(conn)
        have = partitions.existing(conn)
    month = dt.datetime.now(dt.UTC).date().replace(day=1)
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert partitions.month_name(month) in have
        month = partitions._next(month)
    assert partitions.DEFAULT in have
    assert _foreign_keys(pg, "reading") == 0


def test_rollups_have_no_per_row_foreign_key_and_0019_goes_both_ways(pg):
    """0019 drops the key (a merge of a day's first rows paid a check per row), its downgrade
    puts it back, and the rollups of a batch are still written for known channels only."""
    assert _foreign_keys(pg, "daily_rollup") == 0
    db.downgrade(pg, "0018")
    assert _foreign_keys(pg, "daily_rollup") == 1
    db.upgrade(pg)
    assert _foreign_keys(pg, "daily_rollup") == 0
    _channel(pg)
    assert write_readings(pg, _hours("2024-01-01", 30)).inserted == 30
    with pg.connect() as conn:
        days = conn.execute(text("SELECT channel_id, COUNT(*) FROM daily_rollup GROUP BY 1"))
        assert days.all() == [(1, 2)]
    with pytest.raises(partitions.UnknownChannel):  # refused before any row or rollup
        write_readings(pg, _hours("2024-01-03", 3, cid=98))
    with pg.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM daily_rollup")).scalar() == 2


def test_the_writer_makes_the_months_a_batch_reaches(pg):
    _channel(pg)
    counts = write_readings(pg, _hours("2019-02-27", 72))  # 27/02 to 01/03
    assert counts.inserted == 72
    assert _where(pg) == {"reading_y2019m02": 48, "reading_y2019m03": 24}
    again = write_readings(pg, _hours("2019-02-27", 72).assign(value=1.0))
    assert (again.inserted, again.updated) == (0, 72)
    with pytest.raises(IntegrityError), pg.begin() as conn:  # the key holds on the parent
        ts = int(pd.Timestamp("2019-03-01 05:00", tz="UTC").timestamp())
        conn.execute(text("INSERT INTO reading (channel_id, ts, value, quality)"
                          " VALUES (1, :t, 1.0, 0)"), {"t": ts})  # fmt: skip


def test_rows_in_the_default_partition_move_into_their_month(pg):
    _channel(pg)
    ts = int(pd.Timestamp("2018-06-10", tz="UTC").timestamp())
    with pg.begin() as conn:  # a path that does not go through the store
        conn.execute(text("INSERT INTO reading (channel_id, ts, value, quality)"
                          " VALUES (1, :t, 5.0, 0)"), {"t": ts})  # fmt: skip
    assert _where(pg) == {partitions.DEFAULT: 1}
    assert write_readings(pg, _hours("2018-06-11", 3)).inserted == 3
    assert _where(pg) == {"reading_y2018m06": 4}


def test_an_unknown_channel_is_refused_once_per_batch(pg):
    _channel(pg)
    frame = pd.concat([_hours("2024-01-01", 3), _hours("2024-01-01", 3, cid=99)])
    with pytest.raises(partitions.UnknownChannel, match="99"):
        write_readings(pg, frame)
    assert _where(pg) == {}


def test_existing_readings_move_into_the_partitions(pg):
    db.downgrade(pg, "0009")
    with pg.connect() as conn:
        assert not partitions.is_partitioned(conn)
    _channel(pg)
    rows = pd.concat([_hours("2017-12-31", 48), _hours("2021-07-01", 5)])
    with pg.begin() as conn:  # plain rows: the store writes the schema of the head
        conn.execute(
            text("INSERT INTO reading (channel_id, ts, value, quality) VALUES (:c, :t, :v, 0)"),
            [
                {"c": 1, "t": int(t), "v": float(v)}
                for t, v in zip(rows["ts"], rows["value"], strict=True)
            ],
        )
    db.upgrade(pg)
    assert _where(pg) == {"reading_y2017m12": 24, "reading_y2018m01": 24, "reading_y2021m07": 5}
    with pg.connect() as conn:
        names = partitions.existing(conn)
    assert {"reading_y2019m05", "reading_y2024m02"} <= names  # every month in between
    db.downgrade(pg, "0009")
    assert _where(pg) == {"reading": 53}
    db.upgrade(pg)


def _catalogue_statements(engine, run) -> list[str]:
    """The statements on the partitions catalogue and on `channel` that `run()` issues."""
    seen: list[str] = []

    def spy(conn, cursor, statement, *args):
        if "pg_partitioned_table" in statement or "pg_inherits" in statement:
            seen.append("catalogue")
        elif statement.startswith("SELECT id FROM channel"):
            seen.append("channels")

    event.listen(engine, "before_cursor_execute", spy)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    return seen


def test_a_batch_in_chunks_asks_the_catalogue_once_per_transaction(pg):
    _channel(pg)
    _channel(pg, 2)
    chunks = [_hours("2019-02-27", 24), _hours("2019-02-28", 24), _hours("2019-02-28", 24, cid=2)]

    def one_transaction():
        with pg.begin() as conn:
            for chunk in chunks:
                upsert_readings(conn, chunk, refresh=False)

    seen = _catalogue_statements(pg, one_transaction)
    # the first chunk: partitioned? which months exist? (again under the lock, then it makes
    # February); the others: nothing. Each channel is checked once.
    assert seen.count("catalogue") == 3
    assert seen.count("channels") == 2
    assert _where(pg) == {"reading_y2019m02": 72}
    # a new transaction asks again: what it learnt is not kept past its end
    again = _catalogue_statements(pg, lambda: write_readings(pg, _hours("2019-02-26", 2)))
    assert again.count("catalogue") == 2 and again.count("channels") == 1


def test_the_migration_makes_the_coming_months_in_its_own_transaction(pg):
    """0011 asks whether `reading` is partitioned before converting it, in the transaction
    that converts it: the months ahead are made by the migration itself, not only by the
    `ensure_ahead` that `db.upgrade` runs after it."""
    db.downgrade(pg, "0009")
    db._migrate(pg, "upgrade", "head")
    with pg.connect() as conn:
        have = partitions.existing(conn)
    month = dt.datetime.now(dt.UTC).date().replace(day=1)
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert partitions.month_name(month) in have
        month = partitions._next(month)
