"""The quantities a channel can measure, and how the French interface names them.

The one list of built-in quantities (a portfolio file may name no other) and their labels: a
table header (`QUANTITY_LABELS_FR`) and the phrase a message uses (`QUANTITY_PHRASES_FR`:
« une température extérieure »)."""

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
