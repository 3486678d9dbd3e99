"""The demo town built once per test worker and copied into each database that needs it: a
build takes 6-14 s and a dozen modules read the same town (seed 42 as of 25/11/2026, or as of
now for the pages that show the current days), while a copy takes a fraction of a second
(SQLite's backup API; on PostgreSQL a database created from the built one as its template). A
copy is the build's own bytes, so a test that changes its copy changes nothing for the next
one."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass

from sqlalchemy import create_engine, make_url, text

from carnet import db as carnet_db
from carnet import versions

TODAY = dt.date(2026, 11, 25)


@dataclass(frozen=True)
class _Built:
    url: str  # the template database
    summary: dict  # what build_demo returned


_BUILT: dict[tuple[bool, int, dt.date | None], _Built] = {}  # (PostgreSQL, seed, today)
_HOME: list[str] = []  # this worker's directory of SQLite templates


def _base() -> str:
    return os.environ.get("CARNET_TEST_DATABASE_URL", "")


def _admin():
    return create_engine(
        _base().replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def _pg_url(name: str) -> str:
    """The URL of database `name` on the server of CARNET_TEST_DATABASE_URL."""
    return f"{_base().rpartition('/')[0]}/{name}"


def _pg_drop(names) -> None:
    """Drop these databases of the test server, whoever is still connected."""
    admin = _admin()
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _built(postgres: bool, seed: int, today: dt.date | None) -> _Built:
    """The demo built on a template of the kind of database asked for (`today` None: as of
    the first build's time, for pages that show the current days)."""
    from carnet_cli.demo.town import build_demo

    key = (postgres, seed, today)
    if key in _BUILT:
        return _BUILT[key]
    if postgres:
        name = f"carnet_tpl_{uuid.uuid4().hex[:10]}"
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = _pg_url(name)
    else:
        if not _HOME:
            _HOME.append(tempfile.mkdtemp(prefix="carnet-demo-"))
        file = f"demo-{seed}-{today or 'now'}.sqlite"
        url = f"sqlite:///{os.path.join(_HOME[0], file)}"
    engine = carnet_db.make_engine(url)
    try:
        carnet_db.upgrade(engine)
        summary = build_demo(engine, seed=seed, today=today)
    finally:
        engine.dispose()
    _BUILT[key] = _Built(url, summary)
    return _BUILT[key]


def copy_demo(url: str, seed: int = 42, today: dt.date | None = TODAY) -> dict:
    """Replace the database at `url` (a test's own, at the head revision, empty or not there
    yet) with the demo; returns the build's summary. The process's engines are disposed
    first: no connection may stay open on a database being replaced."""
    postgres = url.startswith("postgresql")
    built = _built(postgres, seed, today)
    carnet_db.reset_engines()
    if postgres:
        target, template = make_url(url).database, make_url(built.url).database
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{template}"'))
        admin.dispose()
    else:
        src = sqlite3.connect(make_url(built.url).database)
        dst = sqlite3.connect(make_url(url).database)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    # a new epoch, as a restore draws: two copies changed apart never share a cache key
    engine = carnet_db.make_engine(url)
    try:
        versions.new_epoch(engine)
    finally:
        engine.dispose()
    return copy.deepcopy(built.summary)


def demo_summary(seed: int = 42, today: dt.date = TODAY) -> dict:
    """What `build_demo` returned when it built the demo that `demo_copy` copies."""
    return copy.deepcopy(_built(_base().startswith("postgresql"), seed, today).summary)


@contextlib.contextmanager
def demo_copy(tmp_dir, prefix: str = "carnet_demo", seed: int = 42, today: dt.date = TODAY):
    """Yields the URL of a new database holding the demo, for a module's tests that read it
    as users would: a SQLite file in `tmp_dir`, or a PostgreSQL database of its own (dropped
    afterwards) that other tests' fixtures cannot wipe meanwhile."""
    if _base().startswith("postgresql"):
        url = _pg_url(f"{prefix}_{uuid.uuid4().hex[:10]}")
    else:
        url = f"sqlite:///{os.path.join(tmp_dir, 'demo.sqlite')}"
    try:
        copy_demo(url, seed, today)
        yield url
    finally:
        carnet_db.reset_engines()
        if url.startswith("postgresql"):
            _pg_drop([make_url(url).database])


def drop_templates() -> None:
    """Drop this worker's templates (the end of the session)."""
    pg = [make_url(b.url).database for b in _BUILT.values() if b.url.startswith("postgresql")]
    _BUILT.clear()
    if pg:
        _pg_drop(pg)
    while _HOME:
        shutil.rmtree(_HOME.pop(), ignore_errors=True)
