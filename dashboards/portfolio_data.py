"""Data of the portfolio page (`/portefeuille`): the buildings and channels in the user's
scope with their last reading."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.db import session_scope
from carnet.quantities import quantity_labels
from carnet.queries import portfolio_overview


def portfolio_frame(engine: Engine, scope: Scope) -> pd.DataFrame:
    """`carnet.queries.portfolio_overview` limited to the scope's buildings, each channel with
    its quantity's French label (built-in or declared by the town)."""
    ids = scope.building_filter
    frame = portfolio_overview(engine, building_ids=None if ids is None else sorted(ids))
    with session_scope(engine) as s:
        labels = quantity_labels(s)
    frame["quantity_label"] = frame["quantity"].map(labels).fillna(frame["quantity"])
    return frame
