"""The French settlement on hand-computed cases (DESIGN.md formulas written out in each test)
and its properties: scaling, reference weather, the cap."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contract.settlement import settle, sharing_clause, to_eur
from contract.terms import BuildingTerms, ContractTerms, season_bounds

SEASON = "2025-2026"
PRICE = Decimal("92.50")
R = 1.11
NB, DJU_REF = 310.0, 2450.0
DJU_DAY = 10.0
MAIN, ECS = 10, 11


def eur(x: float, price: Decimal = PRICE) -> Decimal:
    return (Decimal(repr(float(x))) * price).quantize(Decimal("0.01"), ROUND_HALF_UP)


def make_terms(**changes) -> ContractTerms:
    building = BuildingTerms(
        building_code="MAIRIE",
        building_name="Hôtel de ville",
        contract_building_id=1,
        building_id=1,
        channel_id=MAIN,
        nb_mwh_pci=NB,
        dju_ref=DJU_REF,
        station_id=1,
    )
    bchanges = changes.pop("building", {})
    base = ContractTerms(
        code="C",
        price_eur_per_mwh_pci=PRICE,
        pcs_pci_ratio=R,
        franchise_pct=2.0,
        savings_share_contractor=0.5,
        savings_cap_pct=15.0,
        overrun_share_contractor=1.0,
        station_id=1,
        buildings=(dataclasses.replace(building, **bchanges),),
    )
    return dataclasses.replace(base, **changes)


def season_days(season=SEASON) -> pd.DatetimeIndex:
    first, last = season_bounds(season)
    return pd.date_range(first, last, freq="D")


def frames(nc_ratio: float, seasons=(SEASON,), ecs_m3_per_day=None, q_ecs=None, drop_days=0):
    """Rollups where the season's net consumption is `nc_ratio` x N'B, with constant DJU."""
    days = season_days()
    n = len(days)
    ref = NB * DJU_DAY * n / DJU_REF
    ecs_mwh_day = (ecs_m3_per_day or 0.0) * (q_ecs or 0.0)
    qt_pci_day = nc_ratio * ref / n + ecs_mwh_day
    parts, dju_parts = [], []
    for s in seasons:
        d = season_days(s)
        parts.append(
            pd.DataFrame(
                {
                    "channel_id": MAIN,
                    "day": d,
                    "value": np.nan,
                    "energy_kwh": qt_pci_day * R * 1000.0,
                    "estimated": False,
                }
            ).iloc[: len(d) - (drop_days if s == SEASON else 0)]
        )
        if ecs_m3_per_day is not None:
            parts.append(
                pd.DataFrame(
                    {
                        "channel_id": ECS,
                        "day": d,
                        "value": ecs_m3_per_day,
                        "energy_kwh": np.nan,
                        "estimated": False,
                    }
                )
            )
        dju_parts.append(pd.DataFrame({"station_id": 1, "day": d, "dju": DJU_DAY}))
    return pd.concat(parts), pd.concat(dju_parts), ref, n


def row(report):
    return report.buildings.iloc[0]


def test_savings_inside_franchise_share_nothing():
    terms = make_terms(franchise_pct=5.0)
    rollups, dju, ref, n = frames(0.97)
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["dju"] == pytest.approx(DJU_DAY * n)
    assert r["target_mwh_pci"] == pytest.approx(NB * DJU_DAY * n / DJU_REF)
    assert r["gap_mwh"] == pytest.approx(0.03 * ref)
    assert bool(r["in_franchise"])
    assert r["bonus_eur"] == Decimal("0.00") and r["penalty_eur"] == Decimal("0.00")


def test_savings_under_the_cap():
    terms = make_terms()
    rollups, dju, ref, _ = frames(0.90)
    r = row(settle(terms, SEASON, rollups, dju))
    e = ref - 0.90 * ref
    assert r["actual_mwh_pci"] == pytest.approx(0.90 * ref)
    assert r["gap_pct"] == pytest.approx(e / ref * 100)
    assert r["bonus_eur"] == eur(0.5 * r["gap_mwh"])
    assert float(r["bonus_eur"]) == pytest.approx(0.5 * e * 92.5, abs=0.011)
    assert r["penalty_eur"] == Decimal("0.00")


def test_savings_above_the_cap_are_capped():
    terms = make_terms(savings_share_contractor=2 / 3)
    rollups, dju, ref, _ = frames(0.70)
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["gap_mwh"] == pytest.approx(0.30 * ref)
    assert r["bonus_eur"] == eur((2 / 3) * min(r["gap_mwh"], 0.15 * r["target_mwh_pci"]))
    assert float(r["bonus_eur"]) == pytest.approx((2 / 3) * 0.15 * ref * 92.5, abs=0.011)


def test_overconsumption_is_charged():
    terms = make_terms(overrun_share_contractor=1.0)
    rollups, dju, ref, _ = frames(1.20)
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["gap_mwh"] == pytest.approx(-0.20 * ref)
    assert r["penalty_eur"] == eur(abs(r["gap_mwh"]))
    assert float(r["penalty_eur"]) == pytest.approx(0.20 * ref * 92.5, abs=0.011)
    assert r["bonus_eur"] == Decimal("0.00")
    assert "nb_revision_1_season" in r["alerts"]  # 20 % > 12 %
    # judged on a whole season only: not while the season is running
    running = settle(terms, SEASON, rollups, dju, as_of=dt.date(2026, 2, 1))
    assert not running.season_complete
    assert row(running)["gap_mwh"] < 0 and row(running)["alerts"] == []


def test_domestic_hot_water_is_deducted():
    q_ecs, m3 = 0.05, 2.0
    terms = make_terms(building={"ecs_channel_id": ECS, "q_ecs_mwh_per_m3": q_ecs})
    rollups, dju, ref, n = frames(0.95, ecs_m3_per_day=m3, q_ecs=q_ecs)
    r = row(settle(terms, SEASON, rollups, dju))
    qt = 0.95 * ref + n * m3 * q_ecs
    assert r["qt_mwh_pci"] == pytest.approx(qt)
    assert r["ecs_mwh_pci"] == pytest.approx(n * m3 * q_ecs)
    assert r["actual_mwh_pci"] == pytest.approx(qt - n * m3 * q_ecs)
    assert r["gap_mwh"] == pytest.approx(0.05 * ref)
    assert r["bonus_eur"] == eur(0.5 * r["gap_mwh"])


def test_cpe_penalises_the_shortfall_on_the_guarantee():
    terms = make_terms(kind="CPE", guaranteed_savings_pct=10.0, franchise_pct=0.0)
    rollups, dju, ref, _ = frames(0.95)  # 5 % saved, 10 % guaranteed
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["reference_mwh_pci"] == pytest.approx(ref)
    assert r["target_mwh_pci"] == pytest.approx(0.90 * ref)
    shortfall = 0.95 * ref - 0.90 * ref
    assert r["gap_mwh"] == pytest.approx(-shortfall)
    assert r["penalty_eur"] == eur(abs(r["gap_mwh"]))
    assert r["bonus_eur"] == Decimal("0.00")


def test_nb_revision_alerts():
    terms = make_terms()
    # 9 % over the previous season and this one: two-season alert, not the one-season one
    days_prev = season_days("2024-2025")
    rollups, dju, ref, _ = frames(1.09, seasons=("2024-2025", SEASON))
    rollups.loc[rollups["day"].isin(days_prev), "energy_kwh"] *= len(days_prev) / len(
        season_days()
    )  # the previous season has one day less (no 29 February): same daily N'B ratio
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["deviation_pct"] == pytest.approx(9.0)
    assert r["previous_deviation_pct"] == pytest.approx(9.0 * 1.0, rel=1e-2)
    assert "nb_revision_2_seasons" in r["alerts"]
    assert "nb_revision_1_season" not in r["alerts"]
    # only this season: no two-season alert
    rollups1, dju1, _, _ = frames(1.09)
    r1 = row(settle(terms, SEASON, rollups1, dju1))
    assert r1["alerts"] == []
    # thresholds come from the contract
    r2 = row(settle(make_terms(nb_revision_pct_one_season=8.5), SEASON, rollups1, dju1))
    assert "nb_revision_1_season" in r2["alerts"]


def test_monthly_pro_rata_and_missing_days():
    terms = make_terms()
    rollups, dju, _, _ = frames(1.0, drop_days=3)  # the last 3 days of May missing
    report = settle(terms, SEASON, rollups, dju, month="2026-05")
    r = row(report)
    assert report.period_from == dt.date(2026, 5, 1) and report.period_to == dt.date(2026, 5, 20)
    assert r["dju"] == pytest.approx(20 * DJU_DAY)
    assert r["target_mwh_pci"] == pytest.approx(NB * 20 * DJU_DAY / DJU_REF)
    assert int(r["days_missing"]) == 3
    assert r["actual_mwh_pci"] == pytest.approx(17 / 20 * r["target_mwh_pci"])
    assert "days_missing" in r["alerts"]
    season = settle(terms, SEASON, rollups, dju)
    months = season.months[season.months["building_code"] == "MAIRIE"]
    assert months["reference_mwh_pci"].sum() == pytest.approx(row(season)["reference_mwh_pci"])
    assert months["month"].tolist()[0] == "2025-10"


def test_as_of_stops_the_season():
    rollups, dju, _, _ = frames(1.0)
    report = settle(make_terms(), SEASON, rollups, dju, as_of=dt.date(2025, 10, 10))
    assert row(report)["dju"] == pytest.approx(10 * DJU_DAY)
    assert int(row(report)["days"]) == 10


def test_nothing_to_settle_before_the_season():
    rollups, dju, _, _ = frames(1.0)
    with pytest.raises(ValueError, match="rien à régler"):
        settle(make_terms(), SEASON, rollups, dju, as_of=dt.date(2025, 9, 1))
    with pytest.raises(ValueError, match="hors de la saison"):
        settle(make_terms(), SEASON, rollups, dju, month="2025-07")


def test_non_routine_adjustments_change_the_target():
    rollups, dju, _, n = frames(1.0)
    adjustments = pd.DataFrame(
        {
            "building_code": ["MAIRIE", "MAIRIE"],
            "effective_from": [dt.date(2025, 11, 1), dt.date(2026, 1, 1)],
            "effective_to": [dt.date(2025, 11, 30), None],
            "nb_factor": [0.0, None],
            "delta_mwh_pci": [None, 24.5],
        }
    )
    r = row(settle(make_terms(), SEASON, rollups, dju, adjustments))
    days_jan_on = (dt.date(2026, 5, 20) - dt.date(2026, 1, 1)).days + 1
    expected = (
        NB * (n - 30) * DJU_DAY / DJU_REF  # November closed: factor 0
        + 24.5 * days_jan_on * DJU_DAY / DJU_REF  # NB + 24.5 from January, climate-corrected
    )
    assert r["target_mwh_pci"] == pytest.approx(expected)
    assert "nb_adjusted" in r["alerts"]


def test_total_sums_buildings():
    b2 = BuildingTerms("ECOLE", "École", 2, 2, 20, 100.0, DJU_REF, station_id=1)
    terms = make_terms()
    terms = dataclasses.replace(terms, buildings=(*terms.buildings, b2))
    rollups, dju, ref, n = frames(0.90)
    other = rollups[rollups["channel_id"] == MAIN].assign(channel_id=20)
    other["energy_kwh"] = 1.3 * (100.0 * DJU_DAY / DJU_REF) * R * 1000.0
    report = settle(terms, SEASON, pd.concat([rollups, other]), dju)
    t = report.total
    b = report.buildings.set_index("building_code")
    assert t["target_mwh_pci"] == pytest.approx(ref + 100.0 * DJU_DAY * n / DJU_REF)
    assert t["bonus_eur"] == b.loc["MAIRIE", "bonus_eur"] + b.loc["ECOLE", "bonus_eur"]
    assert t["penalty_eur"] == b.loc["ECOLE", "penalty_eur"] > 0
    assert t["dju"] == pytest.approx(DJU_DAY * n)
    assert t["gap_pct"] == pytest.approx(t["gap_mwh"] / t["target_mwh_pci"] * 100)


def test_euros_round_half_up_once():
    assert to_eur(0.125, Decimal("1")) == Decimal("0.13")  # banker's rounding would give 0.12
    assert to_eur(2.675, Decimal("1")) == Decimal("2.68")  # float rounding would give 2.67
    assert to_eur(float("nan"), PRICE) == Decimal("0.00")


# --- properties ------------------------------------------------------------------------------

positive = st.floats(min_value=1.0, max_value=5000.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    ref=positive,
    ratio=st.floats(min_value=0.3, max_value=2.0),
    scale=st.floats(min_value=0.01, max_value=100.0),
    franchise=st.floats(min_value=0.0, max_value=10.0),
)
def test_scaling_consumption_and_nb_scales_savings(ref, ratio, scale, franchise):
    # the franchise is a step: exactly on its edge, rounding decides the side (not a property)
    assume(abs(abs(1.0 - ratio) * 100.0 - franchise) > 1e-6)
    a = sharing_clause([ref], [ref * ratio], franchise, 0.5, 15.0, 1.0)
    b = sharing_clause([ref * scale], [ref * ratio * scale], franchise, 0.5, 15.0, 1.0)
    assert b["gap_mwh"][0] == pytest.approx(scale * a["gap_mwh"][0], rel=1e-9, abs=1e-9)
    assert b["bonus_mwh"][0] == pytest.approx(scale * a["bonus_mwh"][0], rel=1e-9, abs=1e-9)
    assert b["penalty_mwh"][0] == pytest.approx(scale * a["penalty_mwh"][0], rel=1e-9, abs=1e-9)
    assert b["gap_pct"][0] == pytest.approx(a["gap_pct"][0], rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    ref=positive,
    ratio=st.floats(min_value=0.0, max_value=2.0),
    k=st.floats(min_value=0.0, max_value=1.0),
    cap=st.floats(min_value=0.0, max_value=50.0),
    franchise=st.floats(min_value=0.0, max_value=10.0),
)
def test_bonus_never_exceeds_the_cap(ref, ratio, k, cap, franchise):
    out = sharing_clause([ref], [ref * ratio], franchise, k, cap, 1.0)
    assert out["bonus_mwh"][0] <= k * cap / 100.0 * ref + 1e-9
    assert out["bonus_mwh"][0] >= 0 and out["penalty_mwh"][0] >= 0
    assert not (out["bonus_mwh"][0] > 0 and out["penalty_mwh"][0] > 0)


@settings(max_examples=40, deadline=None)
@given(
    nb=st.floats(min_value=10.0, max_value=2000.0),
    dju_ref=st.floats(min_value=1500.0, max_value=3500.0),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_reference_weather_gives_target_nb(nb, dju_ref, seed):
    """Whatever the daily distribution, a season whose DJU equal DJU_ref has N'B = NB."""
    days = season_days()
    weights = np.random.default_rng(seed).uniform(0.0, 1.0, len(days))
    dju = pd.DataFrame({"station_id": 1, "day": days, "dju": weights / weights.sum() * dju_ref})
    terms = make_terms(building={"nb_mwh_pci": nb, "dju_ref": dju_ref})
    rollups = pd.DataFrame(
        {"channel_id": MAIN, "day": days, "value": np.nan, "energy_kwh": 1000.0, "estimated": False}
    )
    r = row(settle(terms, SEASON, rollups, dju))
    assert r["dju"] == pytest.approx(dju_ref)
    assert r["target_mwh_pci"] == pytest.approx(nb)


@settings(max_examples=15, deadline=None)
@given(
    scale=st.floats(min_value=0.05, max_value=20.0), ratio=st.floats(min_value=0.5, max_value=1.5)
)
def test_settlement_scales_with_consumption_and_nb(scale, ratio):
    """The whole pipeline: NB and every day's consumption x scale → gap and shares x scale."""
    # the 2 % franchise is a step: exactly on its edge, rounding decides the side
    assume(abs(abs(1.0 - ratio) - 0.02) > 1e-6)
    rollups, dju, _, _ = frames(ratio)
    a = row(settle(make_terms(), SEASON, rollups, dju))
    scaled = rollups.assign(energy_kwh=rollups["energy_kwh"] * scale)
    b = row(settle(make_terms(building={"nb_mwh_pci": NB * scale}), SEASON, scaled, dju))
    assert b["gap_mwh"] == pytest.approx(scale * a["gap_mwh"], rel=1e-9, abs=1e-9)
    assert b["bonus_mwh"] == pytest.approx(scale * a["bonus_mwh"], rel=1e-9, abs=1e-9)
    assert b["penalty_mwh"] == pytest.approx(scale * a["penalty_mwh"], rel=1e-9, abs=1e-9)
    assert float(b["bonus_eur"]) == pytest.approx(
        scale * float(a["bonus_eur"]), abs=0.01 + 0.005 * scale
    )
