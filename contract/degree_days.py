"""Heating degree days (DJU) from daily extremes or hourly temperatures.

Contracts name the method and the base (DESIGN.md, "Domain formulas"); every function takes both
explicitly so a figure can always say how it was computed. Days are local calendar dates
(`datetime64` at midnight, naive) except the Météo-France windows, which are defined in UTC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from contract.calendar import TZ_NAME, local_day_bounds

METHOD_LABELS_FR = {
    "costic": "COSTIC",
    "meteo_france": "Météo-France",
    "hourly": "horaire (somme des écarts horaires / 24)",
}
METHODS = tuple(METHOD_LABELS_FR)


def dju_meteo_france(tn_c, tx_c, base_c: float = 18.0):
    """`max(0, S - (Tn + Tx) / 2)`, element-wise (Series in, Series out)."""
    mean_c = (np.asarray(tn_c, dtype=float) + np.asarray(tx_c, dtype=float)) / 2.0
    out = np.maximum(0.0, base_c - mean_c)
    return _like(tn_c, out)


def dju_costic(tn_c, tx_c, base_c: float = 18.0):
    """COSTIC: `S - mean` when S >= Tx, 0 when S <= Tn, else the weighted partial day.

    The partial branch `(S - Tn) * (0.08 + 0.42 * (S - Tn) / (Tx - Tn))` accounts for the hours
    below the base on a day that crosses it, which the plain mean misses.
    """
    tn = np.asarray(tn_c, dtype=float)
    tx = np.asarray(tx_c, dtype=float)
    below = base_c - tn
    span = np.where(tx > tn, tx - tn, 1.0)  # the partial branch only runs when Tn < S < Tx
    partial = below * (0.08 + 0.42 * below / span)
    out = np.where(base_c >= tx, base_c - (tn + tx) / 2.0, np.where(base_c <= tn, 0.0, partial))
    out = np.where(np.isnan(tn) | np.isnan(tx), np.nan, out)
    return _like(tn_c, out)


def dju_daily(tn_c, tx_c, method: str = "costic", base_c: float = 18.0):
    """DJU of each day from its Tn/Tx with the named method."""
    if method == "costic":
        return dju_costic(tn_c, tx_c, base_c)
    if method in ("meteo_france", "hourly"):
        return dju_meteo_france(tn_c, tx_c, base_c)
    raise ValueError(f"méthode de DJU inconnue : {method!r} (attendu : {', '.join(METHODS)})")


def _like(template, values: np.ndarray):
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index, name="dju")
    return values


def _hourly_frame(hourly: pd.Series) -> pd.DataFrame:
    """An hourly temperature Series indexed by UTC epoch seconds or aware datetimes → ts, temp_c."""
    idx = hourly.index
    if isinstance(idx, pd.DatetimeIndex):
        if idx.tz is None:
            raise ValueError(f"horodatages naïfs : localisez-les (UTC ou {TZ_NAME})")
        ts = idx.tz_convert("UTC").as_unit("s").asi8
    else:
        ts = np.asarray(idx, dtype="int64")
    frame = pd.DataFrame({"ts": ts, "temp_c": hourly.to_numpy(dtype=float)})
    return frame[frame["temp_c"].notna()]


def _local_day(ts: np.ndarray) -> np.ndarray:
    local = pd.to_datetime(ts, unit="s", utc=True).tz_convert(TZ_NAME).tz_localize(None)
    return local.normalize().to_numpy()


def dju_from_hourly(hourly: pd.Series, base_c: float = 18.0) -> pd.DataFrame:
    """Per local day: `sum over hours of max(0, S - T_h) / 24`, with the hours present.

    A missing hour is not filled: the day's `hours` tells how complete it is (23 and 25 on DST
    days are complete).
    """
    frame = _hourly_frame(hourly)
    frame["day"] = _local_day(frame["ts"].to_numpy())
    frame["deficit"] = np.maximum(0.0, base_c - frame["temp_c"].to_numpy())
    grouped = frame.groupby("day")
    out = pd.DataFrame({"dju": grouped["deficit"].sum() / 24.0, "hours": grouped["ts"].size()})
    out.index.name = "day"
    return out


def tn_tx_meteo_france(hourly: pd.Series) -> pd.DataFrame:
    """Daily Tn and Tx of day D in the Météo-France windows, from hourly temperatures.

    Tn over [D-1 18:00, D 18:00) UTC and Tx over [D 06:00, D+1 06:00) UTC: the night before a
    day belongs to its minimum, the night after to its maximum. Windows are half-open so each
    hourly value falls in exactly one window of each kind.
    """
    frame = _hourly_frame(hourly)
    ts = frame["ts"].to_numpy()
    temp = frame["temp_c"].to_numpy()
    tn_day = pd.to_datetime(ts + 6 * 3600, unit="s").normalize()
    tx_day = pd.to_datetime(ts - 6 * 3600, unit="s").normalize()
    tn = pd.Series(temp).groupby(tn_day).min()
    tx = pd.Series(temp).groupby(tx_day).max()
    out = pd.concat({"tn_c": tn, "tx_c": tx}, axis=1, sort=True)
    out.index.name = "day"
    return out


def dju_per_period(daily_dju: pd.Series, freq: str = "month") -> pd.DataFrame:
    """Sum daily DJU per local month."""
    days = pd.DatetimeIndex(daily_dju.index)
    if freq != "month":
        raise ValueError("freq doit valoir 'month'")
    grouped = daily_dju.groupby(days.to_period("M").rename("month"))
    return pd.DataFrame({"dju": grouped.sum(min_count=1), "days": grouped.count()})


def station_daily_dju(
    tn_tx: pd.DataFrame | None,
    hourly: pd.Series | None,
    method: str = "costic",
    base_c: float = 18.0,
) -> pd.DataFrame:
    """Daily DJU of a station from what it has: daily Tn/Tx first, hourly temperatures second.

    `tn_tx` is indexed by day with columns tn_c, tx_c (daily min/max channels); `hourly` is
    indexed by UTC epoch seconds. With method "hourly" the hourly sum is used directly;
    otherwise days without daily extremes take Tn/Tx from the hourly series in the
    Météo-France windows. Days with neither stay absent (reported, never filled).
    """
    have_hourly = hourly is not None and len(hourly)
    if method == "hourly":
        if not have_hourly:
            return pd.DataFrame(columns=["dju", "tn_c", "tx_c", "source"]).rename_axis("day")
        out = dju_from_hourly(hourly, base_c)[["dju"]]
        out["tn_c"] = np.nan
        out["tx_c"] = np.nan
        out["source"] = "hourly"
        return out
    parts = []
    if tn_tx is not None and len(tn_tx):
        daily = tn_tx[["tn_c", "tx_c"]].dropna().copy()
        daily["source"] = "tn_tx"
        parts.append(daily)
    if have_hourly:
        derived = tn_tx_meteo_france(hourly).dropna()
        derived["source"] = "hourly_windows"
        parts.append(derived)
    if not parts:
        return pd.DataFrame(columns=["dju", "tn_c", "tx_c", "source"]).rename_axis("day")
    merged = parts[0] if len(parts) == 1 else parts[0].combine_first(parts[1])
    merged.index = pd.DatetimeIndex(merged.index).normalize()
    merged.index.name = "day"
    merged["dju"] = dju_daily(merged["tn_c"], merged["tx_c"], method, base_c).to_numpy()
    return merged[["dju", "tn_c", "tx_c", "source"]]


def station_dju(
    temperatures, station_id: int, day_from: dt.date, day_to: dt.date, method: str, base_c: float
) -> pd.DataFrame:
    """station_id, day, dju (plus tn_c, tx_c, source) over inclusive local dates, from a
    station's temperatures (`tn_tx`, `hourly`: `carnet.frames.station_temperatures`)."""
    hourly = temperatures.hourly
    if hourly is not None and method == "hourly":
        ts_from, ts_to = local_day_bounds(day_from, day_to)
        idx = hourly.index.to_numpy()
        hourly = hourly[(idx >= ts_from) & (idx < ts_to)]
    dju = station_daily_dju(temperatures.tn_tx, hourly, method, base_c)
    lo, hi = pd.Timestamp(day_from), pd.Timestamp(day_to)
    dju = dju[(dju.index >= lo) & (dju.index <= hi)]
    out = dju.reset_index()
    out.insert(0, "station_id", int(station_id))
    return out
