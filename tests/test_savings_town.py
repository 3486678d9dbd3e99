"""The generated savings town: by default one hourly gas index per building (what every test of
it was written against); with `indoor=True` also the hourly indoor temperature of each
building's main room, read by the comfort figures (issue 17's size: two hourly channels per
building)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import text

from carnet.frames_comfort import comfort_frames
from tests.helpers.savings_town import CONTRACT, TownBuilding, make_town, town_document

TOWN = [
    TownBuilding("ECOLE", "École", 2.0, CONTRACT, 80.0),
    TownBuilding("SALLE", "Salle", 1.5, CONTRACT, 88.5, night_heating=True),
]
FIRST, LAST = dt.date(2026, 1, 5), dt.date(2026, 1, 18)  # two whole weeks, no DST change
HOURS = 14 * 24


def test_the_default_town_has_one_gas_index_per_building_and_no_room():
    doc = town_document(TOWN, FIRST)
    for b in doc["buildings"]:
        assert "rooms" not in b
        assert [ch["quantity"] for ch in b["channels"]] == ["gas_volume_m3"]


def test_indoor_adds_a_main_room_whose_hourly_temperature_comfort_reads(engine):
    timings: dict[str, float] = {}
    ids = make_town(engine, TOWN, FIRST, LAST, FIRST, FIRST, indoor=True, timings=timings)
    assert set(timings) == {"write_s"}  # what bench_pages reports as the write
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT channel_id, COUNT(*) FROM reading GROUP BY channel_id"))
        per_channel = dict(rows.all())
    for b in TOWN:
        assert per_channel[ids[f"{b.code}-GAZ"]] == HOURS + 1
        assert per_channel[ids[f"{b.code}-TINT"]] == HOURS
    # the two weather Tn/Tx per day, the hourly outdoor temperature, two channels per building
    assert sum(per_channel.values()) == 2 * 14 + HOURS + len(TOWN) * (2 * HOURS + 1)

    frames = comfort_frames(engine, FIRST, LAST)
    temps = frames.temps.merge(frames.rooms[["room_id", "room"]], on="room_id")
    assert set(temps["room"]) == {"ECOLE-SALLE", "SALLE-SALLE"}
    assert (temps.groupby("room").size() == HOURS).all()
    # a school sets back to 13 °C at night and weekends (January: no free gains above that),
    # the hall heated day and night stays at its 19 °C setpoint
    school, hall = (
        temps.loc[temps["room"] == r, "temp_c"].to_numpy() for r in ("ECOLE-SALLE", "SALLE-SALLE")
    )
    assert np.isclose(np.median(school), 13.0, atol=0.3)
    assert np.isclose(school.max(), 19.0, atol=0.5)
    assert np.isclose(hall.min(), 19.0, atol=0.5)
