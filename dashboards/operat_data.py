"""The OPERAT file: per building, the figures the yearly Décret tertiaire declaration asks for
(final energy per carrier in kWh, floor area, reference year and its consumption, the
climate-adjusted consumption, the activity category), for `carnet export operat` and the
portfolio page's download. French CSV (`;`, decimal comma, UTF-8 BOM) or a workbook.

What the ADEME platform also asks and the record does not hold is left to the person who
declares: the EFA identifier given by OPERAT, the SIREN/SIRET of the owner and the occupants,
the usage-intensity indicators (hours of opening, occupants), and the split between owner and
occupants of each energy."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from sqlalchemy import Engine

from carnet.access import Scope
from carnet.energy_carriers import CARRIER_LABELS_FR, CARRIERS, NATURAL_GAS
from contract.calendar import today as local_today
from dashboards.energy_data import DJU_NOTE
from dashboards.tertiaire_data import tertiaire_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _carrier_header(carrier: str) -> str:
    unit = "kWh PCS" if carrier == NATURAL_GAS else "kWh"
    return f"{CARRIER_LABELS_FR[carrier]} ({unit})"


DJU_COLUMN = f"DJU de l'année ({DJU_NOTE})"
COLUMNS = [
    "Code bâtiment",
    "Bâtiment",
    "Année de consommation",
    "Catégorie d'activité",
    "Surface de plancher (m²)",
    "Assujetti (≥ 1 000 m²)",
    *(_carrier_header(c) for c in CARRIERS),
    "Consommation d'énergie finale (kWh)",
    "Année complète",
    DJU_COLUMN,
    "Année de référence",
    "Origine de l'année de référence",
    "Consommation de référence (kWh)",
    "Consommation ajustée au climat (kWh)",
    "Objectif de l'année (kWh)",
    "Écart à l'objectif (%)",
]


def _kwh(value):
    return None if value is None or pd.isna(value) else float(round(float(value)))


def operat_frame(
    engine: Engine, scope: Scope, year: int, today: dt.date | None = None
) -> pd.DataFrame:
    """One row per building of the scope, COLUMNS, for calendar `year`."""
    today = today or local_today()
    rows = []
    for code, t in sorted(tertiaire_of(engine, scope, today).items()):
        y = t.years[t.years["year"] == year]
        y = y.iloc[0] if len(y) else None
        traj = None
        if t.trajectory is not None:
            hit = t.trajectory[t.trajectory["year"] == year]
            traj = hit.iloc[0] if len(hit) else None
        row = {
            "Code bâtiment": code,
            "Bâtiment": t.building_name,
            "Année de consommation": year,
            "Catégorie d'activité": t.activity,
            "Surface de plancher (m²)": t.area_m2,
            "Assujetti (≥ 1 000 m²)": t.assujetti,
        }
        for c in CARRIERS:
            col = f"energy_kwh_{c}"
            row[_carrier_header(c)] = _kwh(y[col]) if y is not None and col in y.index else None
        row["Consommation d'énergie finale (kWh)"] = (
            _kwh(y["energy_kwh"]) if y is not None else None
        )
        row["Année complète"] = bool(y["complete"]) if y is not None else False
        row[DJU_COLUMN] = _round1(y["dju"]) if y is not None else None
        row["Année de référence"] = t.reference_year
        row["Origine de l'année de référence"] = t.reference_source or None
        row["Consommation de référence (kWh)"] = (
            _kwh(t.trajectory.attrs["reference_kwh"]) if t.trajectory is not None else None
        )
        row["Consommation ajustée au climat (kWh)"] = (
            _kwh(traj["adjusted_kwh"]) if traj is not None else None
        )
        row["Objectif de l'année (kWh)"] = _kwh(traj["target_kwh"]) if traj is not None else None
        row["Écart à l'objectif (%)"] = _round1(traj["gap_pct"]) if traj is not None else None
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _round1(value):
    return None if value is None or pd.isna(value) else round(float(value), 1)


def operat_xlsx(frame: pd.DataFrame, year: int) -> bytes:
    """The same columns as a workbook (one sheet, numbers as numbers)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = f"OPERAT {year}"
    ws.append(list(frame.columns))
    for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
        ws.append(["oui" if v is True else "non" if v is False else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def operat_filename(year: int, ext: str = "csv") -> str:
    return f"carnet-operat-{year}.{ext}"
