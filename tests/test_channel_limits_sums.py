"""The ratings the plausibility limits come from, summed in the database: a boiler room's
boilers and heat pumps (its children), a building's boilers and heat pumps still in place;
a channel with neither gets none. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np

from carnet.db import session_scope
from carnet.models import Building, Channel, Equipment
from ingest.plausibility import channel_limits


def test_children_and_building_ratings_are_summed_per_channel(engine):
    with session_scope(engine) as s:
        b1, b2 = Building(code="B1", name="École"), Building(code="B2", name="Salle")
        s.add_all([b1, b2])
        s.flush()
        room = Equipment(building_id=b1.id, code="CH", kind="boiler_room")
        s.add(room)
        s.flush()
        s.add_all([
            Equipment(building_id=b1.id, parent_id=room.id, code="K1", kind="boiler",
                      power_kw=120.0),
            Equipment(building_id=b1.id, parent_id=room.id, code="K2", kind="heat_pump",
                      power_kw=30.0),
            Equipment(building_id=b1.id, parent_id=room.id, code="K3", kind="boiler",
                      power_kw=80.0, removed_on=dt.date(2024, 6, 1)),
            Equipment(building_id=b1.id, parent_id=room.id, code="P1", kind="pump",
                      power_kw=2.0),
        ])  # fmt: skip
        s.flush()
        for code, building, equipment in (
            ("C-ROOM", b1.id, room.id),
            ("C-B1", b1.id, None),
            ("C-B2", b2.id, None),
            ("C-NONE", None, None),
        ):
            s.add(Channel(code=code, building_id=building, equipment_id=equipment,
                          quantity="gas_volume_m3", kind="index", unit="m3"))  # fmt: skip
    with engine.connect() as conn:
        limits = channel_limits(conn).set_index("code")
    # children: every boiler and heat pump under the room, removed or not (as before)
    assert limits.loc["C-ROOM", "children_kw"] == 230.0
    assert np.isnan(limits.loc["C-B1", "children_kw"])
    # building: the boilers and heat pumps in place
    assert limits.loc["C-ROOM", "building_kw"] == 150.0
    assert limits.loc["C-B1", "building_kw"] == 150.0
    assert np.isnan(limits.loc["C-B2", "building_kw"])
    assert np.isnan(limits.loc["C-NONE", "building_kw"])
