"""The portfolio file's schema, written once as data: each entity's fields, their type, whether
they are required, the values they admit and the entity their items are made of.
`carnet.portfolio_parse` validates a document from it; nothing else spells the file's keys."""

from __future__ import annotations

from dataclasses import dataclass

from carnet.kinds import ChannelKind
from carnet.quantities import KNOWN_UNITS
from carnet.roles import ROLES

DJU_METHODS = ("costic", "meteo_france", "hourly")
CONTRACT_KINDS = ("MTI", "MCI", "CPI", "MT", "MC", "CP", "CPE")
EQUIPMENT_KINDS = (
    "boiler_room",
    "boiler",
    "burner",
    "heat_pump",
    "gas_meter",
    "heat_meter",
    "electricity_meter",
    "water_meter",
    "sensor",
    "controller",
    "pump",
    "air_handling_unit",
    "chimney",
    "lift",
    "bacs",
    "dhw_tank",
    "other",
)
# gas meter size classes (EN 1359) and their maximum flow Qmax in m³/h: what an index of that
# meter can gain per hour at most (ingest.plausibility)
GAS_METER_QMAX_M3H = {
    "G4": 6.0,
    "G6": 10.0,
    "G10": 16.0,
    "G16": 25.0,
    "G25": 40.0,
    "G40": 65.0,
    "G65": 100.0,
    "G100": 160.0,
    "G160": 250.0,
    "G250": 400.0,
    "G400": 650.0,
    "G650": 1000.0,
}

# scalar kinds (each has its reader in carnet.portfolio_parse) and the two containers
TEXT, INTEGER, NUMBER, BOOLEAN, DATE, DAY_OF_YEAR, DECIMAL, RANGE = (
    "text",
    "integer",
    "number",
    "boolean",
    "date",
    "day_of_year",
    "decimal",
    "range",
)
OBJECT, LIST = "object", "list"


@dataclass(frozen=True)
class Field:
    """One key of an entity. `choices`: the values admitted (scalars); `of`: the entity of a
    list's items or of an object's keys (an object without it is free-form, kept as given)."""

    kind: str
    required: bool = False
    choices: tuple | None = None
    of: str | None = None


def required(kind: str, choices: tuple | None = None) -> Field:
    return Field(kind, True, choices)


def optional(kind: str, choices: tuple | None = None) -> Field:
    return Field(kind, False, choices)


def items(entity: str) -> Field:
    return Field(LIST, False, of=entity)


def part(entity: str | None = None, is_required: bool = False) -> Field:
    return Field(OBJECT, is_required, of=entity)


ENTITIES: dict[str, dict[str, Field]] = {
    "quantity": {
        "code": required(TEXT),
        "label": required(TEXT),
        "unit": required(TEXT, tuple(KNOWN_UNITS)),
        "kind": required(TEXT, tuple(k.value for k in ChannelKind)),
        "range": optional(RANGE),
    },
    "station": {
        "code": required(TEXT),
        "name": required(TEXT),
        "latitude": optional(NUMBER),
        "longitude": optional(NUMBER),
        "channels": items("channel"),
    },
    "building": {
        "code": required(TEXT),
        "name": required(TEXT),
        "address": optional(TEXT),
        "usage": optional(TEXT),
        "heated_area_m2": optional(NUMBER),
        "tertiary_area_m2": optional(NUMBER),
        "tertiaire_reference_year": optional(INTEGER),
        "tertiaire_activity": optional(TEXT),
        "year_built": optional(INTEGER),
        "erp_category": optional(INTEGER, (1, 2, 3, 4, 5)),
        "erp_type": optional(TEXT),
        "main_energy": optional(TEXT),
        "station": optional(TEXT),
        "schedule": part(),
        "notes": optional(TEXT),
        "rooms": items("room"),
        "equipment": items("equipment"),
        "channels": items("channel"),
    },
    "room": {
        "code": required(TEXT),
        "name": required(TEXT),
        "bookable": optional(BOOLEAN),
        "capacity": optional(INTEGER),
        "area_m2": optional(NUMBER),
        "heating_zone": optional(TEXT),
    },
    "equipment": {
        "code": required(TEXT),
        "kind": required(TEXT, EQUIPMENT_KINDS),
        "name": optional(TEXT),
        "parent": optional(TEXT),
        "room": optional(TEXT),
        "make": optional(TEXT),
        "model": optional(TEXT),
        "serial": optional(TEXT),
        "power_kw": optional(NUMBER),
        "fuel": optional(TEXT),
        "installed_on": optional(DATE),
        "removed_on": optional(DATE),
        "meter_size": optional(TEXT, tuple(GAS_METER_QMAX_M3H)),
    },
    "channel": {
        "code": required(TEXT),
        # a built-in quantity or one of `quantities:` (checked by carnet.portfolio on load)
        "quantity": required(TEXT),
        "kind": required(TEXT, tuple(k.value for k in ChannelKind)),
        "unit": required(TEXT),
        "kwh_per_unit": optional(NUMBER),
        "modulus": optional(NUMBER),
        "external_ref": optional(TEXT),
        "description": optional(TEXT),
        "room": optional(TEXT),
        "equipment": optional(TEXT),
        "max_kw": optional(NUMBER),
        "installed_on": optional(DATE),
    },
    "contract": {
        "code": required(TEXT),
        "contractor": required(TEXT),
        "kind": optional(TEXT, CONTRACT_KINDS),
        "starts_on": required(DATE),
        "ends_on": optional(DATE),
        "season": part("season"),
        "degree_days": part("degree_days"),
        "price_eur_per_mwh_pci": required(DECIMAL),
        "pcs_pci_ratio": optional(NUMBER),
        "sharing": part("sharing"),
        "guaranteed_savings_pct": optional(NUMBER),
        "nb_revision": part("nb_revision"),
        "terms": part(),
        "buildings": items("contract_building"),
    },
    "season": {"start": required(DAY_OF_YEAR), "end": required(DAY_OF_YEAR)},
    "degree_days": {
        "method": required(TEXT, DJU_METHODS),
        "base_c": optional(NUMBER),
        "station": optional(TEXT),
    },
    "sharing": {
        "franchise_pct": optional(NUMBER),
        "savings_share_contractor": optional(NUMBER),
        "savings_cap_pct": optional(NUMBER),
        "overrun_share_contractor": optional(NUMBER),
    },
    "nb_revision": {
        "one_season_pct": optional(NUMBER),
        "two_seasons_pct": optional(NUMBER),
    },
    "contract_building": {
        "building": required(TEXT),
        "channel": optional(TEXT),
        "nb_mwh_pci": required(NUMBER),
        "dju_ref": required(NUMBER),
        "ecs_channel": optional(TEXT),
        "q_ecs_mwh_per_m3": optional(NUMBER),
        "reference_year": optional(INTEGER),
        "reference_kwh": optional(NUMBER),
    },
    "user": {
        "login": required(TEXT),
        "name": optional(TEXT),
        "role": required(TEXT, ROLES),
        "contract": optional(TEXT),
        "active": optional(BOOLEAN),
        "email": optional(TEXT),
    },
    "import_profile": {
        "code": required(TEXT),
        "columns": part("import_columns", is_required=True),
        "date_format": optional(TEXT),
        "timezone": optional(TEXT, ("local", "utc")),
        "decimal": optional(TEXT, (",", ".")),
        "channel": optional(TEXT),  # where the values of a file without a channel column go
    },
    # the role of each column, named by its header (as `carnet import --columns`)
    "import_columns": {
        "channel": optional(TEXT),
        "timestamp": required(TEXT),
        "value": required(TEXT),
        "quality": optional(TEXT),
        "offset": optional(TEXT),
        "unit": optional(TEXT),
    },
    "logger": {
        "code": required(TEXT),
        "building": optional(TEXT),
        "timestamp_column": required(TEXT),
        "timestamp_format": optional(TEXT),
        "timezone": optional(TEXT, ("local", "utc")),
        "columns": part(is_required=True),
    },
}
# the document's sections and the entity of their items
SECTIONS = {
    "quantities": "quantity",
    "stations": "station",
    "buildings": "building",
    "contracts": "contract",
    "users": "user",
    "loggers": "logger",
    "import_profiles": "import_profile",
}
# entities whose codes must be unique in a file, and the nested lists holding more of them
UNIQUE_NESTED = {
    "station": (("channels", "channel"),),
    "building": (("rooms", "room"), ("equipment", "equipment"), ("channels", "channel")),
    "contract": (),
    "import_profile": (),
}
