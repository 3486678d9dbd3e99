"""`carnet settle`, `carnet baseline`, `carnet adjust` end to end on a small portfolio inserted
through the ORM, readings written through `carnet.store.write_readings` (SQLite and
PostgreSQL). Expected figures are recomputed from the readings with plain formulas
(`tests/helpers/contract_town.py`)."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import (
    Adjustment,
    AuditEvent,
    LogbookEntry,
)
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch, to_epoch
from tests.helpers.cli import run
from tests.helpers.contract_town import (
    DAYS,
    DJU_REF,
    KWH_PER_M3,
    NB,
    PRICE,
    S,
    expected_building,
    index_frame,
    portfolio,
)


def eur(x: float) -> Decimal:
    return (Decimal(repr(float(x))) * PRICE).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_settle_json_and_table(contract_town, capsys):
    status, out = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                      "--as-of", "2025-10-31", "--json")  # fmt: skip
    assert status == 0, out
    data = json.loads(out)
    assert data["period"] == {"from": "2025-10-01", "to": "2025-10-31"}
    assert data["dju_method"] == "costic" and data["station"] == "LESQ"
    rows = {b["building_code"]: b for b in data["buildings"]}
    for code in ("MAIRIE", "ECOLE"):
        exp = expected_building(code, contract_town)
        got = rows[code]
        assert got["dju"] == pytest.approx(exp["dju"], abs=1e-3)
        assert got["dju_ref"] == DJU_REF
        assert got["target_mwh_pci"] == pytest.approx(exp["target"], abs=1e-3)
        assert got["actual_mwh_pci"] == pytest.approx(exp["actual"], abs=1e-3)
        assert got["gap_mwh"] == pytest.approx(exp["gap"], abs=1e-3)
        assert got["gap_pct"] == pytest.approx(exp["gap"] / exp["target"] * 100, abs=1e-3)
        assert Decimal(got["bonus_eur"]) == pytest.approx(eur(exp["bonus"]), abs=Decimal("0.01"))
        assert Decimal(got["penalty_eur"]) == pytest.approx(
            eur(exp["penalty"]), abs=Decimal("0.01")
        )
        assert isinstance(got["bonus_eur"], str) and len(got["bonus_eur"].split(".")[1]) == 2
    assert rows["ECOLE"]["ecs_mwh_pci"] == pytest.approx(
        expected_building("ECOLE", contract_town)["ecs"]
    )
    assert rows["MAIRIE"]["days_missing"] == 0
    assert rows["ECOLE"]["days_missing"] == 1
    assert "days_missing" in rows["ECOLE"]["alerts"]
    total = data["total"]
    assert total["target_mwh_pci"] == pytest.approx(sum(r["target_mwh_pci"] for r in rows.values()))
    assert Decimal(total["penalty_eur"]) == sum(Decimal(r["penalty_eur"]) for r in rows.values())
    assert total["days_missing"] == 1

    status, table = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                        "--as-of", "2025-10-31")  # fmt: skip
    assert status == 0
    assert "TOTAL" in table and "COSTIC" in table
    dju_fr = f"{rows['MAIRIE']['dju']:.1f}".replace(".", ",")
    assert dju_fr in table  # decimal comma
    assert "jours de consommation manquants" in table

    status, out = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                      "--month", "2025-10", "--as-of", "2025-10-15", "--json")  # fmt: skip
    month = json.loads(out)
    assert month["period"] == {"from": "2025-10-01", "to": "2025-10-15"}
    m_rows = {b["building_code"]: b for b in month["buildings"]}
    assert m_rows["MAIRIE"]["target_mwh_pci"] == pytest.approx(
        NB["MAIRIE"] * contract_town["dju"][:15].sum() / DJU_REF, abs=1e-3
    )

    status, out = run(capsys, "settle", "--contract", "NOPE", "--season", "2025-2026")
    assert status == 2 and "contrat inconnu" in out


def test_adjust_then_settle(contract_town, capsys, engine):
    status, out = run(capsys, "adjust", "--contract", "C1", "--building", "MAIRIE",
                      "--from", "10/10/2025", "--to", "2025-10-19", "--kind", "closed",
                      "--factor", "0", "--why", "Fermé pour désamiantage",
                      "--author", "gestionnaire", "--json")  # fmt: skip
    assert status == 0, out
    adj = json.loads(out)
    with session_scope(engine) as s:
        row = s.get(Adjustment, adj["id"])
        assert row.author_login == "gestionnaire" and row.nb_factor == 0.0
        entry = s.get(LogbookEntry, row.logbook_entry_id)
        assert entry.kind == "adjustment" and "désamiantage" in entry.text
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "adjustment")).all()
        assert [e.actor for e in events] == ["gestionnaire"]
    factor = np.ones(len(DAYS))
    factor[9:19] = 0.0  # 10/10 .. 19/10 inclusive
    status, out = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                      "--as-of", "2025-10-31", "--json")  # fmt: skip
    rows = {b["building_code"]: b for b in json.loads(out)["buildings"]}
    exp = expected_building("MAIRIE", contract_town, factor)
    assert rows["MAIRIE"]["target_mwh_pci"] == pytest.approx(exp["target"], abs=1e-3)
    assert "nb_adjusted" in rows["MAIRIE"]["alerts"]

    status, out = run(capsys, "adjustments", "--contract", "C1", "--json")
    assert [a["id"] for a in json.loads(out)] == [adj["id"]]
    # an agent may not adjust a contract; an adjustment needs a justification
    status, out = run(capsys, "adjust", "--contract", "C1", "--building", "MAIRIE",
                      "--from", "2025-11-01", "--kind", "other", "--delta-mwh", "5",
                      "--why", "x", "--author", "agent1")  # fmt: skip
    assert status == 3
    status, out = run(capsys, "adjust", "--contract", "C1", "--building", "MAIRIE",
                      "--from", "2025-11-01", "--kind", "other", "--delta-mwh", "5",
                      "--why", "  ", "--author", "gestionnaire")  # fmt: skip
    assert status == 2 and "justifié" in out


def test_hourly_degree_days_on_dst_day(engine):
    """The 25-hour local day of 26/10/2025 sums 25 hourly deficits (through the store)."""
    from carnet.frames import station_by_code, station_temperatures
    from contract import degree_days

    ids = portfolio(engine)
    stamps = pd.date_range("2025-10-25 22:00", "2025-10-27 00:00", freq="h", tz="UTC")
    temps = 5.0 + np.arange(len(stamps)) % 10
    write_readings(
        engine, pd.DataFrame({"channel_id": ids["T"], "ts": to_epoch(stamps), "value": temps})
    )
    day, station = dt.date(2025, 10, 26), station_by_code(engine, "LESQ")
    weather = station_temperatures(engine, station["id"], day, day, need_hourly=True)
    out = degree_days(weather, station["id"], "LESQ", day, day, "hourly", S)
    local = stamps.tz_convert("Europe/Paris")
    on_day = temps[(local.date == dt.date(2025, 10, 26))]
    assert len(on_day) == 25
    assert out["dju"].iloc[0] == pytest.approx(np.sum(np.maximum(0.0, S - on_day)) / 24)


def test_baseline_cli(engine, capsys):
    ids = portfolio(engine)
    days = pd.date_range("2023-10-01", "2025-09-30", freq="D")
    n = len(days)
    i = np.arange(n)
    mean = 11.0 - 8.0 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 15) / 365.0)
    mean = mean + 3.0 * np.sin(i * 1.7)
    tn, tx = mean - 4.0, mean + 4.0
    kwh = 400.0 + 90.0 * np.maximum(0.0, 15.5 - mean) + 30.0 * np.sin(i * 2.3)
    kwh[365:] *= 0.85  # the second year saves 15 %
    stamps = local_midnight_epoch(days)
    write_readings(
        engine,
        pd.concat(
            [
                pd.DataFrame({"channel_id": ids["TN"], "ts": stamps, "value": tn}),
                pd.DataFrame({"channel_id": ids["TX"], "ts": stamps, "value": tx}),
                index_frame(ids["MAIRIE-GAZ"], days, kwh / KWH_PER_M3),
            ]
        ),
    )
    status, out = run(capsys, "baseline", "--channel", "MAIRIE-GAZ", "--station", "LESQ",
                      "--baseline", "2023-10-01:2024-09-29", "--reporting",
                      "30/09/2024:30/09/2025", "--json")  # fmt: skip
    assert status == 0, out
    data = json.loads(out)
    base, rep = slice(0, 365), slice(365, n)
    # independent fit: statsmodels OLS for every candidate Tb
    best = None
    for tb in np.arange(8.0, 22.01, 0.5):
        x = np.column_stack([np.ones(365), np.maximum(0.0, tb - mean[base])])
        res = sm.OLS(kwh[base], x).fit()
        if res.params[1] > 0 and res.params[0] >= 0 and (best is None or res.ssr < best[1].ssr):
            best = (tb, res)
    tb, res = best
    assert data["model"] == "heating_changepoint_daily"
    assert data["balance_temp_c"] == tb
    assert data["coefficients"]["b0_kwh_per_day"] == pytest.approx(res.params[0], rel=1e-6)
    assert data["coefficients"]["b1_kwh_per_dd"] == pytest.approx(res.params[1], rel=1e-6)
    y = kwh[base]
    assert data["r2"] == pytest.approx(1 - res.ssr / np.sum((y - y.mean()) ** 2), abs=1e-6)
    assert data["cvrmse"] == pytest.approx(math.sqrt(res.ssr / (365 - 3)) / y.mean(), abs=1e-6)
    predicted = float(np.sum(res.params[0] + res.params[1] * np.maximum(0.0, tb - mean[rep])))
    observed = float(kwh[rep].sum())
    assert data["observed_kwh"] == pytest.approx(observed, rel=1e-6)
    assert data["predicted_kwh"] == pytest.approx(predicted, rel=1e-6)
    assert data["savings_kwh"] == pytest.approx(predicted - observed, rel=1e-5)
    assert data["savings_pct"] == pytest.approx((predicted - observed) / predicted * 100, rel=1e-5)
    assert 0 < data["fsu"] < 0.5
    assert data["acceptance"]["accepted"] and data["sufficiency"]["sufficient"]
    months = [m for m in data["monthly"] if m["period"] == "reporting"]
    assert len(months) == 13  # 30/09/2024 .. 30/09/2025
    assert sum(m["observed_kwh"] for m in months) == pytest.approx(observed, rel=1e-6)
    status, table = run(capsys, "baseline", "--channel", "MAIRIE-GAZ", "--station", "LESQ",
                        "--baseline", "2023-10-01:2024-09-29", "--reporting",
                        "2024-09-30:2025-09-30")  # fmt: skip
    assert status == 0 and "CV(RMSE)" in table and "économies" in table
    status, out = run(capsys, "baseline", "--channel", "MAIRIE-GAZ", "--station", "LESQ",
                      "--baseline", "2024-10-01", "--reporting", "2024-09-30:2025-09-30")  # fmt: skip
    assert status == 2 and "DU:AU" in out


def test_monthly_settlement_carries_the_usage_performance(contract_town, capsys):
    """The contract report of a month includes the comfort summary, with the same figures as
    `carnet comfort` (issue: comfort in the contract report)."""
    status, out = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                      "--month", "2025-10", "--json")  # fmt: skip
    assert status == 0, out
    report = json.loads(out)
    status, out = run(capsys, "comfort", "--month", "2025-10", "--contract", "C1", "--json")
    assert status == 0, out
    expected = {b["building"]: b for b in json.loads(out)["buildings"]}
    got = {c["building_code"]: c for c in report["comfort"]}
    assert set(got) == set(expected) == {"MAIRIE", "ECOLE"}
    for code, c in got.items():
        assert c["energy_kwh"] == pytest.approx(expected[code]["energy_kwh"], abs=0.1)
        assert c["energy_outside_kwh"] == pytest.approx(
            expected[code]["energy_outside_kwh"], abs=0.1
        )
        assert c["bookings"] == expected[code]["bookings"] == 0
    # October's gas of the town hall, converted to kWh PCS, is all heating outside use
    # (no booking, no usual schedule declared)
    mairie_kwh = float(contract_town["gas"]["MAIRIE"].sum()) * KWH_PER_M3
    assert got["MAIRIE"]["energy_kwh"] == pytest.approx(mairie_kwh, rel=1e-6)
    assert got["MAIRIE"]["share_outside_pct"] == pytest.approx(100.0)
    status, table = run(capsys, "settle", "--contract", "C1", "--season", "2025-2026",
                        "--month", "2025-10")  # fmt: skip
    assert status == 0 and "Usage du mois 2025-10" in table
