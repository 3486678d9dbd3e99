"""A small town for dashboard tests, loaded through the real portfolio loader and store:
three buildings, one of them (MAIRIE) in the contract TEST-CONTRAT of the test contractor."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, select

from carnet.db import session_scope
from carnet.models import Channel
from carnet.portfolio import load_portfolio
from carnet.store import write_readings

PARIS = ZoneInfo("Europe/Paris")

TOWN = {
    "stations": [
        {
            "code": "LILLE-LESQUIN",
            "name": "Lille-Lesquin",
            "channels": [
                {
                    "code": "LESQUIN-T",
                    "quantity": "temp_outdoor_c",
                    "kind": "instant",
                    "unit": "degC",
                }
            ],
        }
    ],
    "buildings": [
        {
            "code": "MAIRIE",
            "name": "Hôtel de ville",
            "usage": "mairie",
            "heated_area_m2": 1234.5,
            "station": "LILLE-LESQUIN",
            "channels": [
                {
                    "code": "MAIRIE-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": 11.2,
                },
                {
                    "code": "MAIRIE-T",
                    "quantity": "temp_indoor_c",
                    "kind": "instant",
                    "unit": "degC",
                },
            ],
        },
        {
            "code": "ECOLE-PASTEUR",
            "name": "École Pasteur",
            "usage": "école",
            "heated_area_m2": 2100,
            "station": "LILLE-LESQUIN",
            "channels": [
                {
                    "code": "PASTEUR-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": 11.2,
                }
            ],
        },
        {
            "code": "GYMNASE",
            "name": "Gymnase Jean Jaurès",
            "usage": "gymnase",
            "heated_area_m2": 900,
        },
    ],
    "contracts": [
        {
            "code": "TEST-CONTRAT",
            "contractor": "Thermique du Nord",
            "starts_on": "2024-07-01",
            "ends_on": "2032-06-30",
            "season": {"start": "10-01", "end": "05-20"},
            "degree_days": {"method": "costic", "base_c": 18, "station": "LILLE-LESQUIN"},
            "price_eur_per_mwh_pci": 92.5,
            "pcs_pci_ratio": 1.11,
            "buildings": [
                {"building": "MAIRIE", "channel": "MAIRIE-GAZ", "nb_mwh_pci": 310, "dju_ref": 2450}
            ],
        }
    ],
}

# last readings: (channel code, local wall time, value)
LAST = {
    "MAIRIE-GAZ": (dt.datetime(2025, 1, 15, 14, 0), 123456.0),
    "MAIRIE-T": (dt.datetime(2025, 1, 15, 13, 0), 19.46),
    "PASTEUR-GAZ": (dt.datetime(2024, 7, 14, 9, 0), 5432.0),  # summer time (UTC+2)
}


def epoch(local: dt.datetime) -> int:
    return int(local.replace(tzinfo=PARIS).timestamp())


def seed_town(engine: Engine) -> dict[str, int]:
    """Load TOWN and write three hours of readings per channel ending at LAST; returns
    channel code -> id."""
    with session_scope(engine) as s:
        load_portfolio(s, TOWN, actor="test")
    with session_scope(engine) as s:
        ids = {code: id_ for code, id_ in s.execute(select(Channel.code, Channel.id))}
    frames = []
    for code, (local, value) in LAST.items():
        end = epoch(local)
        step = 3600
        frames.append(
            pd.DataFrame(
                {
                    "channel_id": ids[code],
                    "ts": [end - 2 * step, end - step, end],
                    "value": [value - 2, value - 1, value],
                    "quality": 0,
                }
            )
        )
    write_readings(engine, pd.concat(frames, ignore_index=True), None)
    return ids
