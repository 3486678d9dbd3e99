"""The demo town on a database of its own (a SQLite file, or a scratch PostgreSQL database
under CARNET_TEST_DATABASE_URL), for a module's tests that read it as users would."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid

from sqlalchemy import create_engine, text

from carnet import db as carnet_db
from tests.helpers.demo_copy import TODAY, demo_copy


@contextlib.contextmanager
def scratch_database(tmp_dir, prefix: str = "carnet_demo"):
    """Yields the URL of an empty database at the head revision: a SQLite file in `tmp_dir`,
    or a scratch PostgreSQL database (dropped afterwards) under CARNET_TEST_DATABASE_URL, so
    that other tests' fixtures cannot wipe it meanwhile."""
    base = os.environ.get("CARNET_TEST_DATABASE_URL", "")
    admin = name = None
    if base.startswith("postgresql"):
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin = create_engine(
            base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{base.rpartition('/')[0]}/{name}"
    else:
        url = f"sqlite:///{tmp_dir / 'demo.sqlite'}"
    engine = carnet_db.make_engine(url)
    carnet_db.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        carnet_db.reset_engines()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@contextlib.contextmanager
def demo_database(tmp_dir, today: dt.date = TODAY):
    """Yields the URL of a database holding the demo (seed 42, as of `today`), a copy of the
    worker's build."""
    with demo_copy(tmp_dir, today=today) as url:
        yield url
