"""Data of the contract terms page (`/contrat`): the contracts in the user's scope and, for one
of them, its terms and per-building references as plain values."""

from __future__ import annotations

from sqlalchemy import Engine

from carnet.access import CarnetPermissionError, Scope
from carnet.contract_lookup import contract_buildings, contract_by_code, contracts_in
from carnet.db import session_scope

TERM_FIELDS = (
    "contractor", "kind", "starts_on", "ends_on", "season_start", "season_end", "dju_method",
    "dju_base_c", "price_eur_per_mwh_pci", "pcs_pci_ratio", "franchise_pct",
    "savings_share_contractor", "savings_cap_pct", "overrun_share_contractor",
    "nb_revision_pct_one_season", "nb_revision_pct_two_seasons", "guaranteed_savings_pct",
)  # fmt: skip


def visible_contracts(engine: Engine, scope: Scope) -> list[tuple[str, str]]:
    """(code, contractor) of the contracts the scope sees."""
    with session_scope(engine) as s:
        return [(c.code, c.contractor) for c in contracts_in(s, scope)]


def contract_terms(engine: Engine, scope: Scope, code: str) -> dict:
    """The contract's terms (`TERM_FIELDS`), its `station` (name, code) or None, and its
    `buildings`: (name, code, channel code or "—", NB MWh PCI, reference DJU, ECS MWh/m³).
    LookupError for an unknown code; CarnetPermissionError outside the scope."""
    with session_scope(engine) as s:
        contract = contract_by_code(s, code) if code else None
        if contract is None:
            raise LookupError(f"contrat inconnu « {code} »")
        if not scope.has_contract(contract.id):
            raise CarnetPermissionError(f"accès refusé au contrat {code}")
        terms = {name: getattr(contract, name) for name in TERM_FIELDS}
        station = contract.station
        terms["station"] = (station.name, station.code) if station else None
        terms["buildings"] = [
            (
                cb.building.name,
                cb.building.code,
                cb.channel.code if cb.channel else "—",
                cb.nb_mwh_pci,
                cb.dju_ref,
                cb.q_ecs_mwh_per_m3,
            )
            for cb in contract_buildings(s, contract.id)
        ]
    return terms
