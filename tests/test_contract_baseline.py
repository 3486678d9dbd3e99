"""The change-point baseline against an independent implementation (statsmodels OLS, one
regression per candidate balance temperature) on synthetic data with a known answer, and the
Guideline 14 metrics written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from contract.baseline import metrics
from contract.baseline.changepoint import TB_GRID_C, fit_changepoint
from contract.baseline.savings import avoided_energy, normal_year_kwh, typical_year_temperatures
from contract.baseline.sufficiency import baseline_sufficiency
from contract.cusum import cusum
from contract.tertiaire import tertiaire_trajectory

TB, B0, B1 = 15.5, 40.0, 8.0


def synthetic(
    n_days=730, tb=TB, b0=B0, b1=B1, noise=3.0, seed=1, start="2022-06-01", b2=0.0, tc=None
):
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=n_days, freq="D")
    doy = days.day_of_year.to_numpy()
    temp = 11.0 - 8.0 * np.cos(2 * np.pi * (doy - 15) / 365.0) + rng.normal(0, 3.0, n_days)
    energy = b0 + b1 * np.maximum(0.0, tb - temp) + rng.normal(0, noise, n_days)
    if tc is not None:
        energy += b2 * np.maximum(0.0, temp - tc)
    return pd.DataFrame({"day": days, "energy_kwh": energy, "temp_mean_c": temp})


def statsmodels_grid(frame: pd.DataFrame, freq: str):
    """Independent reference: one OLS per grid value, keep the smallest SSE with b1 > 0."""
    best = None
    month = frame["day"].dt.to_period("M")
    for tb in TB_GRID_C:  # the reference implementation is a plain loop on purpose
        hdd = np.maximum(0.0, tb - frame["temp_mean_c"])
        x = pd.DataFrame({"days": 1.0, "hdd": hdd})
        y = frame["energy_kwh"]
        if freq == "monthly":
            x = x.groupby(month).sum()
            y = y.groupby(month).sum()
        res = sm.OLS(y.to_numpy(), x.to_numpy()).fit()
        ok = res.params[1] > 0 and res.params[0] >= 0
        if ok and (best is None or res.ssr < best[1].ssr):
            best = (tb, res, y.to_numpy())
    return best


@pytest.mark.parametrize("freq", ["daily", "monthly"])
def test_changepoint_matches_statsmodels(freq):
    frame = synthetic()
    model = fit_changepoint(frame, freq=freq)
    tb, res, y = statsmodels_grid(frame, freq)
    assert model.kind == "heating"
    assert model.balance_temp_c == tb
    assert model.b0_kwh_per_day == pytest.approx(res.params[0], rel=1e-9)
    assert model.b1_kwh_per_dd == pytest.approx(res.params[1], rel=1e-9)
    assert model.n == len(y)
    # statsmodels' uncentred R² would differ: compare with the centred one it reports via ssr
    assert model.r2 == pytest.approx(1 - res.ssr / np.sum((y - y.mean()) ** 2), rel=1e-9)
    p = 3
    assert model.cvrmse == pytest.approx(math.sqrt(res.ssr / (len(y) - p)) / y.mean(), rel=1e-9)
    assert model.nmbe == pytest.approx(np.sum(res.resid) / ((len(y) - p) * y.mean()), abs=1e-12)


def test_known_answer_recovered():
    model = fit_changepoint(synthetic(noise=1.0), freq="daily")
    assert model.balance_temp_c == TB
    assert model.b0_kwh_per_day == pytest.approx(B0, rel=0.02)
    assert model.b1_kwh_per_dd == pytest.approx(B1, rel=0.02)
    assert model.acceptance["accepted"]


def test_cooling_term():
    frame = synthetic(n_days=1095, tc=22.0, b2=6.0, noise=1.0)
    model = fit_changepoint(frame, freq="daily", cooling=True)
    assert model.kind == "heating_cooling"
    assert model.balance_temp_c == TB
    assert model.cooling_balance_temp_c == pytest.approx(22.0, abs=1.0)
    assert model.b2_kwh_per_cdd == pytest.approx(6.0, rel=0.25)


def test_no_weather_signal_falls_back_to_a_mean():
    frame = synthetic()
    frame["energy_kwh"] = 50.0 + np.random.default_rng(3).normal(0, 1, len(frame))
    frame.loc[frame["temp_mean_c"] < 5, "energy_kwh"] -= 5.0  # colder = less: not heating
    model = fit_changepoint(frame)
    assert model.kind == "mean"
    assert model.b0_kwh_per_day == pytest.approx(frame["energy_kwh"].mean())


def test_metrics_by_hand():
    y = np.array([10.0, 12.0, 9.0, 11.0, 13.0])
    yhat = np.array([10.5, 11.0, 9.5, 11.5, 12.0])
    n, p = len(y), 2
    sse = float(np.sum((y - yhat) ** 2))
    assert metrics.cvrmse(y, yhat, p) == pytest.approx(math.sqrt(sse / (n - p)) / y.mean())
    assert metrics.nmbe(y, yhat, p) == pytest.approx(np.sum(y - yhat) / ((n - p) * y.mean()))
    assert metrics.r2(y, yhat) == pytest.approx(1 - sse / np.sum((y - y.mean()) ** 2))
    resid = y - yhat
    r = resid - resid.mean()
    assert metrics.lag1_autocorrelation(resid) == pytest.approx(
        np.sum(r[1:] * r[:-1]) / np.sum(r * r)
    )


@pytest.mark.parametrize("dof", [5, 9, 21, 100, 700])
def test_t_quantile_against_scipy(dof):
    assert metrics.t_quantile(dof, 0.90) == pytest.approx(stats.t.ppf(0.95, dof), abs=2e-3)
    assert metrics.t_quantile(dof, 0.68) == pytest.approx(stats.t.ppf(0.84, dof), abs=2e-3)


def test_fsu_formula():
    cv, n, p, m, f, rho = 0.08, 24, 3, 12, 0.2, 0.3
    n_eff = n * (1 - rho) / (1 + rho)
    t = stats.t.ppf(0.95, n - p)
    expected = t * 1.26 * cv * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m) / f
    assert metrics.fractional_savings_uncertainty(cv, n, p, m, f, rho) == pytest.approx(
        expected, rel=1e-3
    )
    # negative autocorrelation does not flatter the model
    assert metrics.fractional_savings_uncertainty(cv, n, p, m, -f, rho) == pytest.approx(
        expected, rel=1e-3
    )  # an overrun's uncertainty is relative to its size too
    no_rho = metrics.fractional_savings_uncertainty(cv, n, p, m, f, 0.0)
    assert metrics.fractional_savings_uncertainty(cv, n, p, m, f, -0.4) == no_rho


def test_guideline14_acceptance_flags():
    assert metrics.acceptance(0.14, 0.04, "monthly")["accepted"]
    assert not metrics.acceptance(0.16, 0.0, "monthly")["accepted"]
    assert not metrics.acceptance(0.10, -0.06, "monthly")["nmbe_ok"]
    assert metrics.acceptance(0.29, 0.09, "daily")["accepted"]


def test_avoided_energy_and_normal_year():
    frame = synthetic(n_days=1095)
    base = frame.iloc[:730]
    rep = frame.iloc[730:].copy()
    rep["energy_kwh"] *= 0.8
    model = fit_changepoint(base)
    result = avoided_energy(model, rep)
    predicted = float(np.sum(model.predict_daily(rep["temp_mean_c"])))
    observed = float(rep["energy_kwh"].sum())
    assert result.predicted_kwh == pytest.approx(predicted)
    assert result.observed_kwh == pytest.approx(observed)
    assert result.savings_kwh == pytest.approx(predicted - observed)
    assert result.savings_pct == pytest.approx((predicted - observed) / predicted * 100)
    assert result.savings_pct == pytest.approx(20.0, abs=1.5)
    assert result.fsu_ok
    assert result.monthly["savings_kwh"].sum() == pytest.approx(result.savings_kwh)
    normal = typical_year_temperatures(frame.set_index("day")["temp_mean_c"])
    assert len(normal) == 365
    expected = float(np.sum(B0 + B1 * np.maximum(0.0, TB - normal.to_numpy())))
    assert normal_year_kwh(model, normal) == pytest.approx(expected, rel=0.02)
    # a reporting day without energy is not compared
    rep.loc[rep.index[:10], "energy_kwh"] = np.nan
    assert avoided_energy(model, rep).days_used == len(rep) - 10


def test_sufficiency_is_apart_from_fitting():
    frame = synthetic(n_days=365, start="2023-01-01")
    ok = baseline_sufficiency(
        frame, pd.Timestamp("2023-01-01").date(), pd.Timestamp("2023-12-31").date()
    )
    assert ok.sufficient and ok.coverage == 1.0 and not ok.warnings
    holes = frame.copy()
    holes.loc[holes.index[:60], "energy_kwh"] = np.nan
    bad = baseline_sufficiency(
        holes, pd.Timestamp("2023-01-01").date(), pd.Timestamp("2023-12-31").date()
    )
    assert bad.days_usable == 305
    assert bad.coverage == pytest.approx(305 / 365)
    assert not bad.sufficient and bad.warnings


def test_cusum_and_tertiaire():
    pred = pd.Series([10.0, 10.0, 10.0, 10.0])
    act = pd.Series([10.0, 8.0, np.nan, 7.0])
    assert cusum(pred, act).tolist() == [0.0, 2.0, 2.0, 5.0]
    traj = tertiaire_trajectory(
        2019,
        1000.0,
        pd.Series({2019: 1000.0, 2024: 800.0}),
        pd.Series({2019: 2500.0, 2024: 2000.0}),
    )
    t = traj.set_index("year")
    assert t.loc[2030, "target_kwh"] == pytest.approx(600.0)
    assert t.loc[2040, "target_kwh"] == pytest.approx(500.0)
    assert t.loc[2050, "target_kwh"] == pytest.approx(400.0)
    assert t.loc[2024, "target_kwh"] == pytest.approx(1000.0 * (1 - 0.40 * 5 / 11))
    assert t.loc[2024, "adjusted_kwh"] == pytest.approx(800.0 * 2500.0 / 2000.0)
    assert bool(t.loc[2024, "on_track"]) is False
