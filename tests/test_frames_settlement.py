"""What the settlement reads from the record: rollups read back exactly as stored (SQLite and
PostgreSQL read them by different paths), only the days a settlement settles, the signed views
of a season from one read, and a baseline fit whose diagnostics are its own."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import insert

from carnet.closed_views import closed_months, closed_view
from carnet.db import session_scope
from carnet.frames import contract_terms, rollups
from carnet.frames_settlement import settlement_frames
from carnet.models import Channel, DailyRollup, Station
from contract import ContractTerms, settlement_plan
from contract.baseline.changepoint import fit_changepoint
from contract.terms import season_months
from tests.helpers.cli import run

# values a text round trip or a float32 would change; None is a NULL
AWKWARD = [0.1, 1 / 3, 1e-300, -2.5e17, 123456789.123456789, None, 2.0**-1074, 7.0]


def _two_channels(engine) -> list[int]:
    with session_scope(engine) as s:
        st = Station(code="ST", name="Station")
        s.add(st)
        s.flush()
        chans = [
            Channel(
                code=f"C{i}", station_id=st.id, quantity="temp_min_c", kind="instant", unit="degC"
            )  # fmt: skip
            for i in range(2)
        ]
        s.add_all(chans)
        s.flush()
        return [c.id for c in chans]


def test_rollups_read_back_exactly_what_was_stored(engine):
    ids = _two_channels(engine)
    days = [dt.date(2024, 2, 26) + dt.timedelta(days=i) for i in range(len(AWKWARD))]
    rows = [
        {
            "channel_id": cid,
            "day": d,
            "value": v,
            "energy_kwh": None if v is None else -v,
            "min_value": v,
            "max_value": None,
            "n_readings": 24 - k,
            "coverage": v,
            "estimated": k % 3 == 0,
        }  # fmt: skip
        for cid in ids
        for k, (d, v) in enumerate(zip(days, AWKWARD, strict=True))
    ]
    with engine.begin() as conn:
        conn.execute(insert(DailyRollup), rows)

    got = rollups(engine, [*ids, None, float("nan")], days[0], days[-1])
    got = got.sort_values(["channel_id", "day"], ignore_index=True)
    assert list(got.columns) == [
        "channel_id", "day", "value", "energy_kwh", "min_value", "max_value", "n_readings",
        "coverage", "estimated",
    ]  # fmt: skip
    assert got["channel_id"].dtype == "int64" and got["n_readings"].dtype == "int64"
    assert got["estimated"].dtype == bool and got["day"].dtype.kind == "M"
    want = np.array([np.nan if v is None else v for v in AWKWARD] * 2)
    for col, sign in (("value", 1), ("min_value", 1), ("coverage", 1), ("energy_kwh", -1)):
        assert np.array_equal(got[col].to_numpy(), sign * want, equal_nan=True), col
        assert got[col].dtype == "float64"
    assert got["max_value"].isna().all()
    assert got["estimated"].tolist() == [r["estimated"] for r in rows]
    assert got["n_readings"].tolist() == [r["n_readings"] for r in rows]
    assert [d.date() for d in got["day"]] == days * 2

    # a subset of columns, and runs of days within the range
    part = rollups(
        engine, ids[:1], days[0], days[-1], ("energy_kwh",), runs=((days[1], days[2]), (days[6], days[6]))
    )  # fmt: skip
    assert list(part.columns) == ["channel_id", "day", "energy_kwh"]
    part = part.sort_values("day", ignore_index=True)
    assert [d.date() for d in part["day"]] == [days[1], days[2], days[6]]
    assert np.array_equal(part["energy_kwh"].to_numpy(), -want[[1, 2, 6]])
    empty = rollups(engine, ids, dt.date(1990, 1, 1), dt.date(1990, 1, 2))
    assert len(empty) == 0 and list(empty.columns) == list(got.columns)


def test_a_season_reads_no_consumption_of_the_summer_before_it(contract_town, engine):
    terms = ContractTerms.from_record(contract_terms(engine, "C1"))
    gas = contract_town["ids"]["MAIRIE-GAZ"]
    summer = dt.date(2025, 7, 14)  # between the 2024-2025 and 2025-2026 seasons
    with engine.begin() as conn:
        conn.execute(insert(DailyRollup), [{"channel_id": gas, "day": summer, "value": 1.0,
                                            "energy_kwh": 11.2, "n_readings": 24}])  # fmt: skip
    plan = settlement_plan(terms, "2025-2026")
    assert plan.first_day < summer < plan.last_day
    read = settlement_frames(engine, plan).rollups
    days = set(pd.to_datetime(read["day"]).dt.date)
    assert summer not in days and dt.date(2025, 10, 1) in days
    # the station's temperatures still cover the whole window (a gap would ask for hourly)
    assert summer in set(
        settlement_frames(engine, plan).temperatures[terms.station_id].tn_tx.index.date
    )


def test_a_season_plan_finds_what_was_signed_as_the_per_period_lookups_do(
    contract_town, engine, capsys
):
    status, out = run(capsys, "settle", "close", "--contract", "C1", "--month", "2025-10",
                      "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out
    terms = ContractTerms.from_record(contract_terms(engine, "C1"))
    for season, as_of in (("2025-2026", None), ("2025-2026", dt.date(2025, 10, 20)),
                          ("2026-2027", None)):  # fmt: skip
        plan = settlement_plan(terms, season, as_of=as_of)
        frames = settlement_frames(engine, plan)
        months = [str(m) for m in season_months(season, terms.season_start, terms.season_end)]
        alone = closed_months(engine, "C1", season, months)
        assert frames.closed_months.keys() == alone.keys()
        assert all(frames.closed_months[m] == alone[m] for m in alone)
        assert frames.closed == closed_view(engine, "C1", season, None, as_of)
        signed = closed_view(engine, "C1", plan.signed_season)
        assert frames.signed_previous == (None if signed is None else signed.payload)
    assert "2025-10" in settlement_frames(engine, settlement_plan(terms, "2025-2026")).closed_months


def test_a_fit_keeps_its_own_days_whatever_the_caller_does_with_its_frame():
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    temp = 10 - 8 * np.cos(2 * np.pi * days.day_of_year.to_numpy() / 365) + rng.normal(0, 2, 400)
    frame = pd.DataFrame({
        "day": days, "energy_kwh": 30 + 6 * np.maximum(0, 15 - temp) + rng.normal(0, 2, 400),
        "temp_mean_c": temp,
    })  # fmt: skip
    pristine = fit_changepoint(frame.copy())
    model = fit_changepoint(frame)
    frame.loc[:, "energy_kwh"] = 0.0  # the caller reuses its frame before reading the metrics
    frame.loc[:, "temp_mean_c"] = 99.0
    for name in ("r2", "cvrmse", "nmbe", "rho"):
        assert getattr(model, name) == getattr(pristine, name), name
    pd.testing.assert_frame_equal(model.fitted, pristine.fitted, check_exact=True)
    assert model.fitted["energy_kwh"].gt(0).all()
