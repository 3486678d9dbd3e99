"""A town for the portfolio comparison and the Décret tertiaire (issue 15), loaded through the
real portfolio loader and store: one station with daily Tn/Tx, three buildings with gas meter
indexes at each local midnight (and the town hall an electricity meter by interval) from
1 January 2023 to 30 November 2026, and a manager, a contractor on the town hall's contract.

The seeded values are returned, so that tests recompute every figure with plain formulas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from carnet.db import session_scope
from carnet.models import Channel
from carnet.portfolio import load_portfolio
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch

TODAY = dt.date(2026, 12, 1)  # the user's report: 1 December, the season two months old
DAYS = pd.date_range("2023-01-01", "2026-11-30", freq="D")
KWH_PER_M3 = 11.2
START_INDEX = {"CURIE-GAZ": 707_000.0, "MAIRIE-GAZ": 12_000.0, "GYM-GAZ": 500.0}

TOWN = {
    "stations": [
        {
            "code": "LESQ",
            "name": "Lille-Lesquin",
            "channels": [
                {"code": "LESQ-TN", "quantity": "temp_min_c", "kind": "instant", "unit": "degC"},
                {"code": "LESQ-TX", "quantity": "temp_max_c", "kind": "instant", "unit": "degC"},
            ],
        }
    ],
    "buildings": [
        {
            "code": "CURIE",
            "name": "École Marie Curie",
            "usage": "école",
            "heated_area_m2": 2000,
            "tertiaire_activity": "Enseignement primaire",
            "main_energy": "gas",
            "station": "LESQ",
            "channels": [
                {
                    "code": "CURIE-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": KWH_PER_M3,
                },
                {"code": "CURIE-T", "quantity": "temp_indoor_c", "kind": "instant", "unit": "degC"},
            ],
        },
        {
            "code": "MAIRIE",
            "name": "Hôtel de ville",
            "usage": "mairie",
            "heated_area_m2": 1250,
            "tertiary_area_m2": 1100,
            "tertiaire_reference_year": 2024,
            "tertiaire_activity": "Bureaux",
            "main_energy": "gas",
            "station": "LESQ",
            "channels": [
                {
                    "code": "MAIRIE-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": KWH_PER_M3,
                },
                {
                    "code": "MAIRIE-ELEC",
                    "quantity": "electricity_kwh",
                    "kind": "interval",
                    "unit": "kWh",
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
            "code": "GYM",
            "name": "Gymnase Jean Jaurès",
            "usage": "gymnase",
            "heated_area_m2": 800,
            "main_energy": "gas",
            "station": "LESQ",
            "channels": [
                {
                    "code": "GYM-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": KWH_PER_M3,
                }
            ],
        },
    ],
    "contracts": [
        {
            "code": "TEST-CONTRAT",
            "contractor": "Thermique du Nord",
            "starts_on": "2024-07-01",
            "season": {"start": "10-01", "end": "05-20"},
            "degree_days": {"method": "costic", "base_c": 18, "station": "LESQ"},
            "price_eur_per_mwh_pci": 92.5,
            "pcs_pci_ratio": 1.11,
            "buildings": [
                {"building": "MAIRIE", "channel": "MAIRIE-GAZ", "nb_mwh_pci": 310, "dju_ref": 2450}
            ],
        }
    ],
}


def costic(tn, tx, base=18.0):
    """COSTIC degree days, written out again (not the engine's function)."""
    tn, tx = np.asarray(tn, float), np.asarray(tx, float)
    mid = (base - tn) * (0.08 + 0.42 * (base - tn) / np.where(tx > tn, tx - tn, 1.0))
    return np.where(base >= tx, base - (tn + tx) / 2, np.where(base <= tn, 0.0, mid))


def weather() -> tuple[np.ndarray, np.ndarray]:
    doy = DAYS.day_of_year.to_numpy()
    tn = 6.0 - 7.0 * np.cos(2 * np.pi * (doy - 20) / 365.0) + (np.arange(len(DAYS)) % 5) * 0.7
    return tn, tn + 7.0 + (np.arange(len(DAYS)) % 3)


def daily_gas_m3(dju: np.ndarray) -> dict[str, np.ndarray]:
    """m³ per day: the school saves 8 % a year, the town hall 2 %, the gym nothing."""
    years = (DAYS.year - 2023).to_numpy()
    return {
        "CURIE-GAZ": (20.0 + 9.0 * dju) * 0.92**years,
        "MAIRIE-GAZ": (15.0 + 6.0 * dju) * 0.98**years,
        "GYM-GAZ": 5.0 + 4.0 * dju,
    }


def make_energy_town(engine: Engine) -> dict:
    """Load TOWN and its readings; returns ids (channel code -> id), days, tn, tx, dju (per
    day), gas_m3 (channel code -> m³ per day), index (channel code -> index at each midnight
    from days[0] to the day after the last) and elec_kwh (the town hall's kWh per day)."""
    with session_scope(engine) as s:
        load_portfolio(s, TOWN, actor="test")
    with session_scope(engine) as s:
        ids = {code: id_ for code, id_ in s.execute(select(Channel.code, Channel.id))}
    tn, tx = weather()
    dju = costic(tn, tx)
    gas = daily_gas_m3(dju)
    midnight = local_midnight_epoch(DAYS)
    after = local_midnight_epoch(list(DAYS) + [DAYS[-1] + pd.Timedelta(days=1)])
    frames = [
        pd.DataFrame({"channel_id": ids["LESQ-TN"], "ts": midnight + 6 * 3600, "value": tn}),
        pd.DataFrame({"channel_id": ids["LESQ-TX"], "ts": midnight + 15 * 3600, "value": tx}),
    ]
    index = {}
    for code, m3 in gas.items():
        index[code] = np.concatenate([[START_INDEX[code]], START_INDEX[code] + np.cumsum(m3)])
        frames.append(pd.DataFrame({"channel_id": ids[code], "ts": after, "value": index[code]}))
    elec = 300.0 + 50.0 * (DAYS.day_of_week.to_numpy() < 5)
    frames.append(pd.DataFrame({"channel_id": ids["MAIRIE-ELEC"], "ts": midnight, "value": elec}))
    for code in ("CURIE-T", "MAIRIE-T"):
        frames.append(
            pd.DataFrame({"channel_id": ids[code], "ts": midnight + 12 * 3600, "value": 19.5})
        )
    write_readings(engine, pd.concat(frames, ignore_index=True).assign(quality=0), None)
    return {
        "ids": ids,
        "days": DAYS,
        "tn": tn,
        "tx": tx,
        "dju": dju,
        "gas_m3": gas,
        "index": index,
        "elec_kwh": elec,
    }
