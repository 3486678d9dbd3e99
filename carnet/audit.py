"""The audit trail: every change to the record says who, when, and what it was before."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy.orm import Session

from carnet.models import AuditEvent


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
    )
    session.add(event)
    return event


def row_image(obj: Any, fields: list[str]) -> dict:
    """The named fields of an ORM object, for before/after images."""
    return {name: getattr(obj, name) for name in fields}
