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
