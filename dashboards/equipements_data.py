"""Data of the communicating devices page (`/equipements`): the devices and open alarms of
the buildings in the user's scope, as plain dicts, each device with the open alarms it carries.

An alarm belongs to a device when the poller raised it on one of the device's points (its key
starts with `<gateway>/<unit>/`) or when it is about the device's equipment (an alarm written
by the controller's own history, the demo's, keyed otherwise): the row of a gateway must never
say « — » while its alarm is listed just above."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import Scope
from carnet.db import session_scope
from carnet.devices import device_statuses, open_alarms
from ingest.modbus.registers import model_label


def alarms_of_device(device: dict, alarms: list[dict]) -> list[dict]:
    """The open alarms (of `carnet.devices.open_alarms`) that belong to `device`."""
    prefix = f"{device['gateway_code']}/{device['unit']}/"
    equipment_id = device.get("equipment_id")
    return [
        a
        for a in alarms
        if (a["alarm_key"] or "").startswith(prefix)
        or (equipment_id is not None and a.get("equipment_id") == equipment_id)
    ]


def devices_and_alarms(engine: Engine, scope: Scope) -> tuple[list[dict], list[dict]]:
    """(devices, alarms) of `carnet.devices`, limited to the scope's buildings; each device
    gets `open_alarms`, its alarms among them (latest first), and its model's French name
    (`model_label`)."""
    with session_scope(engine) as s:
        devices = device_statuses(s, scope.building_filter)
        alarms = open_alarms(s, scope.building_filter)
    labels = {m: model_label(m) for m in {d["model"] for d in devices}}
    for device in devices:
        device["open_alarms"] = alarms_of_device(device, alarms)
        device["model_label"] = labels[device["model"]]
    return devices, alarms
