"""The finance export as a workbook: real numbers and dates (not text), a summary sheet, one
sheet per contract, a notes sheet with the terms applied; frozen header, euro and MWh formats.
The same lines as the French CSV (contract.finance_table), so the two never disagree."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from contract.finance_table import EUR_COLUMNS, MWH_COLUMNS, TABLE_COLUMNS_FR, FinanceMonth

EUR_FORMAT = '#,##0.00\\ "€"'
MWH_FORMAT = '#,##0.000\\ "MWh"'
PRICE_FORMAT = '#,##0.0000\\ "€"'
DATE_FORMAT = "dd/mm/yyyy"
FORMATS = {c: EUR_FORMAT for c in EUR_COLUMNS} | {c: MWH_FORMAT for c in MWH_COLUMNS}
FORMATS |= {
    "p1_price_eur_per_mwh_pci": PRICE_FORMAT,
    "gap_pct": "0.0",
    "dju": "0.0",
    "dju_ref": "0",
    "days_missing": "0",
    "period_from": DATE_FORMAT,
    "period_to": DATE_FORMAT,
}
SHOWN = [c for c in TABLE_COLUMNS_FR if c != "month_label"]  # « Mois » holds the label
HEAD_FILL = PatternFill("solid", fgColor="DDE5F0")


def _value(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item") and not isinstance(value, str | dt.date):
        return value.item()  # numpy scalars
    return value


def _sheet(ws, frame: pd.DataFrame, columns: list[str], headers: dict[str, str]) -> None:
    ws.append([headers[c] for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    data = frame.copy()
    if "month" in data and "month_label" in data:
        data["month"] = data["month_label"]
    for row in data[columns].astype(object).itertuples(index=False, name=None):
        ws.append([_value(v) for v in row])
    for j, col in enumerate(columns, start=1):
        fmt = FORMATS.get(col)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
        longest = max(
            [len(str(headers[col])) // 2 + 1]
            + [len(str(v)) + 2 for v in data[col].head(200) if v is not None]
        )
        ws.column_dimensions[get_column_letter(j)].width = min(max(longest, 10), 60)
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions


def sheet_name(code: str, taken: set[str]) -> str:
    """A sheet title Excel accepts (31 characters, no []:*?/\\), unique in the workbook."""
    base = "".join("-" if ch in "[]:*?/\\" else ch for ch in code)[:31] or "Contrat"
    name, n = base, 2
    while name.casefold() in taken:
        name = f"{base[:28]}-{n}"
        n += 1
    taken.add(name.casefold())
    return name


def workbook(contracts: dict[str, list[FinanceMonth]], summary: pd.DataFrame, title: str) -> bytes:
    """`contracts`: per contract code, its months (one for a monthly export, the season's
    otherwise); `summary`: the lines of the « Synthèse » sheet."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Synthèse"
    _sheet(ws, summary, SHOWN, TABLE_COLUMNS_FR)
    taken = {"synthèse", "notes"}
    notes = []
    for code, months in contracts.items():
        lines = pd.concat([m.frame for m in months], ignore_index=True)
        _sheet(wb.create_sheet(sheet_name(code, taken)), lines, SHOWN, TABLE_COLUMNS_FR)
        for m in months:
            notes.append(m.notes.assign(Contrat=code))
    ns = wb.create_sheet("Notes")
    ns.append([title])
    ns["A1"].font = Font(bold=True, size=13)
    ns.append([])
    columns = ["Contrat", "Mois", "Terme", "Valeur"]
    ns.append(columns)
    for cell in ns[3]:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
    if notes:  # a contract's own terms once, then each month's status and indices
        lines = pd.concat(notes, ignore_index=True).drop_duplicates(columns)
        lines = lines.assign(monthly=lines["Mois"] != "").sort_values(
            ["Contrat", "monthly"], kind="stable"
        )
        for rec in lines[columns].itertuples(index=False, name=None):
            ns.append(list(rec))
    for letter, width in zip("ABCD", (16, 16, 28, 110), strict=True):
        ns.column_dimensions[letter].width = width
    ns.freeze_panes = "A4"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
