"""The facts of buildings that consumption is compared on: areas, station, usage and the Décret
tertiaire fields (declared reference year, else a contract building's `reference_year`; OPERAT
activity). One query for the whole portfolio."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, text

COLUMNS = [
    "building_id",
    "building_code",
    "building_name",
    "usage",
    "heated_area_m2",
    "tertiary_area_m2",
    "station_id",
    "main_energy",
    "tertiaire_reference_year",
    "tertiaire_activity",
    "contract_reference_year",
    "contract_reference_kwh",
]


def building_facts(engine: Engine, building_ids=None) -> pd.DataFrame:
    """One row per building (`building_ids`: None = all), with COLUMNS; the contract's
    reference year and kWh are those of the building's earliest contract reference."""
    sql = (
        "SELECT b.id AS building_id, b.code AS building_code, b.name AS building_name, b.usage,"
        " b.heated_area_m2, b.tertiary_area_m2, b.station_id, b.main_energy,"
        " b.tertiaire_reference_year, b.tertiaire_activity,"
        " (SELECT cb.reference_year FROM contract_building cb WHERE cb.building_id = b.id"
        "  AND cb.reference_year IS NOT NULL ORDER BY cb.reference_year LIMIT 1)"
        "  AS contract_reference_year,"
        " (SELECT cb.reference_kwh FROM contract_building cb WHERE cb.building_id = b.id"
        "  AND cb.reference_year IS NOT NULL ORDER BY cb.reference_year LIMIT 1)"
        "  AS contract_reference_kwh"
        " FROM building b ORDER BY b.code"
    )
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(sql), conn)
    if building_ids is not None:
        frame = frame[frame["building_id"].isin(list(building_ids))]
    for col in ("heated_area_m2", "tertiary_area_m2", "contract_reference_kwh"):
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    return frame[COLUMNS].reset_index(drop=True)
