"""The finance service's monthly export: what the month costs and what the clause moves.

One line per building of the contract for one month of the heating season, from the same
settlement as `carnet settle --month` (so the two always agree), plus the P1 energy value at
the contract price. Euros are Decimal, rounded half-up to the cent here, at the boundary.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from contract.inputs import LoadPlan, settle_frames, settlement_plan
from contract.regularisation import finance_frame
from contract.settlement import ALERT_LABELS_FR, SettlementReport
from contract.terms import ContractTerms, season_of_month

CENT = Decimal("0.01")

COLUMNS_FR = {
    "contract_code": "Contrat",
    "month": "Mois",
    "building_code": "Code bâtiment",
    "building_name": "Bâtiment",
    "actual_mwh_pci": "Consommation réelle (MWh PCI)",
    "target_mwh_pci": "Objectif corrigé N'B (MWh PCI)",
    "gap_mwh": "Écart N'B - réel (MWh PCI)",
    "gap_pct": "Écart (%)",
    "dju": "DJU du mois",
    "p1_value_eur": "Valeur P1 de la consommation (€)",
    "bonus_eur": "Intéressement dû à l'exploitant (€)",
    "penalty_eur": "Pénalité due par l'exploitant (€)",
    "net_to_contractor_eur": "Solde en faveur de l'exploitant (€)",
    "days_missing": "Jours manquants",
    "alerts": "Alertes",
    # added with closed months: who signed the month's figures, where a line comes from
    "closed": "Arrêté",
    "origin": "Origine",
}


def _eur(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def finance_month_frame(report: SettlementReport) -> pd.DataFrame:
    """Per building lines of a one-month settlement, with a total line, machine column names."""
    if report.month is None:
        raise ValueError("l'export financier porte sur un mois : settle(..., month=YYYY-MM)")
    b = report.buildings
    price = Decimal(str(report.price_eur_per_mwh_pci))
    frame = pd.DataFrame(
        {
            "contract_code": report.contract_code,
            "month": report.month,
            "building_code": b["building_code"],
            "building_name": b["building_name"],
            "actual_mwh_pci": b["actual_mwh_pci"].astype(float).round(3),
            "target_mwh_pci": b["target_mwh_pci"].astype(float).round(3),
            "gap_mwh": b["gap_mwh"].astype(float).round(3),
            "gap_pct": b["gap_pct"].astype(float).round(1),
            "dju": b["dju"].astype(float).round(1),
            "p1_value_eur": [
                None if pd.isna(v) else _eur(Decimal(str(v)) * price) for v in b["actual_mwh_pci"]
            ],
            "bonus_eur": [_eur(v) for v in b["bonus_eur"]],
            "penalty_eur": [_eur(v) for v in b["penalty_eur"]],
            "days_missing": b["days_missing"].astype(int),
            "alerts": [
                ", ".join(ALERT_LABELS_FR.get(a, a) for a in alerts) for alerts in b["alerts"]
            ],
        }
    )
    frame["net_to_contractor_eur"] = [
        bonus - penalty
        for bonus, penalty in zip(frame["bonus_eur"], frame["penalty_eur"], strict=True)
    ]
    frame["closed"] = ""
    frame["origin"] = ""
    total = {
        "contract_code": report.contract_code,
        "month": report.month,
        "building_code": "TOTAL",
        "building_name": f"Total ({len(frame)} bâtiments)",
        "actual_mwh_pci": round(float(frame["actual_mwh_pci"].sum()), 3),
        "target_mwh_pci": round(float(frame["target_mwh_pci"].sum()), 3),
        "gap_mwh": round(float(frame["gap_mwh"].sum()), 3),
        "gap_pct": None,
        "dju": None,
        "p1_value_eur": sum((v for v in frame["p1_value_eur"] if v is not None), Decimal("0.00")),
        "bonus_eur": sum(frame["bonus_eur"], Decimal("0.00")),
        "penalty_eur": sum(frame["penalty_eur"], Decimal("0.00")),
        "net_to_contractor_eur": sum(frame["net_to_contractor_eur"], Decimal("0.00")),
        "days_missing": int(frame["days_missing"].sum()),
        "alerts": "",
        "closed": "",
        "origin": "",
    }
    target = total["target_mwh_pci"]
    if target:
        total["gap_pct"] = round(100.0 * total["gap_mwh"] / target, 1)
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return frame[list(COLUMNS_FR)]


def regularisation_lines(regs: pd.DataFrame, contract_code: str, month: str) -> pd.DataFrame:
    """One line per regularisation booked in `month` (`carnet.closing.regularisations_in`):
    the differences of a closed month, after the TOTAL line (which stays the month's own
    settlement), each with its origin « régularisation de novembre 2025 (lot n° 12) »."""
    rows = []
    for reg in regs.to_dict("records"):  # a few booked lines
        d = reg.get("details") or {}
        bonus = Decimal(int(d.get("delta_bonus_cents", 0))) / 100
        penalty = Decimal(int(d.get("delta_penalty_cents", 0))) / 100
        rows.append(
            {
                "contract_code": contract_code,
                "month": month,
                "building_code": reg["building_code"] or "",
                "building_name": reg["building_name"] or "",
                "actual_mwh_pci": round(float(reg["delta_mwh_pci"]), 3),
                "target_mwh_pci": round(float(d.get("delta_target_mwh_pci") or 0.0), 3),
                "gap_mwh": round(float(d.get("delta_gap_mwh") or 0.0), 3),
                "gap_pct": None,
                "dju": None,
                "p1_value_eur": None,
                "bonus_eur": bonus.quantize(CENT),
                "penalty_eur": penalty.quantize(CENT),
                "net_to_contractor_eur": (Decimal(int(reg["delta_cents"])) / 100).quantize(CENT),
                "days_missing": 0,
                "alerts": "",
                "closed": "",
                "origin": d.get("origin") or f"régularisation n° {reg['id']}",
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS_FR))


def finance_lines(report: SettlementReport, regularisations: pd.DataFrame | None) -> pd.DataFrame:
    """The export lines of a one-month settlement, with the regularisations booked in it."""
    frame = finance_month_frame(report)
    if regularisations is not None and len(regularisations):
        frame = pd.concat(
            [frame, regularisation_lines(regularisations, report.contract_code, report.month)],
            ignore_index=True,
        )
    return frame


def finance_plan(terms: ContractTerms, month: str) -> LoadPlan:
    """What `monthly_finance` reads: the month's settlement inputs, its signed view if it is
    closed, the regularisations booked in it."""
    month = str(pd.Period(month, "M"))  # raises ValueError on a malformed month
    return settlement_plan(terms, season_of_month(month, terms.season_start), month)


def monthly_finance(terms: ContractTerms, month: str, frames) -> pd.DataFrame:
    """One month of a contract (up to yesterday) shaped for the finance service, with the
    regularisations booked in it, from what `finance_plan(terms, month)` loaded; a
    closed month gives its signed lines, marked « arrêté le JJ/MM/AAAA par … ».

    Raises ValueError for a month outside the season.
    """
    month = str(pd.Period(month, "M"))  # raises ValueError on a malformed month
    closed = frames.closed
    if closed is not None and closed.finance is not None:
        frame = finance_frame(closed.finance)
        frame["closed"] = closed.marker
        return frame
    report = settle_frames(terms, season_of_month(month, terms.season_start), frames, month)
    return finance_lines(report, frames.regularisations)
