"""Where Carnet keeps its runtime state: `CARNET_HOME` (default ./var) and the database URL."""

from __future__ import annotations

import os
from pathlib import Path


def carnet_home() -> Path:
    home = Path(os.environ.get("CARNET_HOME", "var")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    url = os.environ.get("CARNET_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{carnet_home() / 'carnet.sqlite'}"


def attachments_dir() -> Path:
    path = carnet_home() / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The shipped `data/` folder (sample files, register maps, demo portfolio)."""
    here = Path(__file__).resolve().parent.parent / "data"
    return Path(os.environ.get("CARNET_DATA_DIR", str(here)))


SQLITE_WRITE_WAIT_S = 600.0


def sqlite_write_wait_s() -> float:
    """How long a SQLite writer waits for another's transaction (`CARNET_SQLITE_WRITE_WAIT_S`).

    An import writes a file in one transaction (all or nothing, see `ingest.importer`): a page
    or logbook write meanwhile waits its turn rather than failing with "database is locked"."""
    raw = os.environ.get("CARNET_SQLITE_WRITE_WAIT_S")
    return float(raw) if raw else SQLITE_WRITE_WAIT_S
