"""`carnet.queries.portfolio_overview`: one row per channel with its last non-empty reading."""

from __future__ import annotations

import pandas as pd

from carnet.kinds import Quality
from carnet.queries import portfolio_overview
from carnet.store import write_readings
from tests.helpers.seed import LAST, TOWN, epoch, seed_town


def test_last_reading_per_channel_ignores_later_gap_markers(engine):
    ids = seed_town(engine)
    gas_when, gas_value = LAST["MAIRIE-GAZ"]
    gap = pd.DataFrame(
        {
            "channel_id": [ids["MAIRIE-GAZ"]],
            "ts": [epoch(gas_when) + 3600],
            "value": [None],
            "quality": [int(Quality.GAP)],
        }
    )
    write_readings(engine, gap, None)
    frame = portfolio_overview(engine).set_index("channel_code", drop=False)
    for code, (when, value) in LAST.items():
        assert frame.loc[code, "last_ts"] == epoch(when)
        assert frame.loc[code, "last_value"] == value
    assert frame.loc["MAIRIE-GAZ", "last_value"] == gas_value
    # the station's channel belongs to no building; the gymnasium has no channel
    assert "LESQUIN-T" not in frame.index
    gym = frame[frame["building_code"] == "GYMNASE"]
    assert len(gym) == 1 and gym["channel_id"].isna().all()
    assert set(frame["building_code"]) == {b["code"] for b in TOWN["buildings"]}


def test_building_scope_keeps_only_the_given_buildings(engine):
    seed_town(engine)
    everything = portfolio_overview(engine)
    mairie = int(everything.loc[everything["building_code"] == "MAIRIE", "building_id"].iloc[0])
    scoped = portfolio_overview(engine, building_ids=[mairie])
    assert set(scoped["building_code"]) == {"MAIRIE"}
    assert set(scoped["channel_code"]) == {"MAIRIE-GAZ", "MAIRIE-T"}
    assert portfolio_overview(engine, building_ids=[]).empty
