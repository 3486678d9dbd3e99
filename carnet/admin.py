"""Administration in the browser: one item of the portfolio at a time (a building, a room, a
contract's terms, a user...), written through the very loader of the portfolio file.

A form becomes a one-item portfolio document (its parent named by its exported image), and
`carnet.portfolio.load_portfolio` validates it with the file's schema, writes it, records the
before/after of each change in the audit trail and lets the obligations follow the equipment:
the YAML file and the browser are one code path. The only difference is that a form gives its
item whole (`complete`): an optional field left empty is cleared, where a file's omission
keeps the value.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import (
    Building,
    Channel,
    Contract,
    ContractBuilding,
    Equipment,
    ModbusDevice,
    ModbusGateway,
    Room,
    Station,
    User,
)
from carnet.portfolio import LoadReport, load_portfolio
from carnet.portfolio_export import export_item
from carnet.portfolio_parse import PortfolioError
from carnet.portfolio_schema import (
    BOOLEAN,
    ENTITIES,
    INTEGER,
    LIST,
    OBJECT,
)

SOURCE = "administration"
# kind -> (section of the document, kinds its parent may be, key of the parent's list)
PLACES: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "station": ("stations", (), None),
    "building": ("buildings", (), None),
    "room": ("buildings", ("building",), "rooms"),
    "equipment": ("buildings", ("building",), "equipment"),
    "channel": ("buildings", ("building", "station"), "channels"),
    "contract": ("contracts", (), None),
    "contract_building": ("contracts", ("contract",), "buildings"),
    "user": ("users", (), None),
    "gateway": ("gateways", (), None),
    "modbus_device": ("gateways", ("gateway",), "devices"),
}
SECTION_OF = {
    "station": "stations",
    "building": "buildings",
    "contract": "contracts",
    "gateway": "gateways",
}
KEY_OF = {"user": "login", "contract_building": "building", "modbus_device": "unit"}
_MODEL = {
    "station": Station,
    "building": Building,
    "room": Room,
    "equipment": Equipment,
    "channel": Channel,
    "contract": Contract,
    "user": User,
    "gateway": ModbusGateway,
}
_INTEGER_RE = re.compile(r"^[+-]?\d+$")


class AdminError(ValueError):
    """What the form must show: problems by field (dotted for parts: « season.start ») and
    the others."""

    def __init__(self, fields: dict[str, str], general: list[str] | None = None):
        self.fields = fields
        self.general = general or []
        super().__init__("; ".join([*(f"{k}: {v}" for k, v in fields.items()), *self.general]))


def key_field(kind: str) -> str:
    return KEY_OF.get(kind, "code")


def form_fields(kind: str) -> list[tuple[str, Any]]:
    """The form's fields of an entity, in the schema's order: (dotted key, Field). Lists are
    edited as their own items; a part of named keys is flattened (« sharing.franchise_pct »)."""
    out = []
    for key, f in ENTITIES[kind].items():
        if f.kind == LIST:
            continue
        if f.kind == OBJECT and f.of is not None:
            out += [(f"{key}.{sub}", sf) for sub, sf in ENTITIES[f.of].items()]
        else:
            out.append((key, f))
    return out


def _from_form(f, value: Any) -> Any:
    """A form's value as a file would hold it; what it cannot be is left for the schema's
    readers to refuse in their words."""
    if value is None:
        return None
    if f.kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if f.kind == OBJECT:  # a free-form part (terms, schedule) is edited as YAML text
        import yaml

        text = str(value).strip()
        if not text:
            return None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"YAML invalide ({exc.__class__.__name__})") from exc
    text = str(value).strip()
    if not text:
        return None
    if f.kind == INTEGER and _INTEGER_RE.match(text):
        return int(text)
    return text


def form_item(kind: str, values: dict[str, Any]) -> dict:
    """The item a form's values (dotted keys) describe, as the portfolio file writes it."""
    item: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, f in form_fields(kind):
        try:
            value = _from_form(f, values.get(key))
        except ValueError as exc:
            problems[key] = str(exc)
            continue
        if value is None:
            continue
        head, _, sub = key.partition(".")
        if sub:
            item.setdefault(head, {})[sub] = value
        else:
            item[key] = value
    if problems:
        raise AdminError(problems)
    return item


def _text_of(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float | Decimal):
        text = format(value, "f") if isinstance(value, Decimal) else repr(value)
        text = text[:-2] if text.endswith(".0") else text
        return text.replace(".", ",")
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        return value.replace(".", ",")  # an exported price (exact decimal text)
    if isinstance(value, dict | list):
        import yaml

        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100)
    return str(value)


def form_values(kind: str, item: dict) -> dict[str, Any]:
    """The form's values (dotted keys, French text) of an exported item: `form_item` of them
    gives the item back."""
    out = {}
    for key, _f in form_fields(kind):
        head, _, sub = key.partition(".")
        value = item.get(head, {}).get(sub) if sub else item.get(key)
        out[key] = _text_of(value)
    return out


def _parent_image(session: Session, parent: tuple[str, str]) -> dict:
    kind, code = parent
    image = export_item(session, kind, code)
    if image is None:
        label = {
            "building": "bâtiment",
            "station": "station",
            "contract": "contrat",
            "gateway": "passerelle",
        }[kind]
        raise AdminError({}, [f"{label} « {code} » inconnu(e)"])
    return {k: v for k, v in image.items() if ENTITIES[kind][k].kind != LIST}


def _exists(session: Session, kind: str, item: dict, parent) -> bool:
    if kind == "contract_building":
        return (
            session.scalar(
                select(ContractBuilding.contract_id)
                .join(Contract, Contract.id == ContractBuilding.contract_id)
                .join(Building, Building.id == ContractBuilding.building_id)
                .where(Contract.code == parent[1], Building.code == item.get("building"))
            )
            is not None
        )
    if kind == "modbus_device":
        if not isinstance(item.get("unit"), int):  # the schema's reader will say why
            return False
        return (
            session.scalar(
                select(ModbusDevice.id)
                .join(ModbusGateway, ModbusGateway.id == ModbusDevice.gateway_id)
                .where(ModbusGateway.code == parent[1], ModbusDevice.unit == item.get("unit"))
            )
            is not None
        )
    model = _MODEL[kind]
    attr = model.login if model is User else model.code
    return session.scalar(select(model.id).where(attr == item.get(key_field(kind)))) is not None


def _document(kind: str, item: dict, parent_image: dict | None) -> tuple[dict, str]:
    section, _kinds, nested = PLACES[kind]
    if nested is None:
        return {section: [item]}, f"{section}[0]"
    pkind_section = SECTION_OF[parent_image["__kind"]]
    image = {k: v for k, v in parent_image.items() if k != "__kind"}
    return {pkind_section: [image | {nested: [item]}]}, f"{pkind_section}[0].{nested}[0]"


def save(
    session: Session,
    kind: str,
    values: dict[str, Any],
    actor: str,
    *,
    parent: tuple[str, str] | None = None,
    new: bool = False,
) -> LoadReport:
    """Create (`new`) or update one item from a form's values; AdminError says what is wrong,
    by field, and nothing is written then (run it in its own transaction)."""
    section, parent_kinds, _nested = PLACES[kind]
    item = form_item(kind, values)
    key = key_field(kind)
    if item.get(key) in (None, ""):
        raise AdminError({key: "clé obligatoire absente"})
    image = None
    if parent_kinds:
        if parent is None or parent[0] not in parent_kinds:
            raise AdminError({"_parent": "choisissez où il se trouve"})
        image = _parent_image(session, parent) | {"__kind": parent[0]}
    exists = _exists(session, kind, item, parent)
    if new and exists:
        raise AdminError({key: f"« {item[key]} » existe déjà"})
    if not new and not exists:
        raise AdminError({key: f"« {item[key]} » inconnu(e)"})
    doc, path = _document(kind, item, image)
    try:
        return load_portfolio(session, doc, actor, name=SOURCE, complete=(kind, path))
    except PortfolioError as exc:
        raise _by_field(kind, exc.problems, path) from exc


def _by_field(kind: str, problems: list[str], path: str) -> AdminError:
    """The problems of the item's own fields go next to them (a key inside a free-form part,
    « channels.outdoor_temp », to its part), the others above the form."""
    names = {name for name, _f in form_fields(kind)}
    fields: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        where, _, message = problem.partition(": ")
        rest = where[len(path) + 1 :] if where.startswith(path + ".") else ""
        name = rest if rest in names else rest.split(".", 1)[0]
        if name in names:
            fields.setdefault(name, message if name == rest else f"{rest} : {message}")
        else:
            general.append(problem)
    return AdminError(fields, general)


def set_active(session: Session, login: str, active: bool, actor: str) -> LoadReport:
    """Deactivate (or reactivate) a user, as `active: false` in the file does: its sessions
    end (`carnet.models`), its history stays attributable."""
    image = export_item(session, "user", login)
    if image is None:
        raise AdminError({}, [f"utilisateur « {login} » inconnu"])
    return save(session, "user", form_values("user", image | {"active": active}), actor)


def items(session: Session, kind: str) -> list[tuple[tuple[str, str] | None, dict]]:
    """Every item of a kind as the file writes it, with its parent (kind, code)."""
    from carnet.portfolio_export import export_portfolio

    doc = export_portfolio(session)
    section, parent_kinds, nested = PLACES[kind]
    if nested is None:
        return [(None, it) for it in doc.get(section, [])]
    out = []
    for pkind in parent_kinds:
        key = "code"
        for parent in doc.get(SECTION_OF[pkind], []):
            out += [((pkind, parent[key]), it) for it in parent.get(nested, [])]
    return out
