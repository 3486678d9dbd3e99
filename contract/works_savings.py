"""Measured savings of the town's works (IPMVP option C, whole building, the existing baseline
engine): a monthly change-point model fitted on the 12 months before the works, the savings
on each month after, judged against ASHRAE Guideline 14's monthly thresholds (CV(RMSE) 15 %,
NMBE 5 %) with their fractional uncertainty (FSU, 90 %). Monthly, as whole-building option C
is: a day's consumption follows the week's use more than the weather.

Works on one building are measured one at a time, so a work whose baseline year or own span
meets another work's cannot be told apart from it: it is reported as overlapping, with the
other works named, and nothing is attributed to it. A later work only ends the reporting period
of an earlier one (the day before it starts), and the note says so.

The annual saving is the measured fraction of the baseline year's consumption (its weather
and its model), which does not depend on which months of the year happen to be measured yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contract.reports import fit_baseline

MIN_REPORTING_DAYS = 30  # less than a month after the works: too early to say


@dataclass(frozen=True)
class WorksPlan:
    """What the record says of one work and of where it is measured."""

    works_id: int
    building_code: str
    title: str
    starts_on: dt.date
    ends_on: dt.date | None
    net_cost_eur: float  # cost minus subsidies
    expected_mwh_per_year: float | None
    channel_code: str | None  # the contract's channel of the building
    station_code: str | None
    price_eur_per_mwh_pci: float | None
    pcs_pci_ratio: float = 1.11


@dataclass
class WorksMeasure:
    works_id: int
    status: str  # measured, planned, waiting, overlap, no_channel, no_data
    note: str  # in French, for the user
    baseline: tuple[dt.date, dt.date] | None = None
    reporting: tuple[dt.date, dt.date] | None = None
    overlaps: tuple[int, ...] = ()
    measured_savings_mwh: float | None = None  # MWh PCI over the reporting period
    measured_mwh_per_year: float | None = None
    savings_pct: float | None = None
    cvrmse: float | None = None
    nmbe: float | None = None
    fsu: float | None = None
    accepted: bool | None = None  # Guideline 14 calibration (CV(RMSE) and NMBE)
    fsu_ok: bool | None = None
    savings_eur: float | None = None  # cumulative, at the contract's price
    payback_years: float | None = None
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def works_windows(
    plan: WorksPlan, others: list[WorksPlan], data_end: dt.date | None
) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date] | None, tuple[int, ...], str]:
    """(baseline, reporting or None, overlapping works, note) of a work among its building's
    others: the baseline is the year before it starts, the reporting period runs from the day
    after it ends to the data's last day or the day before the next work starts."""
    start = plan.starts_on
    end = plan.ends_on or plan.starts_on
    baseline = (start.replace(year=start.year - 1), start - dt.timedelta(days=1))
    overlaps, next_start = [], None
    for other in others:
        if other.works_id == plan.works_id or other.building_code != plan.building_code:
            continue
        o_end = other.ends_on or other.starts_on
        if other.starts_on <= end and o_end >= baseline[0]:
            overlaps.append(other.works_id)
        elif other.starts_on > end and (next_start is None or other.starts_on < next_start):
            next_start = other.starts_on
    rep_from = end + dt.timedelta(days=1)
    rep_to = data_end
    note = ""
    if next_start is not None and (rep_to is None or next_start <= rep_to):
        rep_to = next_start - dt.timedelta(days=1)
        note = f"mesure arrêtée au {rep_to:%d/%m/%Y} : des travaux suivent sur le bâtiment"
    reporting = (rep_from, rep_to) if rep_to is not None and rep_to >= rep_from else None
    return baseline, reporting, tuple(sorted(overlaps)), note


def measure_works(
    plan: WorksPlan,
    others: list[WorksPlan],
    load_frames: Callable,
    data_end: dt.date | None,
    today: dt.date,
) -> WorksMeasure:
    """The measured savings of one work. `load_frames(channel, station, baseline, reporting)`
    returns its days (`carnet.frames.baseline_frames` on the record)."""
    baseline, reporting, overlaps, note = works_windows(plan, others, data_end)
    out = WorksMeasure(plan.works_id, "measured", note, baseline, reporting, overlaps)
    if overlaps:
        out.status = "overlap"
        names = ", ".join(f"n° {i}" for i in overlaps)
        out.note = f"chevauche {names} : économies non attribuées (mesure commune impossible)"
        return out
    if plan.starts_on > today:
        out.status, out.note = "planned", "travaux prévus"
        return out
    if plan.channel_code is None or plan.station_code is None:
        out.status, out.note = "no_channel", "pas de compteur de contrat ni de station météo"
        return out
    if reporting is None or (reporting[1] - reporting[0]).days + 1 < MIN_REPORTING_DAYS:
        out.status, out.note = "waiting", "moins d'un mois de relevés après les travaux"
        return out
    frames = load_frames(plan.channel_code, plan.station_code, baseline, reporting)
    if frames.baseline_days["energy_kwh"].notna().sum() < 300 or (
        frames.reporting_days["energy_kwh"].notna().sum() < MIN_REPORTING_DAYS
    ):
        out.status, out.note = "no_data", "relevés insuffisants sur l'année de référence"
        return out
    report = fit_baseline(frames, freq="monthly")
    return _fill(out, plan, report)


def _fill(out: WorksMeasure, plan: WorksPlan, report) -> WorksMeasure:
    model, sav = report.model, report.savings
    ratio = plan.pcs_pci_ratio or 1.11
    price = float(plan.price_eur_per_mwh_pci) if plan.price_eur_per_mwh_pci is not None else None
    fraction = sav.savings_kwh / sav.predicted_kwh if sav.predicted_kwh else float("nan")
    base = report.daily[report.daily["segment"] == "baseline"]
    days_base = int(base["predicted_kwh"].notna().sum())
    year_kwh = float(base["predicted_kwh"].sum()) * 365.0 / days_base if days_base else np.nan
    out.measured_savings_mwh = sav.savings_kwh / 1000.0 / ratio
    out.measured_mwh_per_year = fraction * year_kwh / 1000.0 / ratio
    out.savings_pct = sav.savings_pct
    out.cvrmse, out.nmbe, out.fsu = model.cvrmse, model.nmbe, sav.fsu
    out.accepted = bool(model.acceptance["accepted"])
    out.fsu_ok = sav.fsu_ok
    monthly = sav.monthly[["month", "days", "observed_kwh", "predicted_kwh", "savings_kwh"]].copy()
    monthly["savings_mwh_pci"] = monthly["savings_kwh"] / 1000.0 / ratio
    if price is not None:
        monthly["savings_eur"] = monthly["savings_mwh_pci"] * price
        monthly["cumulative_eur"] = monthly["savings_eur"].cumsum()
        out.savings_eur = float(monthly["savings_eur"].sum())
        out.payback_years = payback_years(plan.net_cost_eur, out.measured_mwh_per_year, price)
    out.monthly = monthly
    if not out.accepted:
        out.note = _join(out.note, "modèle hors des seuils du Guideline 14")
    elif not out.fsu_ok:
        out.note = _join(out.note, "incertitude supérieure à 50 % des économies")
    return out


def _join(a: str, b: str) -> str:
    return f"{a} ; {b}" if a else b


def payback_years(
    net_cost_eur: float, mwh_per_year: float | None, price_eur_per_mwh: float
) -> float | None:
    """Simple payback: what the work cost the town (subsidies deducted) over what it saves a
    year at the contract's price; None when it saves nothing."""
    if mwh_per_year is None or not np.isfinite(mwh_per_year) or mwh_per_year <= 0:
        return None
    return float(net_cost_eur) / (float(mwh_per_year) * float(price_eur_per_mwh))


def programme_frame(plans: list[WorksPlan], measures: dict[int, WorksMeasure]) -> pd.DataFrame:
    """The programme, one row a work, ranked by euros (net) per MWh saved a year: measured when
    it is, expected otherwise (`basis` says which); works saving nothing come last."""
    rows = []
    for p in plans:
        m = measures[p.works_id]
        measured = m.measured_mwh_per_year if m.status == "measured" else None
        mwh = measured if measured is not None else p.expected_mwh_per_year
        basis = "mesuré" if measured is not None else ("attendu" if mwh is not None else "")
        per_mwh = p.net_cost_eur / mwh if mwh is not None and mwh > 0 else np.nan
        rows.append(
            {
                "works_id": p.works_id,
                "building": p.building_code,
                "title": p.title,
                "net_cost_eur": p.net_cost_eur,
                "expected_mwh_per_year": p.expected_mwh_per_year,
                "measured_mwh_per_year": measured,
                "eur_per_mwh_year": per_mwh,
                "basis": basis,
                "status": m.status,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["eur_per_mwh_year", "works_id"], na_position="last").reset_index(
        drop=True
    )


def measure_programme(
    plans: list[WorksPlan], load_frames: Callable, data_ends: dict, today: dt.date
) -> dict[int, WorksMeasure]:
    """Every work measured among its building's others; `data_ends` maps a channel code to its
    last day of data."""
    return {
        p.works_id: measure_works(p, plans, load_frames, data_ends.get(p.channel_code), today)
        for p in plans
    }


def tertiaire_steps(trajectory: pd.DataFrame, works: list[tuple[int, float]]) -> pd.DataFrame:
    """The Décret tertiaire trajectory (`contract.tertiaire.tertiaire_trajectory`) with the
    works as steps: `with_works_kwh` is where the building goes from its last known year
    (adjusted consumption, else the reference) as each work's annual saving (`works`: (year
    it starts, kWh PCS a year)) counts from the year after it starts, its first full year."""
    out = trajectory.copy()
    out["with_works_kwh"] = np.nan
    if not works:
        return out
    first = min(year for year, _kwh in works)
    known = out[(out["year"] <= first) & out["adjusted_kwh"].notna()]
    start_year = int(known["year"].iloc[-1]) if len(known) else int(out["year"].iloc[0])
    start_kwh = (
        float(known["adjusted_kwh"].iloc[-1]) if len(known) else float(out["target_kwh"].iloc[0])
    )
    years = out["year"].to_numpy()
    saved = np.zeros(len(out))
    for year, kwh in works:
        saved += np.where(years > year, float(kwh), 0.0)
    out["with_works_kwh"] = np.where(years >= start_year, start_kwh - saved, np.nan)
    return out
