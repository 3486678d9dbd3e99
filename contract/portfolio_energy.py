"""A portfolio's consumption over one period, comparable between buildings: final energy in kWh
(PCS for gas: the rollups' `energy_kwh`, already converted with the meter's coefficient, never
the meter's index), per m² of heated area, and per m² and degree day of the building's station
over the same days; ranked from the most to the least intensive.

`energy_kwh_m2_dju` removes both the size and the weather of the period, so that a school of
2,000 m² near the coast and a hall of 500 m² inland can be ranked together."""

from __future__ import annotations

import numpy as np
import pandas as pd


def channel_consumption(rollups: pd.DataFrame, channels: pd.DataFrame) -> pd.DataFrame:
    """channel_id, value (the channel's unit: m³ of gas consumed), energy_kwh, days_with_data,
    last_day, per channel of `channels` (channel_id, building_id, carrier), from daily
    `rollups` (channel_id, day, value, energy_kwh)."""
    roll = rollups[rollups["channel_id"].isin(channels["channel_id"])]
    has = roll["energy_kwh"].notna() | roll["value"].notna()
    grouped = roll.assign(has=has, day=pd.to_datetime(roll["day"])).groupby("channel_id")
    out = grouped.agg(
        value=("value", lambda s: s.sum(min_count=1)),
        energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)),
        days_with_data=("has", "sum"),
        last_day=("day", "max"),
    )
    out = out.reindex(channels["channel_id"].to_numpy())
    out["days_with_data"] = out["days_with_data"].fillna(0).astype("int64")
    out.index.name = "channel_id"
    return out.reset_index().merge(
        channels[["channel_id", "building_id", "carrier"]], on="channel_id", how="left"
    )


def building_intensity(
    consumption: pd.DataFrame, buildings: pd.DataFrame, dju: pd.DataFrame
) -> pd.DataFrame:
    """Per building of `buildings` (building_id, area_m2, station_id): energy_kwh (sum of its
    final-energy channels, `channel_consumption`), energy_kwh_<carrier> columns, days_with_data
    (the least covered channel), dju (its station's total over the period, `dju`: station_id,
    dju), energy_kwh_m2, energy_kwh_m2_dju and rank (1 = most kWh/m²/DJU; none without
    consumption, area or DJU)."""
    per = consumption.groupby("building_id").agg(
        energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)),
        days_with_data=("days_with_data", "min"),
    )
    by_carrier = consumption.pivot_table(
        index="building_id", columns="carrier", values="energy_kwh", aggfunc="sum"
    ).add_prefix("energy_kwh_")
    out = buildings.set_index("building_id").join(per).join(by_carrier)
    out = out.join(dju.set_index("station_id")["dju"], on="station_id")
    area = out["area_m2"].where(out["area_m2"] > 0)
    out["energy_kwh_m2"] = out["energy_kwh"] / area
    out["energy_kwh_m2_dju"] = out["energy_kwh_m2"] / out["dju"].where(out["dju"] > 0)
    intensity = out["energy_kwh_m2_dju"].replace([np.inf, -np.inf], np.nan)
    out["rank"] = intensity.rank(ascending=False, method="min").astype("Int64")
    return out.reset_index()
