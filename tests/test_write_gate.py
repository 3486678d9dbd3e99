"""The server's writes go through one gate on SQLite (`carnet.write_gate`): page writes whose
transactions overlap, and a long import in the same process, are served one after the other in
arrival order, with no "database is locked" even when SQLite's own busy wait is far shorter
than the queue; without the gate the same burst fails. Real SQLite, real threads."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from carnet import db as carnet_db
from carnet import write_gate
from carnet.bookings import Actor
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import LogbookEntry
from ingest.importer import import_file
from tests.helpers.ingest_support import count, load_samples

MANAGER = Actor("gest", "manager")
WRITERS, EACH = 8, 3


@pytest.fixture
def impatient(db_url, monkeypatch):
    """An engine whose SQLite busy wait is 50 ms: two overlapping writers collide at once."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL locks rows")
    monkeypatch.setenv("CARNET_SQLITE_WRITE_WAIT_S", "0.05")
    carnet_db.reset_engines()
    engine = carnet_db.make_engine(db_url)
    carnet_db.upgrade(engine)
    load_samples(engine)
    yield engine
    engine.dispose()


def _burst(engine) -> list[BaseException]:
    """WRITERS threads at once, each writing EACH logbook entries in transactions that go on
    for 0.1 s after their first write (a page doing its work)."""
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        barrier.wait(30)
        for i in range(EACH):
            try:
                with session_scope(engine) as s:
                    add_entry(s, MANAGER, "MAIRIE", "observation", f"note {k}-{i}")
                    s.flush()
                    time.sleep(0.1)
            except Exception as exc:  # noqa: BLE001 - counted by the test
                errors.append(exc)

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    return errors


def _notes(engine) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).where(LogbookEntry.text.like("note %")))


def test_without_the_gate_overlapping_page_writes_fail(impatient):
    errors = _burst(impatient)
    assert errors and all(isinstance(e, OperationalError) for e in errors)
    assert "locked" in str(errors[0])
    assert _notes(impatient) == WRITERS * EACH - len(errors)


def test_through_the_gate_they_wait_their_turn_and_none_is_lost(impatient):
    gate = write_gate.install(impatient, wait_s=60)
    errors = _burst(impatient)
    assert errors == []
    assert _notes(impatient) == WRITERS * EACH
    assert gate.granted >= WRITERS * EACH and gate.max_waiting >= WRITERS - 2


def test_page_writes_beside_a_long_import_in_the_same_process(impatient, tmp_path):
    """The import holds its file's transaction (and the gate); the page writes queue behind it
    and all go in; the import loses nothing either."""
    gate = write_gate.install(impatient, wait_s=120)
    per_channel = 20_000
    stamps = pd.date_range("2023-01-01", periods=per_channel, freq="10min", tz="UTC")
    path = tmp_path / "releves.csv"
    pd.DataFrame(
        {
            "channel": "MAIRIE-CONSEIL-T",
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": np.round(np.random.default_rng(3).normal(20, 1, per_channel), 2),
        }
    ).to_csv(path, index=False)
    started = threading.Event()

    def progress(done: int, total: int) -> None:
        started.set()
        time.sleep(0.05)  # the import's transaction stays open a while

    errors: list[BaseException] = []

    def pages() -> None:
        started.wait(60)
        errors.extend(_burst(impatient))

    thread = threading.Thread(target=pages)
    thread.start()
    t0 = dt.datetime.now()
    report = import_file(impatient, path, chunk_lines=2_000, progress=progress)
    thread.join(120)
    assert (dt.datetime.now() - t0).total_seconds() < 120
    assert errors == []
    assert report.status == "ok" and report.rows_inserted == per_channel
    assert count(impatient, "reading") == per_channel
    assert _notes(impatient) == WRITERS * EACH
    assert gate.granted >= WRITERS * EACH + 1
