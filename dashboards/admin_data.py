"""What the administration page shows and writes: the portfolio's items as the export writes
them, the choices of its forms, and the writes through `carnet.admin` (the portfolio loader:
same validation, same audit) and `carnet.admin_passwords`. The page passes the signed-in
manager; the capability is checked by the page's guards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from carnet import admin
from carnet.admin_passwords import LINK_LIFETIME, issue_link
from carnet.models import Building, Channel, Contract, Equipment, Room, Station
from carnet.quantities import KNOWN_UNITS, quantity_labels
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
            "quantity": sorted(quantity_labels(s).items()),
            "unit": [(u, label) for u, label in KNOWN_UNITS.items()],
        }


def save(
    user, kind: str, values: dict[str, Any], parent: tuple[str, str] | None, new: bool
) -> tuple[dict[str, str], list[str], list[str]]:
    """Write one item; (problems by field, other problems, report lines). Nothing is written
    when there is a problem."""
    try:
        with db.session() as s:
            report = admin.save(s, kind, values, user.login, parent=parent, new=new)
    except admin.AdminError as exc:
        return exc.fields, exc.general, []
    return {}, [], report.lines()


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
