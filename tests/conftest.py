"""Shared fixtures: a fresh, migrated database per test on SQLite, or on PostgreSQL when
`CARNET_TEST_DATABASE_URL` points at a server (one scratch database per test worker); the app
served on it and a headless browser. Helpers that tests import are in `tests/helpers/`."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from carnet import db as carnet_db
from tests.helpers.browser import LiveApp, browser_session, seed_users

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


@pytest.fixture(scope="session", autouse=True)
def _own_home(tmp_path_factory):
    """A home of this worker's own for the tests that set none (`db_url` sets one per test):
    never the checkout's `var/`, which two workers, or a developer's running demo, share."""
    with pytest.MonkeyPatch.context() as mp:
        if "CARNET_HOME" not in os.environ:
            mp.setenv("CARNET_HOME", str(tmp_path_factory.mktemp("home")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _demo_templates():
    """The demo towns this worker built once for its copies (`tests/helpers/demo_copy.py`),
    dropped at the end of the session."""
    from tests.helpers.demo_copy import drop_templates

    yield
    drop_templates()


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


@pytest.fixture
def contract_town(engine):
    """The small contract town of the settlement tests (`tests/helpers/contract_town.py`): its
    channel ids and, per day, the degree days, gas and hot water it was written with."""
    from tests.helpers.contract_town import make_town

    return make_town(engine)


@pytest.fixture
def app(db_url):
    """The Dash app on the test database holding the seeded town and one user per role (a
    module that needs another town defines its own `app`)."""
    from dashboards.app import create_app
    from tests.helpers.seed import seed_town

    engine = carnet_db.get_engine(db_url)
    seed_users(engine)
    seed_town(engine)
    return create_app(db_url)


@pytest.fixture
def live_app(db_url):
    """The app on the test database (`db_url`), served by waitress in a background thread on a
    free loopback port, with one user per role. Seed data through `live_app.engine`."""
    from dashboards.app import create_app
    from dashboards.server import BackgroundServer

    engine = carnet_db.get_engine(db_url)
    user_ids = seed_users(engine)
    app = create_app(db_url)
    server = BackgroundServer(app.server)
    live = LiveApp(url=server.url, database_url=db_url, engine=engine, dash=app, user_ids=user_ids)
    try:
        yield live
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, one per test module (sign in again in each test)."""
    with browser_session() as driver:
        yield driver
