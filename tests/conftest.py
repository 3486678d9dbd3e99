"""Shared fixtures: a fresh, migrated database per test on SQLite, or on PostgreSQL when
`CARNET_TEST_DATABASE_URL` points at a server (one scratch database per test worker)."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from carnet import db as carnet_db

pytest_plugins = ["tests.browser"]


# CI replays the same examples on every run (a failure there is reproducible, never a draw of
# luck); locally hypothesis explores new ones and keeps the failures it finds.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def pg_scratch_url():
    """A scratch PostgreSQL database for this worker, dropped at the end of the session."""
    base = os.environ.get("CARNET_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield None
        return
    name = f"carnet_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_admin_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    head, _, _ = base.rpartition("/")
    yield f"{head}/{name}"
    carnet_db.reset_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wipe_postgres(url: str) -> None:
    engine = create_engine(_pg_admin_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def db_url(tmp_path, monkeypatch, pg_scratch_url):
    """URL of an empty database; CARNET_HOME and CARNET_DATABASE_URL point at it."""
    monkeypatch.setenv("CARNET_HOME", str(tmp_path / "home"))
    if pg_scratch_url:
        _wipe_postgres(pg_scratch_url)
        url = pg_scratch_url
    else:
        url = f"sqlite:///{tmp_path / 'carnet.sqlite'}"
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    carnet_db.reset_engines()
    yield url
    carnet_db.reset_engines()


@pytest.fixture
def engine(db_url):
    """A migrated engine on the test database."""
    return carnet_db.get_engine(db_url)
