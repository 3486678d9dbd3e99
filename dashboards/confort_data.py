"""What the comfort page shows: one month's comfort figures of the buildings a user sees."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.frames_comfort import comfort_frames
from contract.calendar import month_bounds
from contract.comfort import DEFAULT_MAX_GAP_S
from contract.comfort_report import ComfortReport, comfort_report


def month_comfort(engine: Engine, month: str, building_ids: set[int] | None) -> ComfortReport:
    """`carnet comfort --month` of these buildings (None: all of them)."""
    first, last = month_bounds(month)
    return comfort_report(comfort_frames(engine, first, last, building_ids, DEFAULT_MAX_GAP_S))
