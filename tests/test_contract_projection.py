"""The end-of-season projection computed by hand on a three-day rest of season."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from contract.projection import NORMAL, project_season, rest_of_season_dju
from contract.terms import ContractTerms

TERMS = ContractTerms(
    code="T",
    price_eur_per_mwh_pci=Decimal("100"),
    franchise_pct=2.0,
    savings_share_contractor=0.5,
    savings_cap_pct=15.0,
    overrun_share_contractor=1.0,
)
AS_OF = dt.date(2026, 5, 17)  # season 2025-2026: the rest is 18, 19 and 20 May
SEASON_LAST = dt.date(2026, 5, 20)


def history() -> pd.DataFrame:
    """Station 1: two complete past seasons on 18-20 May (2, 3, 5 and 4, 4, 4 DJU), one missing
    20 May (3, 3.5), other days that do not count (outside the rest, or this season's)."""
    rows = [
        ("2023-05-18", 3.0), ("2023-05-19", 3.5), ("2023-05-20", np.nan),
        ("2024-05-18", 2.0), ("2024-05-19", 3.0), ("2024-05-20", 5.0),
        ("2025-05-18", 4.0), ("2025-05-19", 4.0), ("2025-05-20", 4.0),
        ("2024-05-21", 40.0), ("2025-01-10", 15.0), ("2026-05-10", 99.0),
    ]  # fmt: skip
    return pd.DataFrame(
        {"station_id": 1, "day": pd.to_datetime([d for d, _ in rows]), "dju": [v for _, v in rows]}
    )


def to_date() -> pd.DataFrame:
    # A consumed 90 for a reference of 100 (1000 DJU), B 120; both on NB / DJU_ref = 0.1
    return pd.DataFrame(
        {
            "building_code": ["A", "B"],
            "station_id": [1, 1],
            "actual_mwh_pci": [90.0, 120.0],
            "reference_mwh_pci": [100.0, 100.0],
            "dju": [1000.0, 1000.0],
            "mwh_pci_per_dju": [0.1, 0.1],
        }
    )


def test_rest_of_season_dju_normal_and_past_seasons():
    scenarios, seasons = rest_of_season_dju(history(), TERMS, AS_OF, SEASON_LAST)
    # normal: per day mean over the seasons that have it: (3+2+4)/3 + (3.5+3+4)/3 + (5+4)/2
    assert scenarios.loc[NORMAL, 1] == pytest.approx(3.0 + 3.5 + 4.5)
    # the range: only the seasons complete on the rest (2022-2023 lacks 20 May)
    assert seasons == ["2023-2024", "2024-2025"]
    assert scenarios.loc["2023-2024", 1] == pytest.approx(10.0)
    assert scenarios.loc["2024-2025", 1] == pytest.approx(12.0)


def test_projection_by_hand():
    p = project_season(TERMS, to_date(), history(), AS_OF, SEASON_LAST)
    assert p.days_remaining == 3 and p.seasons == ["2023-2024", "2024-2025"]
    assert p.dju_rest == {1: {"normal": pytest.approx(11.0), "low": 10.0, "high": 12.0}}
    a, b = p.buildings.to_dict("records")
    # A, normal weather: N'B = 100 + 0.1 x 11 = 101.1; NC = 90 + 0.09 x 11 = 90.99
    # E = 10.11 > franchise 2.022, under the cap 15.165: bonus 0.5 x 10.11 x 100 € = 505.50 €
    assert a["projected_reference_mwh_pci"] == pytest.approx(101.1)
    assert a["projected_actual_mwh_pci"] == pytest.approx(90.99)
    assert a["projected_gap_mwh"] == pytest.approx(10.11)
    assert a["result_eur"] == Decimal("505.50")
    # 2023-2024 (10 DJU): E = 101 - 90.9 = 10.1 → 505.00 €; 2024-2025 (12): 10.12 → 506.00 €
    assert (a["low_eur"], a["low_season"]) == (Decimal("505.00"), "2023-2024")
    assert (a["high_eur"], a["high_season"]) == (Decimal("506.00"), "2024-2025")
    # B: NC = 120 + 0.12 x 11 = 121.32, E = -20.22: penalty 1 x 20.22 x 100 € = -2 022.00 €
    assert b["projected_actual_mwh_pci"] == pytest.approx(121.32)
    assert b["result_eur"] == Decimal("-2022.00")
    assert (b["low_eur"], b["low_season"]) == (Decimal("-2024.00"), "2024-2025")
    assert (b["high_eur"], b["high_season"]) == (Decimal("-2020.00"), "2023-2024")
    # the contract: the sum of its buildings' euros, its range over whole past seasons
    assert p.total["result_eur"] == Decimal("-1516.50")
    assert (p.total["low_eur"], p.total["low_season"]) == (Decimal("-1518.00"), "2024-2025")
    assert (p.total["high_eur"], p.total["high_season"]) == (Decimal("-1515.00"), "2023-2024")
    assert p.total["projected_target_mwh_pci"] == pytest.approx(202.2)
    assert "2023-2024 à 2024-2025" in p.assumptions_fr[0] and "11 DJU" in p.assumptions_fr[0]


def test_franchise_and_no_degree_days_yet():
    frame = to_date().assign(actual_mwh_pci=[99.0, 0.0], reference_mwh_pci=[100.0, 0.0],
                             dju=[1000.0, 0.0])  # fmt: skip
    a, b = project_season(TERMS, frame, history(), AS_OF, SEASON_LAST).buildings.to_dict("records")
    # A: E = 101.1 - (99 + 0.099 x 11) = 1.011 <= 2 % of 101.1: nothing shared
    assert a["in_franchise"] and a["result_eur"] == Decimal("0.00")
    # B has no DJU yet: it is assumed on its reference for the rest (N'B = NC = 1.1)
    assert b["projected_actual_mwh_pci"] == pytest.approx(1.1)
    assert b["result_eur"] == Decimal("0.00")


def test_no_past_season_no_projection():
    recent = history()[history()["day"] >= "2025-10-01"]
    assert project_season(TERMS, to_date(), recent, AS_OF, SEASON_LAST) is None


def test_last_day_of_the_season_is_the_settlement():
    p = project_season(TERMS, to_date(), history(), SEASON_LAST, SEASON_LAST)
    assert p.days_remaining == 0
    assert p.buildings["projected_actual_mwh_pci"].tolist() == [90.0, 120.0]
    # 0.5 x 10 x 100 (A) - 1 x 20 x 100 (B)
    assert p.total["result_eur"] == Decimal("-1500.00")
