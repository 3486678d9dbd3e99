"""Contracts and the buildings they cover, looked up by code the way the pages and their data
modules ask (a code from the browser is then checked against `carnet.access.Scope`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import Scope
from carnet.models import Building, Contract, ContractBuilding


def contracts_in(session: Session, scope: Scope) -> list[Contract]:
    """The contracts the scope sees, by code."""
    stmt = select(Contract).order_by(Contract.code)
    if not scope.sees_all:
        stmt = stmt.where(Contract.id.in_(scope.contract_ids or [-1]))
    return list(session.scalars(stmt))


def contract_by_code(session: Session, code: str) -> Contract | None:
    return session.scalar(select(Contract).where(Contract.code == code))


def contract_buildings(session: Session, contract_id: int) -> list[ContractBuilding]:
    return list(
        session.scalars(select(ContractBuilding).where(ContractBuilding.contract_id == contract_id))
    )


def building_id_by_code(session: Session, code: str) -> int | None:
    return session.scalar(select(Building.id).where(Building.code == code))


def contract_codes_of_building(session: Session, building_code: str) -> list[str]:
    """Codes of the contracts covering the building, in order."""
    return list(
        session.scalars(
            select(Contract.code)
            .join(ContractBuilding, ContractBuilding.contract_id == Contract.id)
            .join(Building, ContractBuilding.building_id == Building.id)
            .where(Building.code == building_code)
            .order_by(Contract.code)
        )
    )


def contract_covers(session: Session, contract_code: str, building_id: int) -> bool:
    return (
        session.scalar(
            select(ContractBuilding.id)
            .join(Contract, ContractBuilding.contract_id == Contract.id)
            .where(Contract.code == contract_code, ContractBuilding.building_id == building_id)
        )
        is not None
    )
