"""Loading what the portfolio and the Décret tertiaire compare buildings on: the daily rollups
of their final-energy channels (`carnet.energy_carriers`) and their stations' degree days over
the same days. Shared by `portfolio_data`, `tertiaire_data` and the OPERAT export.

The degree days of a portfolio comparison are COSTIC, base 18 °C (the usual French DJU), the
same for every building whatever its contract says, so that the ranking compares like with
like."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from carnet import frames
from carnet.energy_carriers import final_energy_channels
from contract.degree_days import METHOD_LABELS_FR, station_dju

DJU_METHOD, DJU_BASE_C = "costic", 18.0
DJU_NOTE = f"DJU {METHOD_LABELS_FR[DJU_METHOD]} base {DJU_BASE_C:.0f} °C"


def energy_rollups(
    engine: Engine, building_ids, day_from: dt.date, day_to: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(channels, rollups): the final-energy channels of the buildings (`building_ids`: None =
    all) and their daily rollups over inclusive local dates, each with its building_id."""
    channels = final_energy_channels(engine, building_ids)
    roll = frames.rollups(engine, channels["channel_id"].tolist(), day_from, day_to)
    roll = roll.merge(channels[["channel_id", "building_id"]], on="channel_id", how="left")
    return channels, roll


def station_daily_dju(engine: Engine, station_ids, day_from: dt.date, day_to: dt.date):
    """station_id, day, dju of each station over inclusive local dates (days without weather
    absent, never filled)."""
    parts = [
        station_dju(
            frames.station_temperatures(engine, int(sid), day_from, day_to),
            int(sid), day_from, day_to, DJU_METHOD, DJU_BASE_C,
        )[["station_id", "day", "dju"]]
        for sid in sorted({int(s) for s in station_ids if s is not None and not pd.isna(s)})
    ]  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=["station_id", "day", "dju"])
    return pd.concat(parts, ignore_index=True)


def station_dju_totals(engine: Engine, station_ids, day_from: dt.date, day_to: dt.date):
    """station_id, dju (sum over the period), days (with weather)."""
    daily = station_daily_dju(engine, station_ids, day_from, day_to)
    if daily.empty:
        return pd.DataFrame(columns=["station_id", "dju", "days"])
    return (
        daily.groupby("station_id")["dju"]
        .agg(dju=lambda s: s.sum(min_count=1), days="count")
        .reset_index()
    )
