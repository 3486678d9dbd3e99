"""Writers beside a long import (issue 17): an import holds its file's transaction open (all or
nothing), and a logbook entry or a booking written meanwhile waits its turn instead of failing
with "database is locked"; nothing is lost on either side. Concurrent first views of the
heating schedule upsert their row without a primary-key error. Real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from carnet import bookings as bk
from carnet import db as carnet_db
from carnet import heating_schedule as hs
from carnet import last_seen as ls
from carnet.bookings import Actor
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import Booking, LogbookEntry, ScheduleView, User
from ingest.importer import import_file
from tests.helpers.ingest_support import count, load_samples

CODES = ("MAIRIE-CONSEIL-T", "JAURES-DEPART-T", "JAURES-RETOUR-T", "LESQUIN-T")
CHUNK = 2_000
MANAGER = Actor("gest", "manager")


def _write(path: Path, per_channel: int) -> int:
    stamps = pd.date_range("2023-01-01", periods=per_channel, freq="10min", tz="UTC")
    values = np.round(np.random.default_rng(5).normal(20.0, 1.0, per_channel * len(CODES)), 2)
    pd.DataFrame(
        {
            "channel": np.repeat(CODES, per_channel),
            "timestamp": np.tile(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), len(CODES)),
            "value": values,
        }
    ).to_csv(path, index=False)
    return per_channel * len(CODES)


def _writes(engine, n: int, base: dt.datetime) -> None:
    """`n` logbook entries and `n` bookings, each in its own short transaction (as pages do)."""
    for i in range(n):
        with session_scope(engine) as s:
            add_entry(s, MANAGER, "MAIRIE", "observation", f"observation {i} pendant l'import")
        with session_scope(engine) as s:
            start = base + dt.timedelta(days=i)
            bk.create_booking(
                s, MANAGER, "MAIRIE-CONSEIL", f"Réunion {i}", start, start + dt.timedelta(hours=2)
            )


def _import_beside_writers(engine, path: Path, n_writes: int):
    """Import `path` while another thread writes; the writer starts once the import's
    transaction has written its first chunk, and the import goes on only once the writer is
    inside its first write (so the two really overlap)."""
    in_import, writer_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    base = dt.datetime(2031, 3, 3, 9, tzinfo=dt.UTC)

    def writer() -> None:
        in_import.wait(60)
        writer_started.set()
        try:
            _writes(engine, n_writes, base)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def progress(done: int, total: int) -> None:
        if not in_import.is_set():
            in_import.set()
            writer_started.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    report = import_file(engine, path, chunk_lines=CHUNK, progress=progress)
    thread.join(120)
    return report, errors


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def test_a_long_import_makes_other_writers_wait_not_fail(town, tmp_path):
    path = tmp_path / "releves.csv"
    n = _write(path, 5 * CHUNK)
    report, errors = _import_beside_writers(town, path, 5)
    assert errors == []
    assert report.status == "ok"
    assert report.rows_inserted == n
    assert count(town, "reading") == n
    with session_scope(town) as s:
        notes = s.scalar(
            select(func.count()).where(LogbookEntry.text.like("observation % pendant l'import"))
        )
        booked = s.scalar(select(func.count()).where(Booking.title.like("Réunion %")))
    assert (notes, booked) == (5, 5)


def test_without_the_wait_the_same_overlap_fails_on_sqlite(db_url, tmp_path, monkeypatch):
    """The contention above is real: with a writer that does not wait, SQLite refuses it."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL locks rows, not the database")
    monkeypatch.setenv("CARNET_SQLITE_WRITE_WAIT_S", "0.01")
    carnet_db.reset_engines()
    impatient = carnet_db.make_engine(db_url)
    carnet_db.upgrade(impatient)
    load_samples(impatient)
    path = tmp_path / "releves.csv"
    _write(path, 3 * CHUNK)
    report, errors = _import_beside_writers(impatient, path, 1)
    impatient.dispose()
    assert report.status == "ok"
    assert len(errors) == 1 and isinstance(errors[0], OperationalError)
    assert "locked" in str(errors[0])


def test_concurrent_first_views_of_the_schedule_all_succeed(engine):
    with session_scope(engine) as s:
        users = [User(login=f"exploit{i}", name=f"E{i}", role="manager") for i in range(3)]
        s.add_all(users)
        s.flush()
        ids = [u.id for u in users]
    barrier = threading.Barrier(8 * len(ids))
    now = dt.datetime(2031, 1, 6, 8, tzinfo=dt.UTC)

    def first_view(args):
        user_id, k = args
        barrier.wait(30)
        with session_scope(engine) as s:
            hs.record_view(s, user_id, now + dt.timedelta(seconds=k))
            ls.record_seen(s, user_id, ls.LANDING, now + dt.timedelta(seconds=k))
        return user_id

    jobs = [(u, k) for u in ids for k in range(8)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        done = list(pool.map(first_view, jobs))
    assert sorted(done) == sorted(u for u, _ in jobs)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ScheduleView)) == len(ids)
        for user_id in ids:
            seen = hs.last_seen(s, user_id)
            assert now <= seen <= now + dt.timedelta(seconds=7)
            assert ls.last_seen(s, user_id, ls.LANDING) is not None
