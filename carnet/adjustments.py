"""Non-routine adjustments of a building's contractual reference (IPMVP "non-routine").

An adjustment changes what the building is compared with (area added, closed for works, new
usage), so it must be dated, justified and signed, and it must show in the building's carnet:
each one writes a logbook entry of kind "adjustment" and an audit event. One in force over a
closed month or season waits (`status='pending'`, not applied) as a pending regularisation
until that period is reopened or the difference booked (`carnet settle pending`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet import audit
from carnet.adjustment_kinds import ADJUSTMENT_KINDS, KIND_LABELS_FR
from carnet.closing import adjustment_touches
from carnet.models import Adjustment, Building, Contract, ContractBuilding, LogbookEntry
from carnet.timeutil import local_to_utc

FIELDS = [
    "contract_building_id",
    "effective_from",
    "effective_to",
    "kind",
    "nb_factor",
    "delta_mwh_pci",
    "justification",
    "author_login",
    "logbook_entry_id",
    "status",
]


class AdjustmentError(ValueError):
    """A refused adjustment; the message is for the user (French)."""


def contract_building(session: Session, contract_code: str, building_code: str):
    cb = session.scalar(
        select(ContractBuilding)
        .join(Contract, ContractBuilding.contract_id == Contract.id)
        .join(Building, ContractBuilding.building_id == Building.id)
        .where(Contract.code == contract_code, Building.code == building_code)
    )
    if cb is None:
        raise AdjustmentError(
            f"le bâtiment {building_code} ne fait pas partie du contrat {contract_code}"
        )
    return cb


def add_adjustment(
    session: Session,
    contract_code: str,
    building_code: str,
    effective_from: dt.date,
    kind: str,
    justification: str,
    author_login: str,
    effective_to: dt.date | None = None,
    nb_factor: float | None = None,
    delta_mwh_pci: float | None = None,
) -> Adjustment:
    """Store the adjustment, its logbook entry and the audit event in the caller's session.

    `nb_factor` multiplies NB while in force (0 = closed, 1.15 = 15 % more area); `delta_mwh_pci`
    is added to NB (per season, climate-corrected like NB). Exactly one of them.
    """
    if kind not in ADJUSTMENT_KINDS:
        raise AdjustmentError(
            f"nature inconnue « {kind} » (attendu : {', '.join(ADJUSTMENT_KINDS)})"
        )
    if (nb_factor is None) == (delta_mwh_pci is None):
        raise AdjustmentError("indiquez soit un facteur sur le NB, soit un écart en MWh PCI")
    if nb_factor is not None and nb_factor < 0:
        raise AdjustmentError("le facteur sur le NB doit être positif ou nul")
    if not justification or not justification.strip():
        raise AdjustmentError("un ajustement doit être justifié")
    if not author_login or not author_login.strip():
        raise AdjustmentError("un ajustement doit avoir un auteur")
    if effective_to is not None and effective_to < effective_from:
        raise AdjustmentError("la date de fin précède la date de début")
    cb = contract_building(session, contract_code, building_code)
    # a closed month or season keeps its signed figures: the adjustment waits (pending)
    touches = adjustment_touches(session, cb.contract_id, effective_from, effective_to)
    what = (
        f"NB × {nb_factor:g}" if nb_factor is not None else f"NB {delta_mwh_pci:+g} MWh PCI/saison"
    )
    until = f" au {effective_to:%d/%m/%Y}" if effective_to else ""
    entry = LogbookEntry(
        building_id=cb.building_id,
        occurred_at=local_to_utc([dt.datetime.combine(effective_from, dt.time())])[
            0
        ].to_pydatetime(),
        kind="adjustment",
        title=f"Ajustement du contrat {contract_code} : {KIND_LABELS_FR[kind]}",
        text=f"Du {effective_from:%d/%m/%Y}{until} : {what}. {justification.strip()}",
        author_login=author_login,
        status="done",
        source="user",
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        author_login,
        "create",
        "logbook_entry",
        entry.id,
        after=audit.row_image(entry, ["building_id", "kind", "title", "text", "author_login"]),
    )
    adjustment = Adjustment(
        contract_building_id=cb.id,
        effective_from=effective_from,
        effective_to=effective_to,
        kind=kind,
        nb_factor=nb_factor,
        delta_mwh_pci=delta_mwh_pci,
        justification=justification.strip(),
        author_login=author_login,
        logbook_entry_id=entry.id,
        status="pending" if touches else "active",
    )
    session.add(adjustment)
    session.flush()
    adjustment.closed_periods = touches  # not stored: for the caller's message
    audit.record(
        session,
        author_login,
        "create",
        "adjustment",
        adjustment.id,
        after=audit.row_image(adjustment, FIELDS),
    )
    return adjustment


def list_adjustments(session: Session, contract_code: str) -> list[Adjustment]:
    return list(
        session.scalars(
            select(Adjustment)
            .join(ContractBuilding, Adjustment.contract_building_id == ContractBuilding.id)
            .join(Contract, ContractBuilding.contract_id == Contract.id)
            .where(Contract.code == contract_code)
            .order_by(Adjustment.effective_from, Adjustment.id)
        )
    )
