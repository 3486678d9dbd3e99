"""Consumption per local day and month from the store's daily rollups.

The rollups are kWh PCS per local day (index and interval channels, conversion coefficient per
period already applied by `carnet.store`). Here they become MWh PCI through the contract's
PCS/PCI ratio. A day without a rollup, or whose energy is unknown, is *missing*: it is counted
and reported, never filled; estimated days are counted too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROLLUP_COLUMNS = ["channel_id", "day", "value", "energy_kwh", "coverage", "estimated"]


def kwh_pcs_to_mwh_pci(energy_kwh_pcs, pcs_pci_ratio: float):
    """`QT_pci = QT_pcs / r`, in MWh."""
    return energy_kwh_pcs / 1000.0 / pcs_pci_ratio


def daily_grid(rollups: pd.DataFrame, channel_ids, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per (channel, day) of `days`, rollup values joined, `missing` flagged.

    `rollups` has at least channel_id, day, energy_kwh and optionally value, estimated.
    """
    channel_ids = pd.Index(np.asarray(list(channel_ids), dtype="int64"), name="channel_id")
    days = pd.DatetimeIndex(days, name="day").normalize()
    grid = pd.MultiIndex.from_product([channel_ids, days], names=["channel_id", "day"])
    r = rollups.copy()
    r["day"] = pd.to_datetime(r["day"]).dt.normalize()
    r = r.drop_duplicates(["channel_id", "day"], keep="last").set_index(["channel_id", "day"])
    keep = [c for c in ("value", "energy_kwh", "estimated", "coverage") if c in r.columns]
    out = r[keep].reindex(grid)
    for col in ("value", "energy_kwh", "coverage"):
        if col not in out:
            out[col] = np.nan
        out[col] = out[col].astype("float64")
    est = out["estimated"] if "estimated" in out else pd.Series(False, index=out.index)
    out["estimated"] = est.astype("boolean").fillna(False).astype(bool)
    out["missing_energy"] = out["energy_kwh"].isna()
    out["missing_value"] = out["value"].isna()
    return out.reset_index()


def daily_consumption(
    rollups: pd.DataFrame, channel_ids, days: pd.DatetimeIndex, pcs_pci_ratio: float
) -> pd.DataFrame:
    """Per (channel, day): energy_kwh_pcs, energy_mwh_pci, missing, estimated."""
    grid = daily_grid(rollups, channel_ids, days)
    return pd.DataFrame(
        {
            "channel_id": grid["channel_id"],
            "day": grid["day"],
            "energy_kwh_pcs": grid["energy_kwh"],
            "energy_mwh_pci": kwh_pcs_to_mwh_pci(grid["energy_kwh"], pcs_pci_ratio),
            "missing": grid["missing_energy"],
            "estimated": grid["estimated"] & ~grid["missing_energy"],
        }
    )


def monthly_consumption(daily: pd.DataFrame) -> pd.DataFrame:
    """Per (channel, local month): sums of the days present, days missing and estimated."""
    frame = daily.assign(month=pd.DatetimeIndex(daily["day"]).to_period("M"))
    grouped = frame.groupby(["channel_id", "month"])
    return pd.DataFrame(
        {
            "energy_kwh_pcs": grouped["energy_kwh_pcs"].sum(min_count=1),
            "energy_mwh_pci": grouped["energy_mwh_pci"].sum(min_count=1),
            "days": grouped["day"].size(),
            "days_missing": grouped["missing"].sum().astype("int64"),
            "days_estimated": grouped["estimated"].sum().astype("int64"),
        }
    ).reset_index()
