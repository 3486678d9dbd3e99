"""The finance service's month, complete: the export lines of `contract.finance` with the
consumption in PCS too, the contract's reference, the P1 value at the revised price, the P2 and
P3 of the month, what the month costs in total and whether its figures are final.

Pure: the caller hands the export lines (live or signed), the contract's terms, the published
index values and today's date. A signed month keeps its signed consumption and euros; only the
columns added here are derived from them, the same way every time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from contract.finance import COLUMNS_FR, season_of_month
from contract.revision import (
    INDEX_COLUMNS,
    LOT_LABELS,
    MissingIndexError,
    RevisedPrices,
    describe_used,
    revise,
)
from contract.terms import ContractTerms, PriceRevision, month_label, season_bounds

CENT = Decimal("0.01")

TABLE_COLUMNS_FR = COLUMNS_FR | {
    "month_label": "Mois (libellé)",
    "period_from": "Du",
    "period_to": "Au",
    "actual_mwh_pcs": "Consommation réelle (MWh PCS)",
    "nb_mwh_pci": "NB du contrat (MWh PCI)",
    "dju_ref": "DJU de référence",
    "p1_price_eur_per_mwh_pci": "Prix P1 révisé (€/MWh PCI)",
    "p2_eur": "P2 conduite et entretien (€)",
    "p3_eur": "P3 gros entretien et renouvellement (€)",
    "total_eur": "Total du mois : P1 + P2 + P3 + solde (€)",
    "indices_used": "Indices de révision utilisés",
    "status": "Statut",
}
MWH_COLUMNS = ("actual_mwh_pci", "actual_mwh_pcs", "target_mwh_pci", "gap_mwh", "nb_mwh_pci")
EUR_COLUMNS = (
    "p1_value_eur",
    "bonus_eur",
    "penalty_eur",
    "net_to_contractor_eur",
    "p2_eur",
    "p3_eur",
    "total_eur",
)


@dataclass(frozen=True)
class FinanceMonth:
    """One month of one contract: `frame` (machine columns of TABLE_COLUMNS_FR), the index
    values read (`used`, see contract.revision) and the notes on the terms applied."""

    contract_code: str
    month: str
    frame: pd.DataFrame
    used: pd.DataFrame
    notes: pd.DataFrame
    provisional: bool


def lot_prices(terms: ContractTerms, months, indices: pd.DataFrame) -> dict[str, RevisedPrices]:
    """The three lots' prices month by month (P2, P3 only when the contract states them)."""
    out = {"p1": revise("p1", terms.price_eur_per_mwh_pci, terms.p1_revision, months, indices)}
    for lot in ("p2", "p3"):
        base = getattr(terms, f"{lot}_eur_per_month")
        if base is not None:
            revision = getattr(terms, f"{lot}_revision")
            out[lot] = revise(lot, base, revision, months, indices, places=2)
    return out


def used_indices(terms: ContractTerms, month: str, indices: pd.DataFrame) -> list[dict] | None:
    """What a close stores of the month's revision, so that a corrected or late index never
    moves a signed price: each index value read (name, billed month, the published month it
    fell back to, value); None when an index has no value yet (the export then says so)."""
    try:
        prices = lot_prices(terms, [month], indices)
    except MissingIndexError:
        return None
    used = [p.used for p in prices.values() if len(p.used)]
    if not used:
        return []
    rows = pd.concat(used).drop_duplicates(["index", "used_month"])
    return [
        {"name": str(n), "month": str(m), "used_month": str(u), "value": float(v)}
        for n, m, u, v in zip(
            rows["index"], rows["month"], rows["used_month"], rows["value"], strict=True
        )
    ]


SIGNED_BEFORE_INDICES = "indices actuels : arrêté avant leur enregistrement"
SIGNED_WITHOUT_INDICES = "indices actuels : non publiés à l'arrêt"


def month_indices(
    current: pd.DataFrame, closed: bool, stored: bool, signed: list[dict] | None
) -> tuple[pd.DataFrame, str]:
    """The index values a month's revision reads and the note saying where they come from: an
    open month reads the current ones; a closed month the ones its close stored (`signed`, as
    `used_indices` gave them), or, noted, the current ones when its close stored none (closed
    before they were stored: not `stored`; or not yet published then: `signed` None)."""
    if not closed:
        return current, ""
    if not stored:
        return current, SIGNED_BEFORE_INDICES
    if signed is None:
        return current, SIGNED_WITHOUT_INDICES
    frame = pd.DataFrame(
        {
            "name": [r["name"] for r in signed],
            "month": [r["used_month"] for r in signed],
            "value": [float(r["value"]) for r in signed],
        },
        columns=INDEX_COLUMNS,
    )
    return frame, ""


def _eur(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _period(terms: ContractTerms, month: str) -> tuple[dt.date, dt.date]:
    first, last = season_bounds(
        season_of_month(month, terms.season_start), terms.season_start, terms.season_end
    )
    p = pd.Period(month, "M")
    return max(first, p.start_time.date()), min(last, p.end_time.date())


def _why_provisional(missing: str, period_to: dt.date, today: dt.date, stale: str) -> list[str]:
    reasons = []
    if today <= period_to:
        reasons.append(f"mois en cours (données jusqu'au {today - dt.timedelta(days=1):%d/%m/%Y})")
    if missing:
        reasons.append(missing)
    if stale:
        reasons.append(stale)
    return reasons


def finance_table(
    lines: pd.DataFrame,
    terms: ContractTerms,
    indices: pd.DataFrame,
    today: dt.date,
    indices_note: str = "",
) -> FinanceMonth:
    """The month's lines (`contract.finance.monthly_finance`: buildings, TOTAL, then the
    regularisations booked in the month) completed for the finance service, with `indices`
    as `month_indices` chose them (its note added to a signed month's status)."""
    month = str(lines["month"].iloc[0])
    prices = lot_prices(terms, [month], indices)
    p1 = prices["p1"].prices["price"].iloc[0]
    used = pd.concat([p.used for p in prices.values() if len(p.used)] or [pd.DataFrame()])
    first, last = _period(terms, month)
    frame = lines.copy()
    is_total = (frame["building_code"] == "TOTAL").to_numpy()
    is_reg = (frame["origin"].fillna("") != "").to_numpy()
    is_building = ~is_total & ~is_reg
    ref = {b.building_code: (b.nb_mwh_pci, b.dju_ref) for b in terms.buildings}
    actual = pd.to_numeric(frame["actual_mwh_pci"], errors="coerce")
    frame["month_label"] = month_label(month)
    frame["period_from"] = first
    frame["period_to"] = last
    frame["actual_mwh_pcs"] = (actual * terms.pcs_pci_ratio).round(3)
    nb = frame["building_code"].map(lambda c: ref.get(c, (np.nan, np.nan))[0])
    frame["nb_mwh_pci"] = np.where(is_building, nb, np.nan)
    frame.loc[is_total, "nb_mwh_pci"] = float(np.nansum(frame["nb_mwh_pci"][is_building]))
    dju_ref = frame["building_code"].map(lambda c: ref.get(c, (np.nan, np.nan))[1])
    frame["dju_ref"] = np.where(is_building, dju_ref, np.nan)
    refs = pd.unique(frame["dju_ref"][is_building].dropna())
    frame.loc[is_total, "dju_ref"] = float(refs[0]) if len(refs) == 1 else np.nan
    frame["p1_price_eur_per_mwh_pci"] = [p1 if not r else None for r in is_reg]
    if p1 == Decimal(str(terms.price_eur_per_mwh_pci)):  # unrevised: the lines' own value
        p1_values = [
            v if b else None for v, b in zip(frame["p1_value_eur"], is_building, strict=True)
        ]
    else:  # revised: the MWh shown times the month's price, as a reader checks it
        p1_values = [
            _eur(Decimal(str(v)) * p1) if b and not pd.isna(v) else None
            for v, b in zip(frame["actual_mwh_pci"], is_building, strict=True)
        ]
    total_p1 = sum((v for v in p1_values if v is not None), Decimal("0.00"))
    frame["p1_value_eur"] = [total_p1 if t else v for v, t in zip(p1_values, is_total, strict=True)]
    for lot in ("p2", "p3"):
        amount = prices[lot].prices["price"].iloc[0] if lot in prices else None
        frame[f"{lot}_eur"] = [amount if t else None for t in is_total]
    frame["total_eur"] = [
        sum((x for x in (p1v, p2, p3) if x is not None), Decimal("0.00")) + net
        for p1v, p2, p3, net in zip(
            frame["p1_value_eur"], frame["p2_eur"], frame["p3_eur"],
            frame["net_to_contractor_eur"], strict=True,
        )
    ]  # fmt: skip
    described = describe_used(used, month) if len(used) else ""
    frame["indices_used"] = [described if not r else "" for r in is_reg]
    marker = str(frame["closed"].iloc[0] or "")
    if marker and indices_note:
        marker = f"{marker} ; {indices_note}"
    stale = ""
    if len(used) and used["late"].any():
        late = used[used["late"]].drop_duplicates(["index", "used_month"])
        stale = "indice(s) non publié(s) pour le mois : " + ", ".join(
            f"{i} (valeur {_of(month_label(m))})"
            for i, m in zip(late["index"], late["used_month"], strict=True)
        )
    days = pd.to_numeric(frame["days_missing"], errors="coerce").fillna(0).astype(int)
    short = days[is_building]
    in_total = (
        f"jusqu'à {short.max()} jour(s) sans données dans {int((short > 0).sum())} bâtiment(s)"
        if (short > 0).any()
        else ""
    )
    status = []
    for kind_building, n in zip(is_building, days, strict=True):
        if marker:
            status.append(marker)
            continue
        missing = (f"{n} jour(s) sans données" if n else "") if kind_building else in_total
        why = _why_provisional(missing, last, today, stale)
        status.append("provisoire : " + ", ".join(why) if why else "complet, non arrêté")
    frame["status"] = status
    frame = frame[list(TABLE_COLUMNS_FR)]
    head_status = status[int(np.flatnonzero(is_total)[0])] if is_total.any() else marker
    notes = terms_notes(terms, month, used, head_status)
    provisional = not marker and any(s.startswith("provisoire") for s in status)
    return FinanceMonth(terms.code, month, frame, used, notes, provisional)


def _of(label: str) -> str:
    """« d'octobre 2025 », « de novembre 2025 »."""
    return ("d'" if label[:1] in "aeiouyé" else "de ") + label


def _fr(x, digits: int = 4) -> str:
    text = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def formula(lot: str, base, revision: PriceRevision | None, unit: str) -> str:
    """« P1 = 92,5 €/MWh PCI × (0,15 + 0,85 × PEG_m / 28,4) »."""
    head = f"{LOT_LABELS[lot]} = {_fr(base)} {unit}"
    if revision is None:
        return head + " (non révisé)"
    parts = [_fr(revision.fixed)] + [
        f"{_fr(t.weight)} × {t.index}_m / {_fr(t.base)}" for t in revision.terms
    ]
    return f"{head} × ({' + '.join(parts)})"


def terms_notes(terms: ContractTerms, month: str, used: pd.DataFrame, status: str) -> pd.DataFrame:
    """The terms applied, as (Mois, Terme, Valeur) lines for the notes sheet: the contract's
    terms (Mois empty: the same every month), then the month's status and index values."""
    rows = [
        ("", "Contrat", f"{terms.code} · {terms.contractor} ({terms.kind})"),
        ("", "Prix P1", formula("p1", terms.price_eur_per_mwh_pci, terms.p1_revision, "€/MWh PCI")),
    ]
    for lot in ("p2", "p3"):
        base = getattr(terms, f"{lot}_eur_per_month")
        if base is not None:
            revision = getattr(terms, f"{lot}_revision")
            rows.append(("", f"Prix {LOT_LABELS[lot]}", formula(lot, base, revision, "€/mois")))
    rows += [
        ("", "Rapport PCS/PCI", _fr(terms.pcs_pci_ratio)),
        (
            "",
            "Degrés-jours",
            f"{terms.dju_method}, base {_fr(terms.dju_base_c)} °C"
            + (f", station {terms.station_code}" if terms.station_code else ""),
        ),
        (
            "",
            "Intéressement",
            f"franchise {_fr(terms.franchise_pct)} %, part de l'exploitant sur les économies "
            f"{_fr(terms.savings_share_contractor)}"
            + (f" (plafond {_fr(terms.savings_cap_pct)} % de N'B)" if terms.savings_cap_pct else "")
            + f", sur les excès {_fr(terms.overrun_share_contractor)} ; au prix P1 de base",
        ),
        ("", "Objectif corrigé", "N'B = NB × DJU du mois / DJU de référence"),
    ]
    label = month_label(month)
    rows.append((label, "Statut", status))
    for r in used.to_dict("records") if len(used) else []:
        late = " : dernière valeur publiée, le mois n'a pas encore la sienne" if r["late"] else ""
        rows.append(
            (
                label,
                f"Indice {r['index']} ({LOT_LABELS[r['lot']]})",
                f"{month_label(r['used_month'])} = {_fr(r['value'])}, base {_fr(r['base'])}{late}",
            )
        )
    return pd.DataFrame(rows, columns=["Mois", "Terme", "Valeur"])


def season_summary(months: list[FinanceMonth], season: str) -> pd.DataFrame:
    """One line per month (its TOTAL line, then its regularisations) and the season's total."""
    if not months:
        return pd.DataFrame(columns=list(TABLE_COLUMNS_FR))
    parts = []
    for m in months:
        f = m.frame
        keep = (f["building_code"] == "TOTAL") | (f["origin"].fillna("") != "")
        parts.append(f[keep])
    lines = pd.concat(parts, ignore_index=True)
    totals = lines[lines["building_code"] == "TOTAL"]
    row: dict = {c: None for c in TABLE_COLUMNS_FR}
    row |= {
        "contract_code": months[0].contract_code,
        "month": season,
        "month_label": f"saison {season}",
        "building_code": "SAISON",
        "building_name": f"Saison {season} ({len(months)} mois)",
        "period_from": lines["period_from"].min(),
        "period_to": lines["period_to"].max(),
        "days_missing": int(totals["days_missing"].sum()),
        "alerts": "",
        "closed": "",
        "origin": "",
        "indices_used": "",
        "status": "provisoire" if any(m.provisional for m in months) else "complet",
    }
    for col in ("actual_mwh_pci", "actual_mwh_pcs", "target_mwh_pci", "gap_mwh"):
        row[col] = round(float(lines[col].astype(float).sum()), 3)
    row["dju"] = round(float(totals["dju"].astype(float).sum()), 1)
    if row["target_mwh_pci"]:
        row["gap_pct"] = round(100.0 * row["gap_mwh"] / row["target_mwh_pci"], 1)
    for col in EUR_COLUMNS:
        row[col] = sum((v for v in lines[col] if v is not None), Decimal("0.00"))
    return pd.concat([lines, pd.DataFrame([row])], ignore_index=True)[list(TABLE_COLUMNS_FR)]


def french(frame: pd.DataFrame) -> pd.DataFrame:
    """French headers, months in words (« janvier 2026 »): what a finance officer reads."""
    out = frame.copy()
    out["month"] = out["month_label"]
    return out.drop(columns=["month_label"]).rename(columns=TABLE_COLUMNS_FR)
