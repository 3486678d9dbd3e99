"""The small contract town of the CLI settlement tests: one station with daily Tn/Tx, a town
hall and a school (with hot water) on contract C1 (COSTIC degree days, base 18 °C), October 2025
of gas indexes written through `carnet.store.write_readings`; and the settlement each building
should get, recomputed from those readings with plain formulas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd

from carnet.db import session_scope
from carnet.models import Building, Channel, Contract, ContractBuilding, Station, User
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch

S = 18.0
NB = {"MAIRIE": 310.0, "ECOLE": 120.0}
DJU_REF = 2450.0
PRICE = Decimal("92.5")
KWH_PER_M3 = 11.2
R = 1.11
Q_ECS = 0.06
DAYS = pd.date_range("2025-10-01", "2025-10-31", freq="D")


def costic(tn, tx):
    if tx <= S:
        return S - (tn + tx) / 2
    if tn >= S:
        return 0.0
    return (S - tn) * (0.08 + 0.42 * (S - tn) / (tx - tn))


def portfolio(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        st = Station(code="LESQ", name="Lille-Lesquin")
        s.add(st)
        s.flush()
        ch = {}
        for code, quantity in (("TN", "temp_min_c"), ("TX", "temp_max_c"), ("T", "temp_outdoor_c")):
            c = Channel(code=code, station_id=st.id, quantity=quantity, kind="instant", unit="degC")
            s.add(c)
            ch[code] = c
        buildings = {}
        for code in ("MAIRIE", "ECOLE"):
            b = Building(code=code, name=code.title(), station_id=st.id, heated_area_m2=1000)
            s.add(b)
            s.flush()
            buildings[code] = b
            gas = Channel(
                code=f"{code}-GAZ", building_id=b.id, quantity="gas_volume_m3", kind="index",
                unit="m3", kwh_per_unit=KWH_PER_M3,
            )  # fmt: skip
            s.add(gas)
            ch[f"{code}-GAZ"] = gas
        ecs = Channel(
            code="ECOLE-ECS", building_id=buildings["ECOLE"].id, quantity="water_volume_m3",
            kind="index", unit="m3",
        )  # fmt: skip
        s.add(ecs)
        ch["ECOLE-ECS"] = ecs
        s.flush()
        contract = Contract(
            code="C1", contractor="Thermique du Nord", kind="MTI", starts_on=dt.date(2024, 7, 1),
            dju_method="costic", dju_base_c=S, station_id=st.id, price_eur_per_mwh_pci=PRICE,
            pcs_pci_ratio=R, franchise_pct=2.0, savings_share_contractor=0.5,
            savings_cap_pct=15.0, overrun_share_contractor=1.0,
        )  # fmt: skip
        s.add(contract)
        s.flush()
        s.add(
            ContractBuilding(
                contract_id=contract.id, building_id=buildings["MAIRIE"].id,
                channel_id=ch["MAIRIE-GAZ"].id, nb_mwh_pci=NB["MAIRIE"], dju_ref=DJU_REF,
            )
        )  # fmt: skip
        s.add(
            ContractBuilding(
                contract_id=contract.id, building_id=buildings["ECOLE"].id,
                channel_id=ch["ECOLE-GAZ"].id, nb_mwh_pci=NB["ECOLE"], dju_ref=DJU_REF,
                ecs_channel_id=ecs.id, q_ecs_mwh_per_m3=Q_ECS,
            )
        )  # fmt: skip
        s.add(User(login="gestionnaire", name="Gestionnaire", role="manager"))
        s.add(User(login="agent1", name="Agent", role="agent"))
        s.flush()
        return {code: c.id for code, c in ch.items()}


def index_frame(channel_id: int, days: pd.DatetimeIndex, daily: np.ndarray) -> pd.DataFrame:
    """Index readings at each local midnight from days[0] to the day after the last."""
    stamps = local_midnight_epoch(list(days) + [days[-1] + pd.Timedelta(days=1)])
    values = np.concatenate([[1000.0], 1000.0 + np.cumsum(daily)])
    return pd.DataFrame({"channel_id": channel_id, "ts": stamps, "value": values})


def make_town(engine) -> dict:
    """The portfolio, October 2025's Tn/Tx and the gas and hot-water indexes (the school's
    last day missing); returns the channel ids ("ids") and, per day, the COSTIC degree days
    ("dju"), the gas m³ per building ("gas") and the hot water m³ ("ecs")."""
    ids = portfolio(engine)
    n = len(DAYS)
    i = np.arange(n)
    tn = 2.0 + (i % 7) * 1.5  # 2 .. 11 °C
    tx = tn + 4.0 + (i % 5) * 2.5  # some days cross 18 °C: all COSTIC branches
    tn[3], tx[3] = 19.0, 24.0  # a warm day: 0 DJU
    stamps = local_midnight_epoch(DAYS)
    temps = pd.concat(
        [
            pd.DataFrame({"channel_id": ids["TN"], "ts": stamps, "value": tn}),
            pd.DataFrame({"channel_id": ids["TX"], "ts": stamps, "value": tx}),
        ]
    )
    gas_mairie = 300.0 + 20.0 * (i % 4)  # m3 per day
    gas_ecole = 150.0 + 10.0 * (i % 3)
    ecs = np.full(n, 2.0)  # m3 of hot water per day
    write_readings(engine, temps)
    write_readings(engine, index_frame(ids["MAIRIE-GAZ"], DAYS, gas_mairie))
    # the school's last reading is at 31/10 00:00: 31/10 is missing
    write_readings(engine, index_frame(ids["ECOLE-GAZ"], DAYS[:-1], gas_ecole[:-1]))
    write_readings(engine, index_frame(ids["ECOLE-ECS"], DAYS, ecs))
    return {
        "ids": ids,
        "dju": np.array([costic(a, b) for a, b in zip(tn, tx, strict=True)]),
        "gas": {"MAIRIE": gas_mairie, "ECOLE": gas_ecole[:-1]},
        "ecs": ecs,
    }


def expected_building(code: str, town, factor=None) -> dict:
    dju = town["dju"]
    nb_day = np.full(len(dju), NB[code]) if factor is None else NB[code] * factor
    target = float(np.sum(nb_day * dju / DJU_REF))
    qt = float(town["gas"][code].sum()) * KWH_PER_M3 / 1000 / R
    days_with_gas = len(town["gas"][code])  # hot water is deducted on days with fuel data
    ecs = float(town["ecs"][:days_with_gas].sum()) * Q_ECS if code == "ECOLE" else 0.0
    nc = qt - ecs
    e = target - nc
    bonus = penalty = 0.0
    if abs(e) > 0.02 * target:
        bonus = 0.5 * min(e, 0.15 * target) if e > 0 else 0.0
        penalty = abs(e) if e < 0 else 0.0
    return {"dju": float(dju.sum()), "target": target, "actual": nc, "qt": qt, "ecs": ecs,
            "gap": e, "bonus": bonus, "penalty": penalty}  # fmt: skip
