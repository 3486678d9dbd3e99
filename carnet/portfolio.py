"""The portfolio file: buildings, rooms, equipment, channels, stations, contracts, users, loggers.

A file adds and updates what it names (matched by `code`, users by `login`) and removes nothing:
a small file can add channels to a building. The whole file is validated before anything is
written, and written in one transaction, so a file with an error changes nothing. Loading the
same file twice changes nothing (and records no audit event).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.audit import record
from carnet.models import (
    Building,
    Channel,
    ChannelKind,
    Contract,
    ContractBuilding,
    Equipment,
    LoggerMap,
    Room,
    Station,
    User,
)
from carnet.roles import ROLES
from carnet.users import UserError, check_email

QUANTITIES = (
    "gas_volume_m3",
    "energy_kwh",
    "heat_energy_kwh",
    "electricity_kwh",
    "water_volume_m3",
    "temp_outdoor_c",
    "temp_indoor_c",
    "temp_flow_c",
    "temp_return_c",
    "temp_min_c",
    "temp_max_c",
    "burner_hours",
    "burner_starts",
    "fault_code",
    "power_kw",
    "humidity_pct",
    "co2_ppm",
    "valve_pct",
    "pressure_bar",
)
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


class PortfolioError(ValueError):
    """Every problem found in a portfolio file, each with the path to its key."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass
class LoadReport:
    source: str
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))

    def lines(self) -> list[str]:
        kinds = sorted(set(self.created) | set(self.updated) | set(self.unchanged))
        return [
            f"{kind}: {self.created[kind]} créé(s), {self.updated[kind]} mis à jour,"
            f" {self.unchanged[kind]} inchangé(s)"
            for kind in kinds
        ]


# --- validation ------------------------------------------------------------------------------

# field -> (type, required, choices)
_STR, _INT, _FLOAT, _BOOL, _DATE, _MMDD, _DICT, _LIST, _DEC = (
    "str",
    "int",
    "float",
    "bool",
    "date",
    "mmdd",
    "dict",
    "list",
    "decimal",
)

SPECS: dict[str, dict[str, tuple]] = {
    "station": {
        "code": (_STR, True, None),
        "name": (_STR, True, None),
        "latitude": (_FLOAT, False, None),
        "longitude": (_FLOAT, False, None),
        "channels": (_LIST, False, "channel"),
    },
    "building": {
        "code": (_STR, True, None),
        "name": (_STR, True, None),
        "address": (_STR, False, None),
        "usage": (_STR, False, None),
        "heated_area_m2": (_FLOAT, False, None),
        "tertiary_area_m2": (_FLOAT, False, None),
        "year_built": (_INT, False, None),
        "erp_category": (_INT, False, (1, 2, 3, 4, 5)),
        "erp_type": (_STR, False, None),
        "main_energy": (_STR, False, None),
        "station": (_STR, False, None),
        "schedule": (_DICT, False, None),
        "notes": (_STR, False, None),
        "rooms": (_LIST, False, "room"),
        "equipment": (_LIST, False, "equipment"),
        "channels": (_LIST, False, "channel"),
    },
    "room": {
        "code": (_STR, True, None),
        "name": (_STR, True, None),
        "bookable": (_BOOL, False, None),
        "capacity": (_INT, False, None),
        "area_m2": (_FLOAT, False, None),
        "heating_zone": (_STR, False, None),
    },
    "equipment": {
        "code": (_STR, True, None),
        "kind": (_STR, True, EQUIPMENT_KINDS),
        "name": (_STR, False, None),
        "parent": (_STR, False, None),
        "room": (_STR, False, None),
        "make": (_STR, False, None),
        "model": (_STR, False, None),
        "serial": (_STR, False, None),
        "power_kw": (_FLOAT, False, None),
        "fuel": (_STR, False, None),
        "installed_on": (_DATE, False, None),
        "removed_on": (_DATE, False, None),
        "meter_size": (_STR, False, tuple(GAS_METER_QMAX_M3H)),
    },
    "channel": {
        "code": (_STR, True, None),
        "quantity": (_STR, True, QUANTITIES),
        "kind": (_STR, True, tuple(k.value for k in ChannelKind)),
        "unit": (_STR, True, None),
        "kwh_per_unit": (_FLOAT, False, None),
        "modulus": (_FLOAT, False, None),
        "external_ref": (_STR, False, None),
        "description": (_STR, False, None),
        "room": (_STR, False, None),
        "equipment": (_STR, False, None),
        "max_kw": (_FLOAT, False, None),
        "installed_on": (_DATE, False, None),
    },
    "contract": {
        "code": (_STR, True, None),
        "contractor": (_STR, True, None),
        "kind": (_STR, False, CONTRACT_KINDS),
        "starts_on": (_DATE, True, None),
        "ends_on": (_DATE, False, None),
        "season": (_DICT, False, "season"),
        "degree_days": (_DICT, False, "degree_days"),
        "price_eur_per_mwh_pci": (_DEC, True, None),
        "pcs_pci_ratio": (_FLOAT, False, None),
        "sharing": (_DICT, False, "sharing"),
        "guaranteed_savings_pct": (_FLOAT, False, None),
        "nb_revision": (_DICT, False, "nb_revision"),
        "terms": (_DICT, False, None),
        "buildings": (_LIST, False, "contract_building"),
    },
    "season": {"start": (_MMDD, True, None), "end": (_MMDD, True, None)},
    "degree_days": {
        "method": (_STR, True, DJU_METHODS),
        "base_c": (_FLOAT, False, None),
        "station": (_STR, False, None),
    },
    "sharing": {
        "franchise_pct": (_FLOAT, False, None),
        "savings_share_contractor": (_FLOAT, False, None),
        "savings_cap_pct": (_FLOAT, False, None),
        "overrun_share_contractor": (_FLOAT, False, None),
    },
    "nb_revision": {
        "one_season_pct": (_FLOAT, False, None),
        "two_seasons_pct": (_FLOAT, False, None),
    },
    "contract_building": {
        "building": (_STR, True, None),
        "channel": (_STR, False, None),
        "nb_mwh_pci": (_FLOAT, True, None),
        "dju_ref": (_FLOAT, True, None),
        "ecs_channel": (_STR, False, None),
        "q_ecs_mwh_per_m3": (_FLOAT, False, None),
        "reference_year": (_INT, False, None),
        "reference_kwh": (_FLOAT, False, None),
    },
    "user": {
        "login": (_STR, True, None),
        "name": (_STR, False, None),
        "role": (_STR, True, ROLES),
        "contract": (_STR, False, None),
        "active": (_BOOL, False, None),
        "email": (_STR, False, None),
    },
    "logger": {
        "code": (_STR, True, None),
        "building": (_STR, False, None),
        "timestamp_column": (_STR, True, None),
        "timestamp_format": (_STR, False, None),
        "timezone": (_STR, False, ("local", "utc")),
        "columns": (_DICT, True, None),
    },
}
TOP_LEVEL = {
    "stations": "station",
    "buildings": "building",
    "contracts": "contract",
    "users": "user",
    "loggers": "logger",
}


def _coerce(kind: str, value: Any, path: str, problems: list[str]) -> Any:
    def bad(expected: str) -> None:
        problems.append(f"{path}: {expected} attendu, reçu {value!r}")

    if kind == _STR:
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
        return bad("texte non vide")
    if kind == _INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return bad("nombre entier")
    if kind in (_FLOAT, _DEC):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Decimal(str(value)) if kind == _DEC else float(value)
        if isinstance(value, str):
            try:
                number = Decimal(value.replace(",", ".").replace("\u202f", "").replace(" ", ""))
            except InvalidOperation:
                return bad("nombre")
            return number if kind == _DEC else float(number)
        return bad("nombre")
    if kind == _BOOL:
        if isinstance(value, bool):
            return value
        return bad("booléen (true/false)")
    if kind == _DATE:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
                try:
                    return dt.datetime.strptime(value.strip(), fmt).date()
                except ValueError:
                    continue
        return bad("date (AAAA-MM-JJ ou JJ/MM/AAAA)")
    if kind == _MMDD:
        if isinstance(value, str):
            try:
                dt.datetime.strptime(f"2024-{value.strip()}", "%Y-%m-%d")
                return value.strip()
            except ValueError:
                pass
        return bad("jour de l'année MM-JJ (ex. « 10-01 »)")
    raise AssertionError(kind)


def _validate(entity: str, obj: Any, path: str, problems: list[str]) -> dict | None:
    spec = SPECS[entity]
    if not isinstance(obj, dict):
        problems.append(f"{path}: un objet (clé: valeur) est attendu, reçu {obj!r}")
        return None
    out: dict[str, Any] = {}
    for key in obj:
        if key not in spec:
            problems.append(f"{path}.{key}: clé inconnue (clés admises : {', '.join(spec)})")
    for key, (kind, required, extra) in spec.items():
        sub = f"{path}.{key}"
        if key not in obj or obj[key] is None:
            if required:
                problems.append(f"{sub}: clé obligatoire absente")
            continue
        value = obj[key]
        if kind == _LIST:
            if not isinstance(value, list):
                problems.append(f"{sub}: une liste est attendue")
                continue
            items = [_validate(extra, v, f"{sub}[{i}]", problems) for i, v in enumerate(value)]
            out[key] = [i for i in items if i is not None]
        elif kind == _DICT:
            if not isinstance(value, dict):
                problems.append(f"{sub}: un objet (clé: valeur) est attendu")
                continue
            out[key] = _validate(extra, value, sub, problems) if extra else value
        else:
            coerced = _coerce(kind, value, sub, problems)
            if coerced is None:
                continue
            if isinstance(extra, tuple) and coerced not in extra:
                problems.append(
                    f"{sub}: valeur « {coerced} » non admise (attendu : "
                    f"{', '.join(str(c) for c in extra)})"
                )
                continue
            out[key] = coerced
    return out


def parse_portfolio(data: Any, source: str = "portefeuille") -> dict[str, list[dict]]:
    """Validate a portfolio document; raises PortfolioError listing every problem."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PortfolioError(source, ["le document doit être un objet YAML (clé: valeur)"])
    clean: dict[str, list[dict]] = {}
    for key, value in data.items():
        if key not in TOP_LEVEL:
            if key == "gateways":  # the Modbus site configuration may live in the same file
                continue
            problems.append(f"{key}: section inconnue (admises : {', '.join(TOP_LEVEL)})")
            continue
        if not isinstance(value, list):
            problems.append(f"{key}: une liste est attendue")
            continue
        items = [_validate(TOP_LEVEL[key], v, f"{key}[{i}]", problems) for i, v in enumerate(value)]
        clean[key] = [i for i in items if i is not None]
    _check_unique(clean, problems)
    if problems:
        raise PortfolioError(source, problems)
    return clean


def _check_unique(clean: dict[str, list[dict]], problems: list[str]) -> None:
    seen: dict[tuple[str, str], str] = {}

    def check(kind: str, code: str, path: str) -> None:
        if (kind, code) in seen:
            problems.append(f"{path}.code: « {code} » déjà défini en {seen[(kind, code)]}")
        else:
            seen[(kind, code)] = path

    for i, st in enumerate(clean.get("stations", [])):
        check("station", st["code"], f"stations[{i}]")
        for j, ch in enumerate(st.get("channels", [])):
            check("channel", ch["code"], f"stations[{i}].channels[{j}]")
    for i, b in enumerate(clean.get("buildings", [])):
        check("building", b["code"], f"buildings[{i}]")
        for sub, kind in (("rooms", "room"), ("equipment", "equipment"), ("channels", "channel")):
            for j, item in enumerate(b.get(sub, [])):
                check(kind, item["code"], f"buildings[{i}].{sub}[{j}]")
    for i, c in enumerate(clean.get("contracts", [])):
        check("contract", c["code"], f"contracts[{i}]")


# --- loading ---------------------------------------------------------------------------------


class _Loader:
    def __init__(self, session: Session, source: str, actor: str):
        self.s = session
        self.source = source
        self.actor = actor
        self.report = LoadReport(source)
        self.problems: list[str] = []

    def find(self, model, code: str, attr: str = "code"):
        # autoflush makes objects created earlier in this load visible
        return self.s.scalar(select(model).where(getattr(model, attr) == code))

    def ref(self, model, code: str | None, path: str, label: str):
        if code is None:
            return None
        obj = self.find(model, code, "login" if model is User else "code")
        if obj is None:
            self.problems.append(f"{path}: {label} « {code} » inconnu(e)")
        return obj

    def upsert(self, model, kind: str, key: dict, values: dict, path: str):
        obj = self.s.scalar(select(model).filter_by(**key))
        if obj is None:
            obj = model(**key, **values)
            self.s.add(obj)
            self.s.flush()
            self.report.created[kind] += 1
            record(self.s, self.actor, "create", kind, _key_text(key), None, values)
            return obj
        before = {k: getattr(obj, k) for k in values}
        changed = {k: v for k, v in values.items() if not _same(before[k], v)}
        if changed:
            for k, v in changed.items():
                setattr(obj, k, v)
            self.s.flush()
            self.report.updated[kind] += 1
            record(
                self.s,
                self.actor,
                "update",
                kind,
                _key_text(key),
                {k: before[k] for k in changed},
                changed,
            )
        else:
            self.report.unchanged[kind] += 1
        return obj

    # entities

    def channel(self, ch: dict, path: str, building=None, station=None) -> None:
        values = {
            k: ch[k]
            for k in (
                "quantity",
                "kind",
                "unit",
                "kwh_per_unit",
                "modulus",
                "external_ref",
                "description",
                "max_kw",
                "installed_on",
            )
            if k in ch
        }
        if building is not None:
            values["building_id"] = building.id
        if station is not None:
            values["station_id"] = station.id
        if "room" in ch:
            room = self.ref(Room, ch["room"], f"{path}.room", "salle")
            if room is not None:
                if building is not None and room.building_id != building.id:
                    self.problems.append(
                        f"{path}.room: la salle « {room.code} » est d'un autre bâtiment"
                    )
                values["room_id"] = room.id
        if "equipment" in ch:
            eq = self.ref(Equipment, ch["equipment"], f"{path}.equipment", "équipement")
            if eq is not None:
                values["equipment_id"] = eq.id
        self.upsert(Channel, "channel", {"code": ch["code"]}, values, path)

    def station(self, st: dict, path: str) -> None:
        values = {k: st[k] for k in ("name", "latitude", "longitude") if k in st}
        station = self.upsert(Station, "station", {"code": st["code"]}, values, path)
        for j, ch in enumerate(st.get("channels", [])):
            self.channel(ch, f"{path}.channels[{j}]", station=station)

    def building(self, b: dict, path: str) -> None:
        simple = (
            "name",
            "address",
            "usage",
            "heated_area_m2",
            "tertiary_area_m2",
            "year_built",
            "erp_category",
            "erp_type",
            "main_energy",
            "schedule",
            "notes",
        )
        values = {k: b[k] for k in simple if k in b}
        if "station" in b:
            st = self.ref(Station, b["station"], f"{path}.station", "station")
            if st is not None:
                values["station_id"] = st.id
        building = self.upsert(Building, "building", {"code": b["code"]}, values, path)
        for j, r in enumerate(b.get("rooms", [])):
            rv = {
                k: r[k]
                for k in ("name", "bookable", "capacity", "area_m2", "heating_zone")
                if k in r
            }
            rv["building_id"] = building.id
            self.upsert(Room, "room", {"code": r["code"]}, rv, f"{path}.rooms[{j}]")
        # parents may be listed after their children: create all, then link
        equipment = b.get("equipment", [])
        for j, e in enumerate(equipment):
            fields = ("kind", "name", "make", "model", "serial", "power_kw", "fuel")
            ev = {k: e[k] for k in (*fields, "installed_on", "removed_on", "meter_size") if k in e}
            ev["building_id"] = building.id
            if "room" in e:
                room = self.ref(Room, e["room"], f"{path}.equipment[{j}].room", "salle")
                if room is not None:
                    ev["room_id"] = room.id
            self.upsert(Equipment, "equipment", {"code": e["code"]}, ev, f"{path}.equipment[{j}]")
        for j, e in enumerate(equipment):
            if "parent" in e:
                parent = self.ref(
                    Equipment, e["parent"], f"{path}.equipment[{j}].parent", "équipement"
                )
                if parent is not None:
                    self.upsert(
                        Equipment,
                        "equipment-link",
                        {"code": e["code"]},
                        {"parent_id": parent.id},
                        f"{path}.equipment[{j}]",
                    )
        for j, ch in enumerate(b.get("channels", [])):
            self.channel(ch, f"{path}.channels[{j}]", building=building)

    def contract(self, c: dict, path: str) -> None:
        values: dict[str, Any] = {
            k: c[k]
            for k in (
                "contractor",
                "kind",
                "starts_on",
                "ends_on",
                "price_eur_per_mwh_pci",
                "pcs_pci_ratio",
                "guaranteed_savings_pct",
                "terms",
            )
            if k in c
        }
        if "season" in c:
            values["season_start"] = c["season"]["start"]
            values["season_end"] = c["season"]["end"]
        dd = c.get("degree_days", {})
        if "method" in dd:
            values["dju_method"] = dd["method"]
        if "base_c" in dd:
            values["dju_base_c"] = dd["base_c"]
        if "station" in dd:
            st = self.ref(Station, dd["station"], f"{path}.degree_days.station", "station")
            if st is not None:
                values["station_id"] = st.id
        for k, v in c.get("sharing", {}).items():
            values[k] = v
        nbr = c.get("nb_revision", {})
        if "one_season_pct" in nbr:
            values["nb_revision_pct_one_season"] = nbr["one_season_pct"]
        if "two_seasons_pct" in nbr:
            values["nb_revision_pct_two_seasons"] = nbr["two_seasons_pct"]
        contract = self.upsert(Contract, "contract", {"code": c["code"]}, values, path)
        for j, cb in enumerate(c.get("buildings", [])):
            sub = f"{path}.buildings[{j}]"
            building = self.ref(Building, cb["building"], f"{sub}.building", "bâtiment")
            if building is None:
                continue
            cv: dict[str, Any] = {
                k: cb[k]
                for k in (
                    "nb_mwh_pci",
                    "dju_ref",
                    "q_ecs_mwh_per_m3",
                    "reference_year",
                    "reference_kwh",
                )
                if k in cb
            }
            for key, col in (("channel", "channel_id"), ("ecs_channel", "ecs_channel_id")):
                if key in cb:
                    ch = self.ref(Channel, cb[key], f"{sub}.{key}", "point de mesure")
                    if ch is not None:
                        if ch.building_id != building.id:
                            self.problems.append(
                                f"{sub}.{key}: « {ch.code} » n'est pas un point du bâtiment"
                                f" « {building.code} »"
                            )
                        cv[col] = ch.id
            self.upsert(
                ContractBuilding,
                "contract_building",
                {"contract_id": contract.id, "building_id": building.id},
                cv,
                sub,
            )

    def user(self, u: dict, path: str) -> None:
        values: dict[str, Any] = {"role": u["role"], "name": u.get("name", u["login"])}
        if "active" in u:
            values["active"] = u["active"]
        if "email" in u:
            try:
                values["email"] = check_email(u["email"]) or None
            except UserError as exc:
                self.problems.append(f"{path}.email: {exc}")
        if u["role"] == "contractor" and "contract" not in u:
            self.problems.append(f"{path}.contract: un exploitant est rattaché à un contrat")
        contract = self.ref(Contract, u.get("contract"), f"{path}.contract", "contrat")
        values["contract_id"] = contract.id if contract is not None else None
        self.upsert(User, "user", {"login": u["login"]}, values, path)

    def logger(self, lg: dict, path: str) -> None:
        values: dict[str, Any] = {
            "timestamp_column": lg["timestamp_column"],
            "timestamp_format": lg.get("timestamp_format"),
            "timezone": lg.get("timezone", "local"),
            "columns": {str(k): str(v) for k, v in lg["columns"].items()},
        }
        if "building" in lg:
            b = self.ref(Building, lg["building"], f"{path}.building", "bâtiment")
            values["building_id"] = b.id if b is not None else None
        for col, code in values["columns"].items():
            self.ref(Channel, code, f"{path}.columns.{col}", "point de mesure")
        self.upsert(LoggerMap, "logger", {"code": lg["code"]}, values, path)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9
        except (TypeError, ValueError):
            return False
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))
    return a == b


def _key_text(key: dict) -> str:
    return ",".join(str(v) for v in key.values())


def read_portfolio_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PortfolioError(str(path), [f"fichier illisible : {exc.strerror}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"ligne {mark.line + 1}, colonne {mark.column + 1}: " if mark else ""
        raise PortfolioError(str(path), [f"{where}YAML invalide ({exc})"]) from exc


def load_portfolio(session: Session, source: Any, actor: str = "system") -> LoadReport:
    """Validate then apply a portfolio (a path or an already parsed document).

    Raises PortfolioError when anything is wrong, including references to codes that exist
    neither in the file nor in the database: run it in its own transaction (`session_scope`),
    whose rollback then leaves the database as it was.
    """
    if isinstance(source, str | Path):
        name = str(source)
        data = read_portfolio_file(source)
    else:
        name, data = "portefeuille", source
    clean = parse_portfolio(data, name)
    loader = _Loader(session, name, actor)
    for i, st in enumerate(clean.get("stations", [])):
        loader.station(st, f"stations[{i}]")
    for i, b in enumerate(clean.get("buildings", [])):
        loader.building(b, f"buildings[{i}]")
    for i, c in enumerate(clean.get("contracts", [])):
        loader.contract(c, f"contracts[{i}]")
    for i, u in enumerate(clean.get("users", [])):
        loader.user(u, f"users[{i}]")
    for i, lg in enumerate(clean.get("loggers", [])):
        loader.logger(lg, f"loggers[{i}]")
    if loader.problems:
        raise PortfolioError(name, loader.problems)
    if loader.report.changed:
        record(session, actor, "load", "portfolio", name, None, {"lines": loader.report.lines()})
    return loader.report


REMOVABLE = {
    "building": Building,
    "room": Room,
    "equipment": Equipment,
    "channel": Channel,
    "station": Station,
    "contract": Contract,
    "user": User,
    "logger": LoggerMap,
}


def remove(session: Session, kind: str, code: str, actor: str) -> None:
    """Explicit, audited removal. Refused (IntegrityError) while something still refers to it;
    a user is deactivated rather than deleted so that its history stays attributable."""
    model = REMOVABLE[kind]
    obj = session.scalar(
        select(model).where((model.login if model is User else model.code) == code)
    )
    if obj is None:
        raise PortfolioError("suppression", [f"{kind} « {code} » inconnu(e)"])
    if model is User:
        obj.active = False
        record(session, actor, "deactivate", kind, code, {"active": True}, {"active": False})
        return
    before = {c.name: getattr(obj, c.name) for c in model.__table__.columns}
    session.delete(obj)
    session.flush()
    record(session, actor, "delete", kind, code, before, None)
