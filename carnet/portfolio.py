"""Loading the portfolio file: declared quantities, buildings, rooms, equipment, channels,
stations, contracts, users, loggers, import profiles (its schema: `carnet.portfolio_schema`, its validation: `carnet.portfolio_parse`).

A file adds and updates what it names (matched by `code`, users by `login`) and removes nothing:
a small file can add channels to a building. The whole file is validated before anything is
written, and written in one transaction, so a file with an error changes nothing. Loading the
same file twice changes nothing (and records no audit event).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import Actor
from carnet.audit import record
from carnet.models import (
    Building,
    Channel,
    Contract,
    ContractBuilding,
    Equipment,
    ImportProfile,
    LoggerMap,
    Quantity,
    Room,
    Station,
    User,
)
from carnet.obligations import apply_templates, close_equipment_obligations, local_today
from carnet.portfolio_parse import PortfolioError, parse_portfolio, read_portfolio_file
from carnet.quantities import QUANTITIES, declared_quantities
from carnet.roles import MANAGER, is_contractor
from carnet.timeutil import fr_date
from carnet.users import UserError, check_email


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


# --- loading ---------------------------------------------------------------------------------


class _Loader:
    def __init__(self, session: Session, source: str, actor: str):
        self.s = session
        self.source = source
        self.actor = actor
        self.report = LoadReport(source)
        self.problems: list[str] = []
        self.quantities = declared_quantities(session)

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

    def quantity(self, q: dict, path: str) -> None:
        low, high = q.get("range", (None, None))
        values = {
            "label": q["label"],
            "unit": q["unit"],
            "kind": q["kind"],
            "range_min": low,
            "range_max": high,
        }
        self.quantities[q["code"]] = self.upsert(
            Quantity, "quantity", {"code": q["code"]}, values, path
        )

    def check_quantity(self, ch: dict, path: str) -> None:
        """A channel measures a built-in quantity or a declared one, in its unit and kind."""
        code = ch["quantity"]
        if code in QUANTITIES:
            return
        declared = self.quantities.get(code)
        if declared is None:
            self.problems.append(
                f"{path}.quantity: grandeur « {code} » inconnue : déclarez-la dans la section"
                " quantities: (code, label, unit, kind, range) ou choisissez une grandeur"
                f" intégrée ({', '.join(QUANTITIES)})"
            )
            return
        for key in ("unit", "kind"):
            if ch[key] != getattr(declared, key):
                self.problems.append(
                    f"{path}.{key}: « {ch[key]} » ne correspond pas à la grandeur « {code} »"
                    f" déclarée dans quantities: ({key}: {getattr(declared, key)})"
                )

    def channel(self, ch: dict, path: str, building=None, station=None) -> None:
        self.check_quantity(ch, path)
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
            "tertiaire_reference_year",
            "tertiaire_activity",
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
        if is_contractor(u["role"]) and "contract" not in u:
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

    def import_profile(self, ip: dict, path: str) -> None:
        values: dict[str, Any] = {
            "columns": dict(ip["columns"]),
            "date_format": ip.get("date_format"),
            "timezone": ip.get("timezone", "local"),
            "decimal": ip.get("decimal"),
            "channel_id": None,
        }
        if "channel" in ip:
            ch = self.ref(Channel, ip["channel"], f"{path}.channel", "point de mesure")
            values["channel_id"] = ch.id if ch is not None else None
        elif "channel" not in ip["columns"]:
            self.problems.append(
                f"{path}.columns.channel: indiquez la colonne du point de mesure, ou le point"
                " de tout le fichier (channel)"
            )
        self.upsert(ImportProfile, "import_profile", {"code": ip["code"]}, values, path)


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


def load_portfolio(
    session: Session, source: Any, actor: str = "system", obligations: bool = True
) -> LoadReport:
    """Validate then apply a portfolio (a path or an already parsed document).

    The obligations follow the equipment at once (`obligations`): the templates are applied
    to every building the file names (never overwriting), and the obligations of equipment
    removed by now (`removed_on`) are closed with a note. The demo town passes False: it
    derives them itself, with their history, on its own calendar.

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
    for i, q in enumerate(clean.get("quantities", [])):
        loader.quantity(q, f"quantities[{i}]")
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
    for i, ip in enumerate(clean.get("import_profiles", [])):
        loader.import_profile(ip, f"import_profiles[{i}]")
    if loader.problems:
        raise PortfolioError(name, loader.problems)
    if obligations:
        _follow_equipment(session, clean, actor, loader.report)
    if loader.report.changed:
        # the audit key holds 64 characters: the file's name there, its whole path in `after`
        after = {"source": name, "lines": loader.report.lines()}
        record(session, actor, "load", "portfolio", Path(name).name[:64], None, after)
    return loader.report


def _follow_equipment(session: Session, clean: dict, actor: str, report: LoadReport) -> None:
    """Close the obligations of equipment the file says is removed, then derive the missing
    ones of each building it names (what `carnet obligations apply` does)."""
    today = local_today()
    codes = [b["code"] for b in clean.get("buildings", [])]
    buildings = session.scalars(select(Building).where(Building.code.in_(codes))).all()
    for b in clean.get("buildings", []):
        for e in b.get("equipment", []):
            if e.get("removed_on") is not None and e["removed_on"] <= today:
                eq = session.scalar(select(Equipment).where(Equipment.code == e["code"]))
                why = f"équipement {eq.code} retiré le {fr_date(e['removed_on'])}"
                report.updated["obligation"] += len(
                    close_equipment_obligations(session, eq, why, actor)
                )
    for building in buildings:
        created = apply_templates(session, building, Actor(actor, MANAGER), today=today)
        report.created["obligation"] += len(created)


REMOVABLE = {
    "building": Building,
    "room": Room,
    "equipment": Equipment,
    "channel": Channel,
    "station": Station,
    "contract": Contract,
    "user": User,
    "logger": LoggerMap,
    "import_profile": ImportProfile,
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
    if model is Equipment:  # its obligations are closed with a note and keep their history
        why = f"équipement {code} supprimé du patrimoine le {fr_date(local_today())}"
        for ob in close_equipment_obligations(session, obj, why, actor):
            ob.equipment_id = None
        session.flush()
    before = {c.name: getattr(obj, c.name) for c in model.__table__.columns}
    session.delete(obj)
    session.flush()
    record(session, actor, "delete", kind, code, before, None)
