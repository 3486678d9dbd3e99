"""The energies a building or an equipment runs on, as the record writes them (`gas`, the
portfolio file's code) and as people read them (« Gaz naturel »). The portfolio's fuel is free
text: a code not listed here is shown as written (it is then somebody's own word)."""

from __future__ import annotations

ENERGY_LABELS_FR = {
    "gas": "Gaz naturel",
    "natural_gas": "Gaz naturel",
    "propane": "Propane",
    "electricity": "Électricité",
    "oil": "Fioul",
    "fuel_oil": "Fioul",
    "wood": "Bois",
    "pellets": "Granulés de bois",
    "biomass": "Biomasse",
    "coal": "Charbon",
    "district_heating": "Réseau de chaleur",
    "heat_network": "Réseau de chaleur",
    "solar": "Solaire",
}


def energy_label(code: str | None, empty: str = "—") -> str:
    """« Gaz naturel » for `gas`; an unknown code as written; `empty` for none."""
    if not code:
        return empty
    return ENERGY_LABELS_FR.get(code.strip().lower(), code)
