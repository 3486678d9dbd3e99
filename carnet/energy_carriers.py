"""Which final energy (OPERAT « type d'énergie ») a channel measures, so that a building's
consumption adds only final energies: gas volume, electricity, a district-heating meter; never a
heat meter behind a boiler (its heat is the gas already counted) nor a temperature.

A channel's carrier follows its quantity; a generic `energy_kwh` channel and a heat meter
follow the building's `main_energy` (a heat meter counts only on a district-heating network)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, text

ELECTRICITY = "electricite"
NATURAL_GAS = "gaz_naturel"
DISTRICT_HEAT = "reseau_chaleur"
FUEL_OIL = "fioul"
WOOD = "bois"
OTHER = "autre"

CARRIERS = (ELECTRICITY, NATURAL_GAS, DISTRICT_HEAT, FUEL_OIL, WOOD, OTHER)
CARRIER_LABELS_FR = {
    ELECTRICITY: "Électricité",
    NATURAL_GAS: "Gaz naturel",
    DISTRICT_HEAT: "Réseau de chaleur",
    FUEL_OIL: "Fioul domestique",
    WOOD: "Bois",
    OTHER: "Autre énergie",
}

_BY_QUANTITY = {"gas_volume_m3": NATURAL_GAS, "electricity_kwh": ELECTRICITY}
# a building's `main_energy`, as towns write it, folded to lower case without accents
_BY_MAIN_ENERGY = {
    "gas": NATURAL_GAS,
    "gaz": NATURAL_GAS,
    "gaz naturel": NATURAL_GAS,
    "natural_gas": NATURAL_GAS,
    "electricity": ELECTRICITY,
    "electricite": ELECTRICITY,
    "district_heating": DISTRICT_HEAT,
    "reseau de chaleur": DISTRICT_HEAT,
    "reseau_chaleur": DISTRICT_HEAT,
    "heat_network": DISTRICT_HEAT,
    "fuel_oil": FUEL_OIL,
    "fioul": FUEL_OIL,
    "oil": FUEL_OIL,
    "wood": WOOD,
    "bois": WOOD,
}


def _folded(values: pd.Series) -> pd.Series:
    return (
        values.fillna("")
        .astype(str)
        .str.normalize("NFKD")
        .str.replace(r"[\u0300-\u036f]", "", regex=True)
        .str.casefold()
        .str.strip()
    )


def carriers_of(quantity: pd.Series, main_energy: pd.Series) -> pd.Series:
    """Carrier of each channel (None when it measures no final energy)."""
    by_quantity = quantity.map(_BY_QUANTITY)
    main = _folded(main_energy).map(_BY_MAIN_ENERGY)
    generic = quantity.eq("energy_kwh")
    heat = quantity.eq("heat_energy_kwh") & main.eq(DISTRICT_HEAT)
    out = by_quantity.where(by_quantity.notna(), main.fillna(OTHER).where(generic))
    out = out.where(~heat, DISTRICT_HEAT)
    return out.astype(object).where(out.notna(), None)


def final_energy_channels(engine: Engine, building_ids=None) -> pd.DataFrame:
    """channel_id, channel_code, building_id, quantity, unit, carrier of the channels that
    measure a final energy (`building_ids`: None = every building)."""
    sql = (
        "SELECT c.id AS channel_id, c.code AS channel_code, c.building_id, c.quantity, c.unit,"
        " b.main_energy FROM channel c JOIN building b ON b.id = c.building_id"
    )
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(sql), conn)
    if building_ids is not None:
        frame = frame[frame["building_id"].isin(list(building_ids))]
    frame["carrier"] = carriers_of(frame["quantity"], frame["main_energy"])
    cols = ["channel_id", "channel_code", "building_id", "quantity", "unit", "carrier"]
    return frame.dropna(subset=["carrier"])[cols].reset_index(drop=True)
