"""Data of the comfort page (`/confort`): the month's comfort report of the rooms and
buildings in the user's scope."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from carnet.access import Scope
from contract.comfort_load import load_comfort


def comfort_report(engine: Engine, scope: Scope, first: dt.date, last: dt.date):
    """`contract.comfort_load.load_comfort` of the scope's buildings (None = all)."""
    ids = scope.building_filter
    return load_comfort(engine, first, last, None if ids is None else set(ids))
