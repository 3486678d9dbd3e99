"""Degree days on hand cases: Météo-France, the three COSTIC branches, hourly sums across DST,
the Météo-France UTC windows, and a station's fallback from daily extremes to hourly data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carnet.timeutil import local_to_utc, to_epoch
from contract.degree_days import (
    dju_costic,
    dju_from_hourly,
    dju_meteo_france,
    station_daily_dju,
    tn_tx_meteo_france,
)
from contract.terms import season_bounds, season_months, season_of

S = 18.0


def test_meteo_france_hand_cases():
    tn = np.array([2.0, 15.0, -4.0, 10.0])
    tx = np.array([8.0, 25.0, 1.0, 30.0])
    expected = [max(0.0, S - (a + b) / 2) for a, b in zip(tn, tx, strict=True)]
    assert dju_meteo_france(tn, tx, S) == pytest.approx(expected)
    assert dju_meteo_france(tn, tx, S)[1] == 0.0  # mean 20 > 18


def test_costic_three_branches():
    # S >= Tx: S - mean ; S <= Tn: 0 ; otherwise (S - Tn) * (0.08 + 0.42 (S - Tn) / (Tx - Tn))
    cold_tn, cold_tx = 2.0, 8.0
    warm_tn, warm_tx = 19.0, 25.0
    mid_tn, mid_tx = 10.0, 22.0
    out = dju_costic(
        pd.Series([cold_tn, warm_tn, mid_tn]), pd.Series([cold_tx, warm_tx, mid_tx]), S
    )
    assert out.iloc[0] == pytest.approx(S - (cold_tn + cold_tx) / 2)
    assert out.iloc[1] == 0.0
    assert out.iloc[2] == pytest.approx(
        (S - mid_tn) * (0.08 + 0.42 * (S - mid_tn) / (mid_tx - mid_tn))
    )
    # the edges of the branches
    assert dju_costic(np.array([12.0]), np.array([S]), S)[0] == pytest.approx(S - (12.0 + S) / 2)
    assert dju_costic(np.array([S]), np.array([S + 6]), S)[0] == 0.0
    # a day crossing the base counts more than the plain mean says when the mean is above S
    assert (
        dju_costic(np.array([14.0]), np.array([30.0]), S)[0]
        > dju_meteo_france(np.array([14.0]), np.array([30.0]), S)[0]
    )


def test_costic_other_base_and_missing():
    base = 16.0
    out = dju_costic(np.array([np.nan, 5.0]), np.array([10.0, 11.0]), base)
    assert np.isnan(out[0])
    assert out[1] == pytest.approx(base - 8.0)


def _hourly_local(day: str, temps_by_hour) -> pd.Series:
    """Hourly temperatures over a local day, indexed by epoch seconds (UTC hours)."""
    start = local_to_utc([pd.Timestamp(day)])[0]
    end = local_to_utc([pd.Timestamp(day) + pd.Timedelta(days=1)])[0]
    stamps = pd.date_range(start, end, freq="h", inclusive="left")
    values = np.asarray(temps_by_hour(np.arange(len(stamps))), dtype=float)
    return pd.Series(values, index=to_epoch(stamps))


@pytest.mark.parametrize(
    ("day", "hours"), [("2025-03-30", 23), ("2025-10-26", 25), ("2025-11-12", 24)]
)
def test_hourly_dju_across_dst(day, hours):
    series = _hourly_local(day, lambda h: 5.0 + h)  # 5, 6, 7 ... °C
    out = dju_from_hourly(series, S)
    assert len(out) == 1
    assert out.index[0] == pd.Timestamp(day)
    assert int(out["hours"].iloc[0]) == hours
    expected = sum(max(0.0, S - (5.0 + h)) for h in range(hours)) / 24.0
    assert out["dju"].iloc[0] == pytest.approx(expected)


def test_meteo_france_windows():
    # D = 2026-01-15. Tn window [D-1 18:00, D 18:00) UTC; Tx window [D 06:00, D+1 06:00) UTC.
    stamps = pd.date_range("2026-01-14 12:00", "2026-01-16 12:00", freq="h", tz="UTC")
    temps = pd.Series(5.0, index=stamps)
    temps[pd.Timestamp("2026-01-14 18:00", tz="UTC")] = -3.0  # first hour of D's Tn window
    temps[pd.Timestamp("2026-01-14 17:00", tz="UTC")] = -9.0  # belongs to D-1
    temps[pd.Timestamp("2026-01-16 05:00", tz="UTC")] = 14.0  # last hour of D's Tx window
    temps[pd.Timestamp("2026-01-15 05:00", tz="UTC")] = 20.0  # belongs to D-1's Tx
    series = pd.Series(temps.to_numpy(), index=to_epoch(stamps))
    out = tn_tx_meteo_france(series)
    d = pd.Timestamp("2026-01-15")
    assert out.loc[d, "tn_c"] == -3.0
    assert out.loc[d, "tx_c"] == 14.0
    assert out.loc[pd.Timestamp("2026-01-14"), "tn_c"] == -9.0
    assert out.loc[pd.Timestamp("2026-01-14"), "tx_c"] == 20.0


def test_station_dju_prefers_daily_extremes_then_hourly():
    days = pd.date_range("2026-01-14", "2026-01-16", freq="D", name="day")
    tn_tx = pd.DataFrame({"tn_c": [1.0, np.nan, 3.0], "tx_c": [7.0, np.nan, 9.0]}, index=days)
    stamps = pd.date_range("2026-01-13 00:00", "2026-01-17 23:00", freq="h", tz="UTC")
    hourly = pd.Series(np.where(stamps.hour < 12, 0.0, 10.0), index=to_epoch(stamps), dtype=float)
    out = station_daily_dju(tn_tx, hourly, "costic", S)
    assert out.loc[days[0], "dju"] == pytest.approx(S - 4.0)
    assert out.loc[days[0], "source"] == "tn_tx"
    # the missing day takes Tn = 0 and Tx = 10 from the hourly windows
    assert out.loc[days[1], "source"] == "hourly_windows"
    assert out.loc[days[1], "dju"] == pytest.approx(S - 5.0)
    hourly_only = station_daily_dju(None, hourly, "hourly", S)
    day = pd.Timestamp("2026-01-15")
    assert hourly_only.loc[day, "dju"] == pytest.approx((12 * S + 12 * (S - 10.0)) / 24.0)


def test_season_calendar():
    first, last = season_bounds("2025-2026")
    assert (first.isoformat(), last.isoformat()) == ("2025-10-01", "2026-05-20")
    months = season_months("2025-2026")
    assert [str(m) for m in months] == [
        "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"
    ]  # fmt: skip
    labels = season_of(pd.to_datetime(["2025-09-30", "2025-10-01", "2026-05-20", "2026-05-21"]))
    assert labels.tolist() == [None, "2025-2026", "2025-2026", None]
    with pytest.raises(ValueError):
        season_bounds("2025-2027")


def test_dju_per_month():
    from contract.degree_days import dju_per_period

    days = pd.date_range("2025-09-25", "2026-06-05", freq="D")
    daily = pd.Series(np.arange(len(days), dtype=float), index=days)
    months = dju_per_period(daily)
    assert months.loc[pd.Period("2025-10", "M"), "dju"] == pytest.approx(
        daily["2025-10-01":"2025-10-31"].sum()
    )
