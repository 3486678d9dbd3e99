"""Data of the obligations page (`/obligations`): the obligations in the user's scope as
records, and the derivation of the missing ones from the equipment."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import ActorLike
from carnet.db import session_scope
from carnet.obligations import apply_templates_in_scope, obligations_frame


def obligation_rows(engine: Engine, user: ActorLike, show_all: bool) -> list[dict]:
    """The overdue obligations, latest first, then those « à renseigner » (or all of them),
    as JSON-ready records."""
    with session_scope(engine) as s:
        frame = obligations_frame(s, user)
    if not show_all:
        frame = frame[frame["overdue"] | frame["to_fill"]]
    frame = frame.sort_values(
        ["overdue", "to_fill", "days_overdue"], ascending=[False, False, False]
    )
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def derive_obligations(engine: Engine, user: ActorLike) -> int:
    """Create the obligations the templates derive, in the user's buildings; how many."""
    with session_scope(engine) as s:
        return apply_templates_in_scope(s, user)
