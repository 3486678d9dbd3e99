"""A two-building town whose last finished heating season has two complete months of data:
what the closing and finance-export browser tests sign and download."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from carnet.timeutil import TZ_NAME
from tests.helpers.browser import CONTRACT_CODE
from tests.helpers.savings_town import TownBuilding, make_town


def _season_start_year() -> int:
    """The last heating season that is over (its months are complete whatever today is)."""
    today = pd.Timestamp.now(tz=TZ_NAME).date()
    return (today.year if today.month >= 10 else today.year - 1) - 1


def seed(engine) -> tuple[str, str]:
    year = _season_start_year()
    buildings = [
        TownBuilding("ECOLE-A", "École A", 3.0, CONTRACT_CODE, 60.0),
        TownBuilding("MAIRIE-A", "Mairie A", 2.0, CONTRACT_CODE, 40.0),
    ]
    make_town(engine, buildings, dt.date(year, 10, 1), dt.date(year, 11, 30),
              dt.date(year - 1, 7, 1), dt.date(year, 10, 1))  # fmt: skip
    return f"{year}-10", f"{year}-{year + 1}"
