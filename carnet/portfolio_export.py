"""Writing the portfolio back as a file (`carnet portfolio export`): the same document that
`carnet.portfolio` loads, so that the YAML file and the record stay two views of one truth
(export then load changes nothing).

Everything the file can say is written: declared quantities, stations, buildings with their
rooms, equipment and channels, contracts with their terms and buildings, users (never their
passwords), loggers and import profiles. A value the record does not hold (NULL) is left out, as
the file leaves out what it does not say. What the file cannot say is not exported: readings,
the carnet, obligations, secrets (QR and iCal tokens, password hashes). Modbus gateways are not
stored in the record (they live in the poller's own configuration file).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def _kept(pairs: dict[str, Any]) -> dict[str, Any]:
    """The keys whose value is known (the file omits what the record does not hold)."""
    return {k: v for k, v in pairs.items() if v is not None and v != {}}


class _Codes:
    """Codes by id, read once per table: the file names things by code."""

    def __init__(self, session: Session):
        def codes(model, attr="code"):
            return dict(session.execute(select(model.id, getattr(model, attr))).all())

        self.station = codes(Station)
        self.building = codes(Building)
        self.room = codes(Room)
        self.equipment = codes(Equipment)
        self.channel = codes(Channel)
        self.contract = codes(Contract)


def _channel(ch: Channel, codes: _Codes) -> dict:
    return _kept(
        {
            "code": ch.code,
            "quantity": ch.quantity,
            "kind": ch.kind,
            "unit": ch.unit,
            "kwh_per_unit": ch.kwh_per_unit,
            "modulus": ch.modulus,
            "external_ref": ch.external_ref,
            "description": ch.description,
            "room": codes.room.get(ch.room_id),
            "equipment": codes.equipment.get(ch.equipment_id),
            "max_kw": ch.max_kw,
            "installed_on": ch.installed_on,
        }
    )


def _quantity(q: Quantity) -> dict:
    out = {"code": q.code, "label": q.label, "unit": q.unit, "kind": q.kind}
    if q.range_min is not None or q.range_max is not None:
        out["range"] = [q.range_min, q.range_max]
    return out


def _station(st: Station, channels: list[Channel], codes: _Codes) -> dict:
    out = _kept(
        {"code": st.code, "name": st.name, "latitude": st.latitude, "longitude": st.longitude}
    )
    mine = [_channel(c, codes) for c in channels if c.station_id == st.id]
    return out | ({"channels": mine} if mine else {})


def _building(b: Building, channels: list[Channel], codes: _Codes) -> dict:
    out = _kept(
        {
            "code": b.code,
            "name": b.name,
            "address": b.address,
            "usage": b.usage,
            "heated_area_m2": b.heated_area_m2,
            "tertiary_area_m2": b.tertiary_area_m2,
            "tertiaire_reference_year": b.tertiaire_reference_year,
            "tertiaire_activity": b.tertiaire_activity,
            "year_built": b.year_built,
            "erp_category": b.erp_category,
            "erp_type": b.erp_type,
            "main_energy": b.main_energy,
            "station": codes.station.get(b.station_id),
            "schedule": b.schedule,
            "notes": b.notes,
        }
    )
    rooms = [
        _kept(
            {
                "code": r.code,
                "name": r.name,
                "bookable": r.bookable,
                "capacity": r.capacity,
                "area_m2": r.area_m2,
                "heating_zone": r.heating_zone,
            }
        )
        for r in b.rooms
    ]
    equipment = [
        _kept(
            {
                "code": e.code,
                "kind": e.kind,
                "name": e.name,
                "parent": codes.equipment.get(e.parent_id),
                "room": codes.room.get(e.room_id),
                "make": e.make,
                "model": e.model,
                "serial": e.serial,
                "power_kw": e.power_kw,
                "fuel": e.fuel,
                "installed_on": e.installed_on,
                "removed_on": e.removed_on,
                "meter_size": e.meter_size,
            }
        )
        for e in b.equipment
    ]
    # a channel of a building and a station is written once, under its building
    mine = [_channel(c, codes) for c in channels if c.building_id == b.id]
    for key, value in (("rooms", rooms), ("equipment", equipment), ("channels", mine)):
        if value:
            out[key] = value
    return out


def _decimal(value: Decimal | None) -> str | None:
    """A price as exact text (a float would round it): the loader reads it back exactly."""
    return None if value is None else format(value.normalize(), "f")


def _contract(c: Contract, links: list[ContractBuilding], codes: _Codes) -> dict:
    out = _kept(
        {
            "code": c.code,
            "contractor": c.contractor,
            "kind": c.kind,
            "starts_on": c.starts_on,
            "ends_on": c.ends_on,
            "season": _kept({"start": c.season_start, "end": c.season_end}),
            "degree_days": _kept(
                {
                    "method": c.dju_method,
                    "base_c": c.dju_base_c,
                    "station": codes.station.get(c.station_id),
                }
            ),
            "price_eur_per_mwh_pci": _decimal(c.price_eur_per_mwh_pci),
            "pcs_pci_ratio": c.pcs_pci_ratio,
            "sharing": _kept(
                {
                    "franchise_pct": c.franchise_pct,
                    "savings_share_contractor": c.savings_share_contractor,
                    "savings_cap_pct": c.savings_cap_pct,
                    "overrun_share_contractor": c.overrun_share_contractor,
                }
            ),
            "guaranteed_savings_pct": c.guaranteed_savings_pct,
            "nb_revision": _kept(
                {
                    "one_season_pct": c.nb_revision_pct_one_season,
                    "two_seasons_pct": c.nb_revision_pct_two_seasons,
                }
            ),
            "terms": c.terms,
        }
    )
    buildings = [
        _kept(
            {
                "building": codes.building[cb.building_id],
                "channel": codes.channel.get(cb.channel_id),
                "nb_mwh_pci": cb.nb_mwh_pci,
                "dju_ref": cb.dju_ref,
                "ecs_channel": codes.channel.get(cb.ecs_channel_id),
                "q_ecs_mwh_per_m3": cb.q_ecs_mwh_per_m3,
                "reference_year": cb.reference_year,
                "reference_kwh": cb.reference_kwh,
            }
        )
        for cb in sorted(links, key=lambda cb: codes.building[cb.building_id])
        if cb.contract_id == c.id
    ]
    return out | ({"buildings": buildings} if buildings else {})


def _user(u: User, codes: _Codes) -> dict:
    return _kept(
        {
            "login": u.login,
            "name": u.name,
            "role": u.role,
            "contract": codes.contract.get(u.contract_id),
            "active": u.active,
            "email": u.email,
        }
    )


def _logger(lg: LoggerMap, codes: _Codes) -> dict:
    return _kept(
        {
            "code": lg.code,
            "building": codes.building.get(lg.building_id),
            "timestamp_column": lg.timestamp_column,
            "timestamp_format": lg.timestamp_format,
            "timezone": lg.timezone,
            "columns": dict(lg.columns or {}),
        }
    )


def _import_profile(p: ImportProfile, codes: _Codes) -> dict:
    return _kept(
        {
            "code": p.code,
            "columns": dict(p.columns or {}),
            "date_format": p.date_format,
            "timezone": p.timezone,
            "decimal": p.decimal,
            "channel": codes.channel.get(p.channel_id),
        }
    )


def export_portfolio(session: Session) -> dict[str, list[dict]]:
    """The whole portfolio as the document `carnet.portfolio.load_portfolio` reads."""
    codes = _Codes(session)
    channels = session.scalars(select(Channel).order_by(Channel.code)).all()
    links = session.scalars(select(ContractBuilding)).all()

    def rows(model, key="code"):
        return session.scalars(select(model).order_by(getattr(model, key))).all()

    doc = {
        "quantities": [_quantity(q) for q in rows(Quantity)],
        "stations": [_station(st, channels, codes) for st in rows(Station)],
        "buildings": [_building(b, channels, codes) for b in rows(Building)],
        "contracts": [_contract(c, links, codes) for c in rows(Contract)],
        "users": [_user(u, codes) for u in rows(User, "login")],
        "loggers": [_logger(lg, codes) for lg in rows(LoggerMap)],
        "import_profiles": [_import_profile(p, codes) for p in rows(ImportProfile)],
    }
    return {section: items for section, items in doc.items() if items}


def write_portfolio(session: Session, path: str | Path) -> dict[str, int]:
    """Write the export to `path` (YAML, UTF-8); how many items per section."""
    import yaml

    doc = export_portfolio(session)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
    header = (
        "# Patrimoine exporté par `carnet portfolio export` : `carnet portfolio load` le relit.\n"
    )
    Path(path).write_text(header + text, encoding="utf-8")
    return {section: len(items) for section, items in doc.items()}
