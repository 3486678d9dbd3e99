"""Heating (and optional cooling) change-point models, daily or monthly.

    E = b0 * days + b1 * HDD(Tb) [+ b2 * CDD(Tc)]

with HDD(Tb) = sum over days of max(0, Tb - T_mean). The balance temperature is searched over a
grid; every candidate is solved at once by a batched least squares (QR of a stack of design
matrices), so a fit costs a few array operations instead of one regression per candidate.
The model is linear in days, so a monthly model predicts each day as b0 + b1 * hdd_day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from contract.baseline import metrics

TB_GRID_C = np.round(np.arange(8.0, 22.01, 0.5), 2)
TC_GRID_C = np.round(np.arange(16.0, 28.01, 1.0), 2)


@dataclass(frozen=True)
class _FitData:
    """What a fit leaves for its diagnostics: per period (day or month) the energy, its
    prediction, the period label, days and degree days of the chosen Tb."""

    y: np.ndarray
    predicted: np.ndarray
    labels: np.ndarray
    ndays: np.ndarray
    hdd: np.ndarray | None


@dataclass(frozen=True)
class ChangePointModel:
    """A fitted model. Its diagnostics (R², CV(RMSE), NMBE, lag-1 autocorrelation of the
    residuals) and its `fitted` frame are computed on first use: a baseline search fits many
    candidates whose diagnostics nobody reads, and these cost more than the fit itself."""

    freq: str  # daily or monthly
    kind: str  # mean, heating, heating_cooling
    b0_kwh_per_day: float
    b1_kwh_per_dd: float = 0.0
    balance_temp_c: float | None = None
    b2_kwh_per_cdd: float = 0.0
    cooling_balance_temp_c: float | None = None
    n: int = 0
    p: int = 1
    data: _FitData | None = field(default=None, repr=False, compare=False)

    @cached_property
    def r2(self) -> float:
        return float("nan") if self.data is None else metrics.r2(self.data.y, self.data.predicted)

    @cached_property
    def cvrmse(self) -> float:
        d = self.data
        return float("nan") if d is None else metrics.cvrmse(d.y, d.predicted, self.p)

    @cached_property
    def nmbe(self) -> float:
        d = self.data
        return float("nan") if d is None else metrics.nmbe(d.y, d.predicted, self.p)

    @cached_property
    def rho(self) -> float:
        d = self.data
        return 0.0 if d is None else metrics.lag1_autocorrelation(d.y - d.predicted)

    @cached_property
    def fitted(self) -> pd.DataFrame:
        """period, days, hdd, energy_kwh, predicted_kwh of each period fitted."""
        d = self.data
        if d is None:
            return pd.DataFrame()
        labels = (
            pd.DatetimeIndex(d.labels)
            if self.freq == "daily"
            else pd.PeriodIndex(d.labels, freq="M")
        )
        return pd.DataFrame(
            {
                "period": labels,
                "days": d.ndays.astype("int64"),
                "hdd": d.hdd if d.hdd is not None else np.zeros(len(d.y)),
                "energy_kwh": d.y,
                "predicted_kwh": d.predicted,
            }
        )

    @property
    def name(self) -> str:
        return (
            f"{self.kind}_changepoint_{self.freq}" if self.kind != "mean" else f"mean_{self.freq}"
        )

    @property
    def acceptance(self) -> dict:
        return metrics.acceptance(self.cvrmse, self.nmbe, self.freq)

    def predict_daily(self, temp_mean_c) -> np.ndarray:
        """kWh predicted for each day of mean temperature `temp_mean_c`."""
        t = np.asarray(temp_mean_c, dtype=float)
        out = np.full(t.shape, self.b0_kwh_per_day)
        if self.balance_temp_c is not None:
            out = out + self.b1_kwh_per_dd * np.maximum(0.0, self.balance_temp_c - t)
        if self.cooling_balance_temp_c is not None:
            out = out + self.b2_kwh_per_cdd * np.maximum(0.0, t - self.cooling_balance_temp_c)
        return out


def usable_days(daily: pd.DataFrame) -> pd.DataFrame:
    """Days with both an energy figure and a mean temperature, sorted."""
    frame = daily[["day", "energy_kwh", "temp_mean_c"]].dropna()
    frame = frame.assign(day=pd.to_datetime(frame["day"]).dt.normalize())
    return frame.sort_values("day").reset_index(drop=True)


def _usable_arrays(daily: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days as datetime64[D], energy, temperature) of usable days, sorted: numpy, no copies
    of the frame (a fit is a few milliseconds; pandas bookkeeping would dominate it). The
    arrays are the fit's own (the model's diagnostics read them later)."""
    col = daily["day"]
    naive = isinstance(col.dtype, np.dtype) and col.dtype.kind == "M"  # datetime64 already
    raw = col.to_numpy() if naive else pd.to_datetime(col).to_numpy()
    day = np.asarray(raw, dtype="datetime64[D]")
    energy = daily["energy_kwh"].to_numpy(dtype=float)
    temp = daily["temp_mean_c"].to_numpy(dtype=float)
    ok = np.isfinite(energy) & np.isfinite(temp) & ~np.isnat(day)
    if ok.all():  # copies, not views of the caller's frame
        day, energy, temp = day.copy(), energy.copy(), temp.copy()
    else:
        day, energy, temp = day[ok], energy[ok], temp[ok]
    if len(day) > 1 and (day[1:] < day[:-1]).any():
        order = np.argsort(day, kind="stable")
        day, energy, temp = day[order], energy[order], temp[order]
    return day, energy, temp


def _periods(days: np.ndarray, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """Start index of each period in the sorted days, and the period labels."""
    if freq == "daily":
        return np.arange(len(days)), days
    months = days.astype("datetime64[M]")
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    return starts, months[starts]


def _batched_lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve min ||X_g b - y|| for a stack X of shape (G, n, p): coefficients (G, p), SSE (G,)."""
    q, r = np.linalg.qr(x)
    qty = np.einsum("gnp,n->gp", q, y)
    diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
    singular = (diag <= 1e-9 * diag.max(axis=1, keepdims=True)).any(axis=1)
    if singular.any():  # a degree-day column of zeros: that candidate cannot be solved
        r = r.copy()
        r[singular] = np.eye(r.shape[1])
    beta = np.linalg.solve(r, qty[..., None])[..., 0]
    resid = y[None, :] - np.einsum("gnp,gp->gn", x, beta)
    sse = np.einsum("gn,gn->g", resid, resid)
    sse[singular] = np.nan
    return beta, sse


def _two_regressor_lstsq(a: np.ndarray, h: np.ndarray, y: np.ndarray, unit_a: bool = False):
    """min ||b0 a + b1 h_g - y|| for every row h_g of `h` (G, n) at once, by the normal
    equations of two regressors in closed form: a few sums per candidate instead of a QR of
    each design matrix. Coefficients (G, 2), SSE (G,) (NaN where h_g cannot be solved, a row
    of zeros). `unit_a`: `a` is all ones (daily), so `b0 * a` is `b0` exactly."""
    s_aa, s_ay = a @ a, a @ y
    s_ah, s_hh, s_hy = h @ a, np.einsum("gn,gn->g", h, h), h @ y
    det = s_aa * s_hh - s_ah * s_ah
    singular = det <= 1e-12 * s_aa * np.maximum(s_hh, np.finfo(float).tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        b0 = (s_hh * s_ay - s_ah * s_hy) / det
        b1 = (s_aa * s_hy - s_ah * s_ay) / det
    # exact residuals, not Syy - b.Sxy; the same element-wise operations as
    # y - b0 a - b1 h, in place (each is exact: only the sum below rounds)
    resid = y[None, :] - (b0[:, None] if unit_a else b0[:, None] * a[None, :])
    np.subtract(resid, b1[:, None] * h, out=resid)
    sse = np.einsum("gn,gn->g", resid, resid)
    beta = np.column_stack([b0, b1])
    beta[singular] = np.nan
    sse[singular] = np.nan
    return beta, sse


def fit_changepoint(
    daily: pd.DataFrame,
    freq: str = "daily",
    cooling: bool = False,
    tb_grid_c=TB_GRID_C,
    tc_grid_c=TC_GRID_C,
) -> ChangePointModel:
    """Fit on days with energy_kwh and temp_mean_c (columns: day, energy_kwh, temp_mean_c).

    The heating slope must be positive (and the cooling one) and the base load not negative:
    otherwise the weather does not explain the consumption and the model falls back to a
    constant per day (or, with `cooling`, to the heating-only model).
    """
    if freq not in ("daily", "monthly"):
        raise ValueError("freq doit valoir 'daily' ou 'monthly'")
    day, energy, temp = _usable_arrays(daily)
    if len(day) < 3:
        raise ValueError("pas assez de jours avec consommation et température pour ajuster")
    starts, labels = _periods(day, freq)
    daily_freq = freq == "daily"
    y = energy if daily_freq else np.add.reduceat(energy, starts)
    ndays = np.ones_like(energy) if daily_freq else np.add.reduceat(np.ones_like(energy), starts)
    tb = np.asarray(tb_grid_c, dtype=float)
    hdd = np.subtract(tb[:, None], temp[None, :])
    np.maximum(0.0, hdd, out=hdd)
    if not daily_freq:
        hdd = np.add.reduceat(hdd, starts, axis=1)
    n = len(y)

    if cooling:
        tc = np.asarray(tc_grid_c, dtype=float)
        cdd = np.maximum(0.0, temp[None, :] - tc[:, None])
        if not daily_freq:
            cdd = np.add.reduceat(cdd, starts, axis=1)
        ih, ic = np.meshgrid(np.arange(len(tb)), np.arange(len(tc)), indexing="ij")
        ih, ic = ih.ravel(), ic.ravel()
        ok_pair = tc[ic] >= tb[ih]
        ih, ic = ih[ok_pair], ic[ok_pair]
        x = np.stack([np.broadcast_to(ndays, (len(ih), n)), hdd[ih], cdd[ic]], axis=2)
        beta, sse = _batched_lstsq(x, y)
    else:
        beta, sse = _two_regressor_lstsq(ndays, hdd, y, unit_a=daily_freq)
    # physical signs: a base load that is not negative, a heating slope that is positive
    valid = np.isfinite(sse) & (beta[:, 1] > 0) & (beta[:, 0] >= 0)
    if cooling:
        valid &= beta[:, 2] > 0
    if not valid.any():
        if cooling:  # no cooling signal: the heating model may still hold
            return fit_changepoint(daily, freq, False, tb_grid_c, tc_grid_c)
        b0 = float(y.sum() / ndays.sum())
        return _finish(freq, "mean", y, ndays * b0, labels, ndays, None, b0, p=1)
    best = int(np.argmin(np.where(valid, sse, np.inf)))
    b = beta[best]
    if cooling:
        predicted = x[best] @ b
        hdd_best = x[best][:, 1]
    else:
        hdd_best = hdd[best]
        predicted = b[0] * ndays + b[1] * hdd_best
    if cooling:
        return _finish(
            freq, "heating_cooling", y, predicted, labels, ndays, hdd_best, float(b[0]),
            b1=float(b[1]), tb=float(tb[ih[best]]), b2=float(b[2]), tc=float(tc[ic[best]]),
            p=5,
        )  # fmt: skip
    return _finish(
        freq, "heating", y, predicted, labels, ndays, hdd_best, float(b[0]),
        b1=float(b[1]), tb=float(tb[best]), p=3,
    )  # fmt: skip


def _finish(
    freq, kind, y, predicted, labels, ndays, hdd, b0, b1=0.0, tb=None, b2=0.0, tc=None, p=1
):
    return ChangePointModel(
        freq=freq,
        kind=kind,
        b0_kwh_per_day=b0,
        b1_kwh_per_dd=b1,
        balance_temp_c=tb,
        b2_kwh_per_cdd=b2,
        cooling_balance_temp_c=tc,
        n=len(y),
        p=p,
        data=_FitData(y, predicted, labels, ndays, hdd),
    )
