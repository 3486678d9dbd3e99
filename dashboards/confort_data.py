"""What the comfort page shows: one month's comfort figures of the buildings a user sees."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import Scope
from carnet.frames_comfort import comfort_frames
from contract.calendar import month_bounds
from contract.comfort import DEFAULT_MAX_GAP_S
from contract.comfort_report import ComfortReport, comfort_report


def month_comfort(engine: Engine, scope: Scope, month: str) -> ComfortReport:
    """`carnet comfort --month` of the scope's buildings."""
    first, last = month_bounds(month)
    ids = scope.building_filter
    frames = comfort_frames(
        engine, first, last, None if ids is None else set(ids), DEFAULT_MAX_GAP_S
    )
    return comfort_report(frames)
