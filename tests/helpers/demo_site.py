"""The demo town built and served for browser tests that need a realistic town (wide tables,
long names, every page filled) as of now: a copy of the worker's build on its own SQLite file,
signed in with the demo's own accounts."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tests.helpers.demo_copy import copy_demo

# the demo's login of each role
DEMO_LOGINS = {
    "manager": "gestionnaire",
    "contractor": "exploitant",
    "finance": "finances",
    "programmer": "culture",
    "agent": "agent",
}


@dataclass
class DemoSite:
    url: str  # ends with "/"
    engine: Engine
    passwords: dict[str, str]  # login -> password

    def page(self, path: str) -> str:
        return self.url.rstrip("/") + path


@contextlib.contextmanager
def served_demo(home: Path):
    """The demo town in `home` (CARNET_HOME for the duration), served on a free port."""
    from carnet import db as carnet_db
    from carnet_cli.demo.scenario import demo_passwords, load_demo_portfolio
    from dashboards.app import create_app
    from dashboards.server import BackgroundServer

    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'carnet.sqlite'}"
    saved = {k: os.environ.get(k) for k in ("CARNET_HOME", "CARNET_DATABASE_URL")}
    os.environ["CARNET_HOME"], os.environ["CARNET_DATABASE_URL"] = str(home), url
    carnet_db.reset_engines()
    server = None
    try:
        copy_demo(url, today=None)
        engine = carnet_db.get_engine(url)
        server = BackgroundServer(create_app(url).server)
        yield DemoSite(server.url, engine, demo_passwords(load_demo_portfolio()))
    finally:
        if server is not None:
            server.stop()
        carnet_db.reset_engines()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
