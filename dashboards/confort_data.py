"""What the comfort page shows: one month's comfort figures of the buildings a user sees, the
month it opens on (the last complete one) and whether the month shown is final."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.frames import rollup_span
from carnet.frames_comfort import comfort_frames
from carnet.queries import channels_frame
from contract.calendar import month_bounds
from contract.calendar import today as local_today
from contract.comfort import DEFAULT_MAX_GAP_S
from contract.comfort_report import ComfortReport, comfort_report
from contract.default_periods import PeriodStatus, last_complete_month, month_status

INDOOR = "temp_indoor_c"


def month_comfort(engine: Engine, scope: Scope, month: str) -> ComfortReport:
    """`carnet comfort --month` of the scope's buildings."""
    first, last = month_bounds(month)
    ids = scope.building_filter
    frames = comfort_frames(
        engine, first, last, None if ids is None else set(ids), DEFAULT_MAX_GAP_S
    )
    return comfort_report(frames)


def month_choices(today: dt.date | None = None, n: int = 13) -> tuple[list[str], str]:
    """The current month and the 12 before it (latest first), and the one to open on: the last
    complete month, never the current month one day old."""
    today = today or local_today()
    current = pd.Period(today, "M")
    months = [(current - i).strftime("%Y-%m") for i in range(n)]
    return months, last_complete_month(today)


def comfort_status(
    engine: Engine, scope: Scope, month: str, today: dt.date | None = None
) -> PeriodStatus:
    """« provisoire » for the month in progress, or when the indoor sensors of the scope's
    buildings stop before the month's end (« relevés manquants après le 28/11 »)."""
    today = today or local_today()
    chans = channels_frame(engine)
    chans = chans[chans["quantity"] == INDOOR]
    ids = scope.building_filter
    if ids is not None:
        chans = chans[chans["building_id"].isin(ids)]
    span = rollup_span(engine, chans["id"].tolist())
    return month_status(month, today, span[1] if span else None)
