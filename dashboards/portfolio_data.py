"""Data of the portfolio page (`/portefeuille`): the buildings and channels in the user's
scope with their last reading."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.queries import portfolio_overview


def portfolio_frame(engine: Engine, scope: Scope) -> pd.DataFrame:
    """`carnet.queries.portfolio_overview` limited to the scope's buildings."""
    ids = scope.building_filter
    return portfolio_overview(engine, building_ids=None if ids is None else sorted(ids))
