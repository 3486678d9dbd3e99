"""Goodness of fit and savings uncertainty (ASHRAE Guideline 14 / IPMVP option C).

`p` is the number of model parameters *including* searched balance temperatures: a 3-parameter
heating change-point model (b0, b1, Tb) has p = 3, as in Guideline 14's inverse models.
"""

from __future__ import annotations

import math

import numpy as np

# Guideline 14 calibration thresholds (fractions): CV(RMSE), |NMBE|
THRESHOLDS = {"monthly": (0.15, 0.05), "daily": (0.30, 0.10), "hourly": (0.30, 0.10)}
FSU_MAX = 0.50


def r2(observed, predicted) -> float:
    y = np.asarray(observed, dtype=float)
    sse = float(np.sum((y - np.asarray(predicted, dtype=float)) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - sse / sst if sst > 0 else float("nan")


def cvrmse(observed, predicted, p: int) -> float:
    """`sqrt(SSE / (n - p)) / mean(E)` (a fraction)."""
    y = np.asarray(observed, dtype=float)
    n = len(y)
    if n <= p or y.mean() == 0:
        return float("nan")
    sse = float(np.sum((y - np.asarray(predicted, dtype=float)) ** 2))
    return math.sqrt(sse / (n - p)) / float(y.mean())


def nmbe(observed, predicted, p: int) -> float:
    """`sum(E - Ê) / ((n - p) * mean(E))` (a fraction)."""
    y = np.asarray(observed, dtype=float)
    n = len(y)
    if n <= p or y.mean() == 0:
        return float("nan")
    return float(np.sum(y - np.asarray(predicted, dtype=float))) / ((n - p) * float(y.mean()))


def lag1_autocorrelation(residuals) -> float:
    r = np.asarray(residuals, dtype=float)
    if len(r) < 3:
        return 0.0
    r = r - r.mean()
    den = float(np.sum(r * r))
    return float(np.sum(r[1:] * r[:-1]) / den) if den > 0 else 0.0


def t_quantile(dof: float, confidence: float = 0.90) -> float:
    """Two-sided Student t quantile, Cornish-Fisher expansion of the normal one.

    Accurate to ~1e-3 for dof >= 5, enough for an uncertainty band, and keeps scipy out of the
    runtime dependencies (the tests check it against scipy).
    """
    z = _normal_quantile(0.5 + confidence / 2.0)
    if not np.isfinite(dof) or dof <= 0:
        return float("nan")
    v = float(dof)
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def _normal_quantile(q: float) -> float:
    """Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    if q < 0.02425:
        s = math.sqrt(-2 * math.log(q))
        return (((((c[0] * s + c[1]) * s + c[2]) * s + c[3]) * s + c[4]) * s + c[5]) / (
            (((d[0] * s + d[1]) * s + d[2]) * s + d[3]) * s + 1
        )
    if q > 1 - 0.02425:
        return -_normal_quantile(1 - q)
    s = q - 0.5
    r = s * s
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * s
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def fractional_savings_uncertainty(
    cv: float, n: int, p: int, m: int, savings_fraction: float, rho: float, confidence=0.90
) -> float:
    """`FSU = t * 1.26 * CV * sqrt((n / n') * (1 + 2 / n') / m) / F`, `n' = n (1-rho)/(1+rho)`.

    A negative autocorrelation would make n' > n and flatter the model: rho is floored at 0.
    """
    if m <= 0 or not savings_fraction or not np.isfinite(cv) or n <= p:
        return float("nan")
    rho = max(0.0, min(rho, 0.99))
    n_eff = n * (1.0 - rho) / (1.0 + rho)
    t = t_quantile(n - p, confidence)
    # relative to the size of the savings: an overrun has an uncertainty of the same kind
    return t * 1.26 * cv * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / m) / abs(savings_fraction)


def acceptance(cv: float, nm: float, freq: str) -> dict:
    """Flags against Guideline 14: monthly CV(RMSE) <= 15 %, |NMBE| <= 5 %; daily 30 % / 10 %."""
    cv_max, nmbe_max = THRESHOLDS[freq]
    cv_ok = bool(np.isfinite(cv) and cv <= cv_max)
    nmbe_ok = bool(np.isfinite(nm) and abs(nm) <= nmbe_max)
    return {
        "cvrmse_max": cv_max,
        "nmbe_max": nmbe_max,
        "cvrmse_ok": cv_ok,
        "nmbe_ok": nmbe_ok,
        "accepted": cv_ok and nmbe_ok,
    }
