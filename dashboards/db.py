"""The database of the app serving the current request. Pages and callbacks reach it through
here, never through a module-level engine, so that several apps (tests) can live in one process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet.db import session_scope

ENGINE_KEY = "CARNET_ENGINE"


def engine() -> Engine:
    return flask.current_app.config[ENGINE_KEY]


@contextmanager
def session() -> Iterator[Session]:
    """A transaction on the app's database: committed on success, rolled back on error."""
    with session_scope(engine()) as s:
        yield s
