"""Closed figures and their regularisations, as pure functions of frames and dicts.

A closed period keeps its figures exactly as `carnet settle --json` and `carnet export finance`
showed them: `settlement_payload` is that JSON, `finance_records` / `finance_frame` a lossless
round trip of the export's lines (so the CSV of a closed month is byte-identical whatever
happens later). A pending regularisation is the difference between the settlement recomputed
with what waits and the closed figures: `settlement_delta`, in MWh and integer cents.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from contract.settlement import FIGURE_COLUMNS, SettlementReport

MONEY_COLUMNS = ("p1_value_eur", "bonus_eur", "penalty_eur", "net_to_contractor_eur")


# --- the settlement as shown ------------------------------------------------------------------


def _num(value, ndigits: int = 4):
    if value is None:
        return None
    value = float(value)
    return round(value, ndigits) if math.isfinite(value) else None


def _eur(value) -> str:
    return f"{Decimal(value):.2f}"


def _row(rec: dict) -> dict:
    out = {k: _num(rec.get(k)) for k in FIGURE_COLUMNS if k in rec}
    out["bonus_eur"] = _eur(rec["bonus_eur"])
    out["penalty_eur"] = _eur(rec["penalty_eur"])
    for k in ("days", "days_missing", "days_estimated", "dju_days_missing"):
        if k in rec and rec[k] is not None:
            out[k] = int(rec[k])
    if "in_franchise" in rec:
        out["in_franchise"] = bool(rec["in_franchise"])
    if "previous_deviation_pct" in rec:
        out["previous_deviation_pct"] = _num(rec["previous_deviation_pct"])
    out["alerts"] = list(rec.get("alerts") or [])
    return out


def settlement_payload(report: SettlementReport) -> dict:
    """What `carnet settle --json` prints: dots, euros as strings with two decimals."""
    buildings = [
        {"building_code": rec["building_code"], "building_name": rec["building_name"]} | _row(rec)
        for rec in report.buildings.to_dict("records")
    ]
    months = [
        {"building_code": rec["building_code"], "month": rec["month"]} | _row(rec)
        for rec in report.months.to_dict("records")
    ]
    return {
        "contract": report.contract_code,
        "kind": report.kind,
        "season": report.season,
        "month": report.month,
        "period": {"from": report.period_from.isoformat(), "to": report.period_to.isoformat()},
        "season_complete": report.season_complete,
        "dju_method": report.dju_method,
        "dju_base_c": report.dju_base_c,
        "station": report.station_code,
        "price_eur_per_mwh_pci": str(report.price_eur_per_mwh_pci),
        "buildings": buildings,
        "total": _row(report.total),
        "months": months,
    }


def _frame_of(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("bonus_eur", "penalty_eur"):
        if col in frame:
            frame[col] = [Decimal(v) for v in frame[col]]
    return frame


def report_from_payload(payload: dict) -> SettlementReport:
    """A SettlementReport rebuilt from stored figures (no ledger): what the pages read."""
    total = dict(payload["total"])
    total["bonus_eur"] = Decimal(total["bonus_eur"])
    total["penalty_eur"] = Decimal(total["penalty_eur"])
    return SettlementReport(
        contract_code=payload["contract"],
        season=payload["season"],
        month=payload["month"],
        period_from=pd.Timestamp(payload["period"]["from"]).date(),
        period_to=pd.Timestamp(payload["period"]["to"]).date(),
        dju_method=payload["dju_method"],
        dju_base_c=payload["dju_base_c"],
        station_code=payload["station"],
        price_eur_per_mwh_pci=Decimal(payload["price_eur_per_mwh_pci"]),
        kind=payload["kind"],
        buildings=_frame_of(payload["buildings"]),
        months=_frame_of(payload["months"]),
        total=total,
        season_complete=bool(payload["season_complete"]),
    )


def with_closed_months(payload: dict, closed_months: dict[str, dict]) -> dict:
    """A season's payload whose month rows of closed months are the signed ones."""
    if not closed_months:
        return payload
    kept = [m for m in payload["months"] if m["month"] not in closed_months]
    signed = [m for p in closed_months.values() for m in p["months"]]
    out = dict(payload)
    out["months"] = sorted(kept + signed, key=lambda m: (m["building_code"], m["month"]))
    return out


# --- the finance export's lines, losslessly ---------------------------------------------------


def _plain(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def season_payload_with_closed_months(payload: dict, closed_months: dict) -> dict:
    """A live season payload whose closed months (`carnet.closed_views.closed_months`: views
    with a `payload` and a `marker`) show their signed rows and markers."""
    if not closed_months:
        return payload
    out = with_closed_months(payload, {m: v.payload for m, v in closed_months.items()})
    out["closed_months"] = {m: v.marker for m, v in sorted(closed_months.items())}
    return out


def finance_records(frame: pd.DataFrame) -> dict:
    """The export frame as JSON-safe columns (money as strings), with the column order."""
    return {
        "columns": list(frame.columns),
        "dtypes": {c: str(frame[c].dtype) for c in frame.columns},
        "rows": [[_plain(v) for v in row] for row in frame.astype(object).to_numpy().tolist()],
    }


def finance_frame(records: dict) -> pd.DataFrame:
    """Inverse of `finance_records`: same values, same dtypes, hence the same CSV bytes."""
    columns = records["columns"]
    rows = records["rows"]
    data = {}
    for i, col in enumerate(columns):
        values = [r[i] for r in rows]
        if col in MONEY_COLUMNS:
            data[col] = pd.Series([None if v is None else Decimal(v) for v in values], dtype=object)
            continue
        dtype = records["dtypes"].get(col, "object")
        if dtype.startswith("float"):
            data[col] = pd.Series([np.nan if v is None else v for v in values], dtype=dtype)
        elif dtype.startswith("int") and all(v is not None for v in values):
            data[col] = pd.Series(values, dtype=dtype)
        else:
            data[col] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=columns)


# --- pending regularisations ------------------------------------------------------------------


def _cents(text_eur) -> int:
    return int((Decimal(str(text_eur)) * 100).to_integral_value())


def settlement_delta(closed: dict, now: dict) -> pd.DataFrame:
    """Per building (and TOTAL) of two settle payloads of the same period: MWh PCI
    differences and euro differences in integer cents (the euros are already rounded half-up
    to the cent on both sides, so their difference is exact)."""

    def lines(payload):
        rows = {b["building_code"]: b for b in payload["buildings"]}
        rows["TOTAL"] = payload["total"] | {"building_name": "Total"}
        return rows

    a, b = lines(closed), lines(now)
    out = []
    for code in [c for c in b if c != "TOTAL"] + ["TOTAL"]:  # a dozen buildings
        old, new = a.get(code), b[code]
        if old is None:
            continue
        rec = {"building_code": code, "building_name": new.get("building_name", code)}
        for k in ("actual_mwh_pci", "target_mwh_pci", "gap_mwh", "dju"):
            x, y = old.get(k), new.get(k)
            rec[f"delta_{k}"] = None if x is None or y is None else round(y - x, 4)
        rec["delta_bonus_cents"] = _cents(new["bonus_eur"]) - _cents(old["bonus_eur"])
        rec["delta_penalty_cents"] = _cents(new["penalty_eur"]) - _cents(old["penalty_eur"])
        rec["delta_net_cents"] = rec["delta_bonus_cents"] - rec["delta_penalty_cents"]
        out.append(rec)
    return pd.DataFrame(out)


def minus_booked(delta: pd.DataFrame, booked: pd.DataFrame, codes: dict[int, str]) -> pd.DataFrame:
    """What remains to regularise once the lines already booked are deducted."""
    if booked is None or not len(booked):
        return delta
    out = delta.set_index("building_code").copy()
    for reg in booked.to_dict("records"):  # a few booked lines
        code = codes.get(reg["building_id"])
        d = reg.get("details") or {}
        for target in (code, "TOTAL"):
            if target not in out.index:
                continue
            booked_mwh = {
                "delta_actual_mwh_pci": reg["delta_mwh_pci"],
                "delta_target_mwh_pci": d.get("delta_target_mwh_pci"),
                "delta_gap_mwh": d.get("delta_gap_mwh"),
            }
            for col, value in booked_mwh.items():
                out.loc[target, col] = round((out.loc[target, col] or 0.0) - (value or 0.0), 4)
            for k in ("bonus", "penalty"):
                out.loc[target, f"delta_{k}_cents"] -= int(d.get(f"delta_{k}_cents", 0))
            out.loc[target, "delta_net_cents"] -= int(reg["delta_cents"])
    return out.reset_index()


def fr_signed(value: float, decimals: int) -> str:
    text = f"{abs(value):,.{decimals}f}".replace(",", "\u00a0").replace(".", ",")
    return ("+" if value >= 0 else "−") + text


def describe_delta(rec: dict) -> str:
    """« +0,45 MWh PCI, +41,63 € d'intéressement » (only what moves, MWh always)."""
    parts = [f"{fr_signed(rec.get('delta_actual_mwh_pci') or 0.0, 2)} MWh PCI"]
    if rec.get("delta_bonus_cents"):
        parts.append(f"{fr_signed(rec['delta_bonus_cents'] / 100, 2)} € d'intéressement")
    if rec.get("delta_penalty_cents"):
        parts.append(f"{fr_signed(rec['delta_penalty_cents'] / 100, 2)} € de pénalité")
    return ", ".join(parts)


def is_zero(rec: dict, tol_mwh: float = 5e-4) -> bool:
    """Nothing to regularise: no cent moves and no MWh beyond the rounding of the figures
    (4 decimals per building, summed: a TOTAL may differ by a few 1e-4 MWh)."""
    return (
        abs(rec.get("delta_actual_mwh_pci") or 0.0) < tol_mwh
        and abs(rec.get("delta_target_mwh_pci") or 0.0) < tol_mwh
        and not rec.get("delta_bonus_cents")
        and not rec.get("delta_penalty_cents")
    )


# --- a signed season stays the previous season of the next one -------------------------------


def with_signed_previous(report: SettlementReport, signed: dict | None, terms) -> SettlementReport:
    """The two-season NB-revision alert of a complete season judged against the previous
    season's deviation as it was signed (its closed figures), not as recomputed today."""
    from contract.settlement import ALERT_LABELS_FR, nb_revision_flags

    b = report.buildings
    if signed is None or not report.season_complete or "previous_deviation_pct" not in b:
        return report
    signed_dev = {r["building_code"]: r.get("deviation_pct") for r in signed["buildings"]}
    prev = b["building_code"].map(signed_dev)
    b = b.copy()
    b["previous_deviation_pct"] = np.where(
        prev.notna(), prev.astype(float), b["previous_deviation_pct"].astype(float)
    )
    _, two = nb_revision_flags(
        b["deviation_pct"], b["previous_deviation_pct"], terms.nb_revision_pct_one_season,
        terms.nb_revision_pct_two_seasons,
    )  # fmt: skip
    order = list(ALERT_LABELS_FR)
    alerts = []
    for row, flag in zip(b["alerts"], two, strict=True):  # one list per building
        kept = {a for a in row if a != "nb_revision_2_seasons"} | (
            {"nb_revision_2_seasons"} if flag else set()
        )
        alerts.append(sorted(kept, key=order.index))
    b["alerts"] = alerts
    report.buildings = b
    report.total = dict(report.total)
    report.total["alerts"] = sorted({a for row in alerts for a in row})
    return report
