"""What the administration page shows and writes: the portfolio's items as the export writes
them, the choices of its forms, and the writes through `carnet.admin` (the portfolio loader:
same validation, same audit) and `carnet.admin_passwords`. The page passes the signed-in
manager; the capability is checked by the page's guards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from carnet import admin
from carnet.admin_passwords import LINK_LIFETIME, issue_link
from carnet.models import Building, Channel, Contract, Equipment, ModbusGateway, Room, Station
from carnet.portfolio import REMOVABLE
from carnet.portfolio import remove as portfolio_remove
from carnet.portfolio_export import export_item
from carnet.portfolio_parse import PortfolioError, parse_portfolio
from carnet.quantities import KNOWN_UNITS, quantity_labels
from carnet.roles import MANAGER
from carnet.users import UserError
from dashboards import db

KINDS = tuple(admin.PLACES)
LINK_HOURS = int(LINK_LIFETIME.total_seconds() // 3600)


def items(kind: str) -> list[dict]:
    """Rows of a kind: `parent` ((kind, code) or None), `key` and the exported `item`."""
    if kind not in KINDS:
        raise KeyError(kind)
    with db.session() as s:
        found = admin.items(s, kind)
    key = admin.key_field(kind)
    return [{"parent": p, "key": str(it[key]), "item": it} for p, it in found]


def item_values(kind: str, parent: tuple[str, str] | None, key: str) -> dict[str, Any] | None:
    """The form's values of one item (None if it is not there any more)."""
    for row in items(kind):
        if row["key"] == key and (row["parent"] or None) == (parent or None):
            return admin.form_values(kind, row["item"])
    return None


def choices() -> dict[str, list[tuple[str, str]]]:
    """(value, label) choices of the reference fields, by what they name."""
    with db.session() as s:

        def codes(model, label_attr=None):
            cols = [model.code] + ([getattr(model, label_attr)] if label_attr else [])
            rows = s.execute(select(*cols).order_by(model.code)).all()
            return [(r[0], f"{r[0]} — {r[1]}" if label_attr and r[1] else r[0]) for r in rows]

        return {
            "building": codes(Building, "name"),
            "station": codes(Station, "name"),
            "room": codes(Room, "name"),
            "equipment": codes(Equipment, "name"),
            "channel": codes(Channel),
            "contract": codes(Contract, "contractor"),
            "gateway": codes(ModbusGateway, "description"),
            "quantity": sorted(quantity_labels(s).items()),
            "unit": [(u, label) for u, label in KNOWN_UNITS.items()],
        }


def save(
    user, kind: str, values: dict[str, Any], parent: tuple[str, str] | None, new: bool
) -> tuple[dict[str, str], list[str], list[str]]:
    """Write one item; (problems by field, other problems, report lines). Nothing is written
    when there is a problem."""
    if kind == "user" and not new and _locks_out(user, values):
        return {"role": "vous ne pouvez pas retirer votre propre rôle de gestionnaire"}, [], []
    if kind in ("gateway", "modbus_device"):
        fields = _site_problems(kind, values, parent)
        if fields:
            return fields, [], []
    try:
        with db.session() as s:
            report = admin.save(s, kind, values, user.login, parent=parent, new=new)
    except admin.AdminError as exc:
        return exc.fields, exc.general, []
    return {}, [], report.lines()


def removable(kind: str) -> bool:
    """Kinds `carnet portfolio remove` deletes (a user is deactivated instead)."""
    return kind in REMOVABLE and kind != "user"


def remove(user, kind: str, code: str) -> str | None:
    """Delete one item as `carnet portfolio remove` does (audited; equipment closes its
    obligations); the problem, None when done. Refused while something refers to it."""
    if not removable(kind):
        return "cet élément ne se supprime pas ici"
    try:
        with db.session() as s:
            portfolio_remove(s, kind, code, user.login)
    except PortfolioError as exc:
        return "; ".join(exc.problems)
    except IntegrityError:
        return (
            f"« {code} » est encore référencé(e) (relevés, journal, contrat…) : suppression refusée"
        )
    return None


def _locks_out(user, values: dict[str, Any]) -> bool:
    """The manager editing their own account may not take the administration from themself."""
    own = values.get("login") == user.login
    return own and (values.get("role") != MANAGER or values.get("active") is False)


def set_active(user, login: str, active: bool) -> list[str]:
    """Deactivate or reactivate an account; the problems (none: done)."""
    if login == user.login and not active:
        return ["vous ne pouvez pas désactiver votre propre compte"]
    try:
        with db.session() as s:
            admin.set_active(s, login, active, user.login)
    except admin.AdminError as exc:
        return [*exc.fields.values(), *exc.general]
    return []


def reset_link(user, login: str) -> tuple[str | None, str | None]:
    """(path of a new one-time link, problem): the link is shown once, never stored."""
    try:
        with db.session() as s:
            return issue_link(s, login, user.login), None
    except UserError as exc:
        return None, str(exc)


def _site_problems(kind: str, values: dict[str, Any], parent) -> dict[str, str]:
    """What the poller's own check (`ingest.modbus.config.parse_config`: register maps, their
    points, slave addresses) says of the gateway once this form is applied, by field. Problems
    of the file's schema are left for `carnet.admin.save` to report."""
    from ingest.modbus.config import ConfigError, parse_config

    try:
        item = admin.form_item(kind, values)
    except admin.AdminError:
        return {}
    with db.session() as s:
        if kind == "gateway":
            image = export_item(s, "gateway", str(item.get("code", ""))) or {}
            gateway = item | {"devices": image.get("devices", [])}
        else:
            image = export_item(s, "gateway", parent[1]) if parent else None
            if image is None:
                return {}
            others = [d for d in image.get("devices", []) if d["unit"] != item.get("unit")]
            gateway = image | {"devices": [*others, item]}
    if not gateway.get("devices"):
        return {}  # a gateway without devices yet: the poller skips nothing of it
    try:
        (clean,) = parse_portfolio({"gateways": [gateway]}, admin.SOURCE)["gateways"]
        parse_config({"gateways": [clean]}, admin.SOURCE)
    except PortfolioError:
        return {}
    except ConfigError as exc:
        _source, where, message = (str(exc).split(" : ", 2) + ["", ""])[:3]
        tail = where.split(").", 1)[-1]  # "host", "devices[1].channels.x"
        if kind == "modbus_device":
            tail = tail.split("].", 1)[-1] if tail.startswith("devices[") else tail
        return {tail.split(".", 1)[0]: message or str(exc)}
    return {}
