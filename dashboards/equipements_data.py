"""Data of the communicating devices page (`/equipements`): the devices and open alarms of
the buildings in the user's scope, as plain dicts."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import Scope
from carnet.db import session_scope
from carnet.devices import device_statuses, open_alarms


def devices_and_alarms(engine: Engine, scope: Scope) -> tuple[list[dict], list[dict]]:
    """(devices, alarms) of `carnet.devices`, limited to the scope's buildings."""
    with session_scope(engine) as s:
        return (
            device_statuses(s, scope.building_filter),
            open_alarms(s, scope.building_filter),
        )
