"""The town's works programme: what was done or is planned on each building, what it cost
(subsidies deducted), what it was expected to save and on what authority, and its consequence
on the contract (a non-routine adjustment of NB, through `carnet.adjustments`).

Only the manager writes the programme; the manager and finance read it (it is money). The
measured savings are the engine's (`contract.works_savings`): this module says where each work
is measured (the building's contract channel, its station, the contract's price) and never
computes them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from carnet.access import ActorLike, CarnetPermissionError
from carnet.adjustments import add_adjustment
from carnet.audit import record, row_image
from carnet.logbook import parse_cost_cents
from carnet.logbook_refs import LogbookError, resolve_building
from carnet.models import Building, Contract, ContractBuilding, WorksProject, WorksSubsidy
from carnet.roles import can

SCHEMES = {
    "CEE": "Certificats d'économies d'énergie",
    "DSIL": "Dotation de soutien à l'investissement local",
    "DETR": "Dotation d'équipement des territoires ruraux",
    "FONDS_VERT": "Fonds vert",
    "REGION": "Région",
    "AUTRE": "Autre",
}
FIELDS = [
    "building_id",
    "title",
    "description",
    "starts_on",
    "ends_on",
    "cost_cents",
    "expected_mwh_per_year",
    "expected_pct",
    "expected_source",
    "adjustment_id",
]


class WorksError(ValueError):
    """Invalid input, French message."""


def _require(actor: ActorLike, capability: str, what: str) -> None:
    if not can(actor.role, capability):
        raise CarnetPermissionError(
            f"accès refusé : {actor.login} ({actor.role}) ne peut pas {what}"
        )


def _cents(value, what: str) -> int:
    try:
        cents = parse_cost_cents(value)
    except LogbookError as exc:
        raise WorksError(f"{what} : {exc}") from exc
    if cents is None:
        raise WorksError(f"{what} manquant")
    return cents


def add_works(
    session: Session,
    actor: ActorLike,
    building: Building | str | int,
    title: str,
    starts_on: dt.date,
    cost_eur,
    *,
    ends_on: dt.date | None = None,
    description: str | None = None,
    expected_mwh: float | None = None,
    expected_pct: float | None = None,
    expected_source: str | None = None,
    subsidies: list[tuple[str, object]] = (),
    contract_code: str | None = None,
    nb_factor: float | None = None,
    nb_delta_mwh: float | None = None,
    justification: str | None = None,
) -> WorksProject:
    """Record a work (and its subsidies); with `nb_factor` or `nb_delta_mwh`, its contract
    consequence as an adjustment of the building's NB from the end of the works."""
    _require(actor, "works.edit", "inscrire des travaux au programme")
    building = resolve_building(session, building)
    title = (title or "").strip()
    if not title:
        raise WorksError("des travaux ont besoin d'un intitulé")
    if ends_on is not None and ends_on < starts_on:
        raise WorksError("la date de fin précède la date de début")
    if expected_mwh is not None and expected_pct is not None:
        raise WorksError("indiquez l'économie attendue en MWh/an ou en %, pas les deux")
    works = WorksProject(
        building_id=building.id,
        title=title,
        description=(description or "").strip() or None,
        starts_on=starts_on,
        ends_on=ends_on,
        cost_cents=_cents(cost_eur, "coût"),
        expected_mwh_per_year=expected_mwh,
        expected_pct=expected_pct,
        expected_source=(expected_source or "").strip() or None,
        author_login=actor.login,
    )
    session.add(works)
    session.flush()
    for scheme, amount in subsidies:
        add_subsidy(session, actor, works, scheme, amount, audit=False)
    if nb_factor is not None or nb_delta_mwh is not None:
        code = contract_code or building_contract_code(session, building.id)
        if code is None:
            raise WorksError(f"le bâtiment {building.code} n'est dans aucun contrat")
        adjustment = add_adjustment(
            session,
            code,
            building.code,
            (ends_on or starts_on) + dt.timedelta(days=1),
            "other",
            (justification or "").strip() or f"Travaux : {title}",
            actor.login,
            nb_factor=nb_factor,
            delta_mwh_pci=nb_delta_mwh,
        )
        works.adjustment_id = adjustment.id
        session.flush()
    record(session, actor.login, "create", "works_project", works.id, None, _image(works))
    return works


def _image(works: WorksProject) -> dict:
    return row_image(works, FIELDS) | {
        "subsidies": [(s.scheme, s.amount_cents) for s in works.subsidies]
    }


def add_subsidy(
    session: Session,
    actor: ActorLike,
    works: WorksProject | int,
    scheme: str,
    amount,
    audit: bool = True,
) -> WorksSubsidy:
    """A subsidy of a work (audited, unless it comes with the work's own creation)."""
    _require(actor, "works.edit", "ajouter une subvention")
    if isinstance(works, int):
        works = get_works(session, actor, works)
    key = (scheme or "").strip().upper().replace(" ", "_")
    if key not in SCHEMES:
        raise WorksError(f"dispositif inconnu « {scheme} » (attendu : {', '.join(SCHEMES)})")
    subsidy = WorksSubsidy(works_id=works.id, scheme=key, amount_cents=_cents(amount, "aide"))
    session.add(subsidy)
    session.flush()
    session.refresh(works, ["subsidies"])
    if audit:
        after = {"scheme": key, "amount_cents": subsidy.amount_cents}
        record(session, actor.login, "create", "works_subsidy", subsidy.id, None, after)
    return subsidy


def get_works(session: Session, actor: ActorLike, works_id: int) -> WorksProject:
    _require(actor, "works.view", "consulter le programme de travaux")
    works = session.get(WorksProject, int(works_id))
    if works is None:
        raise LookupError(f"travaux n° {works_id} inconnus")
    return works


def building_contract_code(session: Session, building_id: int) -> str | None:
    """The newest contract the building belongs to."""
    return session.scalar(
        select(Contract.code)
        .join(ContractBuilding, ContractBuilding.contract_id == Contract.id)
        .where(ContractBuilding.building_id == building_id)
        .order_by(Contract.starts_on.desc(), Contract.id.desc())
        .limit(1)
    )


def works_rows(
    session: Session, actor: ActorLike, building: Building | str | int | None = None
) -> list[dict]:
    """Each work with what the engine needs to measure it: plain dicts (`plan` holds the
    fields of `contract.works_savings.WorksPlan`), by building and start date."""
    _require(actor, "works.view", "consulter le programme de travaux")
    stmt = (
        select(WorksProject)
        .join(Building, WorksProject.building_id == Building.id)
        .options(selectinload(WorksProject.subsidies), selectinload(WorksProject.building))
        .order_by(Building.code, WorksProject.starts_on, WorksProject.id)
    )
    if building is not None:
        stmt = stmt.where(WorksProject.building_id == resolve_building(session, building).id)
    out = []
    where: dict[int, dict] = {}
    for w in session.scalars(stmt):
        if w.building_id not in where:
            where[w.building_id] = _measured_on(session, w.building)
        place = where[w.building_id]
        subsidy_cents = sum(s.amount_cents for s in w.subsidies)
        net_eur = float(Decimal(w.cost_cents - subsidy_cents) / 100)
        expected = w.expected_mwh_per_year
        if expected is None and w.expected_pct is not None and place["nb_mwh_pci"]:
            expected = w.expected_pct / 100.0 * place["nb_mwh_pci"]
        out.append(
            {
                "id": w.id,
                "building": w.building.code,
                "building_name": w.building.name,
                "title": w.title,
                "description": w.description,
                "starts_on": w.starts_on,
                "ends_on": w.ends_on,
                "cost_eur": float(Decimal(w.cost_cents) / 100),
                "subsidies": [
                    {
                        "scheme": s.scheme,
                        "label": SCHEMES.get(s.scheme, s.scheme),
                        "amount_eur": float(Decimal(s.amount_cents) / 100),
                    }
                    for s in w.subsidies
                ],  # fmt: skip
                "subsidy_eur": float(Decimal(subsidy_cents) / 100),
                "expected_pct": w.expected_pct,
                "expected_source": w.expected_source,
                "adjustment_id": w.adjustment_id,
                "contract": place["contract"],
                "channel_id": place["channel_id"],
                "plan": {
                    "works_id": w.id,
                    "building_code": w.building.code,
                    "title": w.title,
                    "starts_on": w.starts_on,
                    "ends_on": w.ends_on,
                    "net_cost_eur": net_eur,
                    "expected_mwh_per_year": expected,
                    "channel_code": place["channel_code"],
                    "station_code": place["station_code"],
                    "price_eur_per_mwh_pci": place["price"],
                    "pcs_pci_ratio": place["pcs_pci_ratio"],
                },
            }
        )
    return out


def _measured_on(session: Session, building: Building) -> dict:
    """The building's contract channel, its station (the contract's, else the building's) and
    the contract's price."""
    cb = session.scalar(
        select(ContractBuilding)
        .join(Contract, ContractBuilding.contract_id == Contract.id)
        .where(ContractBuilding.building_id == building.id)
        .options(selectinload(ContractBuilding.contract), selectinload(ContractBuilding.channel))
        .order_by(Contract.starts_on.desc(), Contract.id.desc())
        .limit(1)
    )
    station = (cb.contract.station if cb is not None else None) or building.station
    return {
        "contract": cb.contract.code if cb is not None else None,
        "channel_id": cb.channel_id if cb is not None else None,
        "channel_code": cb.channel.code if cb is not None and cb.channel is not None else None,
        "station_code": station.code if station is not None else None,
        "price": float(cb.contract.price_eur_per_mwh_pci) if cb is not None else None,
        "pcs_pci_ratio": float(cb.contract.pcs_pci_ratio) if cb is not None else 1.11,
        "nb_mwh_pci": float(cb.nb_mwh_pci) if cb is not None else None,
    }
