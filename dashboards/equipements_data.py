"""Data of the communicating devices page (`/equipements`): the devices and open alarms of
the buildings in the user's scope, as plain dicts."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import Scope
from carnet.db import session_scope
from carnet.devices import device_statuses, open_alarms
from ingest.modbus.registers import model_label


def devices_and_alarms(engine: Engine, scope: Scope) -> tuple[list[dict], list[dict]]:
    """(devices, alarms) of `carnet.devices`, limited to the scope's buildings; each device
    with its model's French name (`model_label`)."""
    with session_scope(engine) as s:
        devices = device_statuses(s, scope.building_filter)
        alarms = open_alarms(s, scope.building_filter)
    labels = {m: model_label(m) for m in {d["model"] for d in devices}}
    return [{**d, "model_label": labels[d["model"]]} for d in devices], alarms
