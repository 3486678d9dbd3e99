"""The quantities a channel can measure, and how the French interface names them.

The one list of built-in quantities (a portfolio file may name no other) and their labels: a
table header (`QUANTITY_LABELS_FR`) and the phrase a message uses (`QUANTITY_PHRASES_FR`:
« une température extérieure »). A town may declare more (portfolio `quantities:`, stored in
the `quantity` table): `quantity_labels` gives both; their units come from `KNOWN_UNITS`."""

from __future__ import annotations

QUANTITY_LABELS_FR = {
    "gas_volume_m3": "Gaz (volume)",
    "energy_kwh": "Énergie",
    "heat_energy_kwh": "Chaleur",
    "electricity_kwh": "Électricité",
    "water_volume_m3": "Eau",
    "temp_outdoor_c": "Température extérieure",
    "temp_indoor_c": "Température intérieure",
    "temp_flow_c": "Température départ",
    "temp_return_c": "Température retour",
    "temp_min_c": "Température minimale",
    "temp_max_c": "Température maximale",
    "burner_hours": "Heures brûleur",
    "burner_starts": "Démarrages brûleur",
    "fault_code": "Code défaut",
    "power_kw": "Puissance",
    "humidity_pct": "Humidité",
    "co2_ppm": "CO₂",
    "valve_pct": "Ouverture de vanne",
    "pressure_bar": "Pression",
}
QUANTITIES = tuple(QUANTITY_LABELS_FR)
QUANTITY_PHRASES_FR = {
    "gas_volume_m3": "un volume de gaz",
    "energy_kwh": "une énergie",
    "heat_energy_kwh": "une énergie thermique",
    "electricity_kwh": "une énergie électrique",
    "water_volume_m3": "un volume d'eau",
    "temp_outdoor_c": "une température extérieure",
    "temp_indoor_c": "une température intérieure",
    "temp_flow_c": "une température de départ",
    "temp_return_c": "une température de retour",
    "temp_min_c": "une température minimale",
    "temp_max_c": "une température maximale",
    "burner_hours": "des heures de brûleur",
    "burner_starts": "des démarrages de brûleur",
    "fault_code": "un code défaut",
    "power_kw": "une puissance",
    "humidity_pct": "une humidité",
    "co2_ppm": "une teneur en CO₂",
    "valve_pct": "une ouverture de vanne",
    "pressure_bar": "une pression",
}

# the units a declared quantity may use, and how the interface writes them: an explicit table,
# so that a typo (« degc », « kwH ») is refused when the file is loaded rather than shown as is
KNOWN_UNITS = {
    "degC": "°C",
    "K": "K",
    "kWh": "kWh",
    "MWh": "MWh",
    "Wh": "Wh",
    "kW": "kW",
    "W": "W",
    "m3": "m³",
    "m3/h": "m³/h",
    "l": "l",
    "l/h": "l/h",
    "h": "h",
    "min": "min",
    "s": "s",
    "%": "%",
    "pct": "%",
    "ppm": "ppm",
    "bar": "bar",
    "mbar": "mbar",
    "Pa": "Pa",
    "hPa": "hPa",
    "V": "V",
    "A": "A",
    "Hz": "Hz",
    "lx": "lx",
    "m/s": "m/s",
    "mg/m3": "mg/m³",
    "code": "code",
    "u": "unités",
}


def declared_quantities(session) -> dict:
    """The town's declared quantities by code (`carnet.models.Quantity` rows)."""
    from sqlalchemy import select

    from carnet.models import Quantity

    return {q.code: q for q in session.scalars(select(Quantity).order_by(Quantity.code))}


def quantity_labels(session) -> dict[str, str]:
    """Built-in and declared quantities -> their French label (a table header)."""
    return QUANTITY_LABELS_FR | {c: q.label for c, q in declared_quantities(session).items()}
