"""Who may do what (DESIGN.md, Roles). Enforced on the server by every page, callback and
download, through `can(user, capability)`; the layout only hides what `can` already refuses."""

from __future__ import annotations

ROLES = ("manager", "contractor", "finance", "programmer", "agent")

ROLE_LABELS_FR = {
    "manager": "Gestionnaire des bâtiments",
    "contractor": "Exploitant",
    "finance": "Service financier",
    "programmer": "Programmation culturelle",
    "agent": "Agent",
}

# capability -> roles that have it (scoping, e.g. a contractor's own contract, is done by the
# caller with `contract_scope`)
CAPABILITIES: dict[str, frozenset[str]] = {
    "portfolio.view": frozenset({"manager", "contractor", "finance"}),
    "savings.view": frozenset({"manager", "contractor", "finance"}),
    "contract.view": frozenset({"manager", "contractor", "finance"}),
    "contract.edit": frozenset({"manager"}),
    "adjustment.edit": frozenset({"manager"}),
    "carnet.view": frozenset({"manager", "contractor", "programmer", "agent"}),
    "carnet.edit": frozenset({"manager"}),
    "carnet.intervention": frozenset({"manager", "contractor"}),
    "carnet.observation": frozenset({"manager", "contractor", "agent"}),
    "carnet.triage": frozenset({"manager"}),
    # the obligations and their due dates (the carnet minus the programmer's rooms-only view)
    "obligations.view": frozenset({"manager", "contractor", "agent"}),
    "bookings.view": frozenset({"manager", "contractor", "programmer"}),
    "bookings.edit": frozenset({"manager", "programmer"}),
    "heating_schedule.view": frozenset({"manager", "contractor"}),
    "comfort.view": frozenset({"manager", "contractor"}),
    "finance.export": frozenset({"manager", "finance"}),
    "period.close": frozenset({"manager"}),  # close/reopen a month or season, book
    "import.csv": frozenset({"manager", "contractor"}),
    "quarantine.review": frozenset({"manager"}),
    "batch.revert": frozenset({"manager"}),
    "devices.view": frozenset({"manager", "contractor"}),
    "users.admin": frozenset({"manager"}),
    # one's own e-mail notices: what and how (every role has some)
    "notifications.own": frozenset(ROLES),
}


def can(role: str | None, capability: str) -> bool:
    if role is None:
        return False
    try:
        return role in CAPABILITIES[capability]
    except KeyError as exc:
        raise KeyError(f"unknown capability {capability!r}") from exc


def is_scoped_to_contract(role: str | None) -> bool:
    """A contractor sees only its own contract's buildings and channels."""
    return role == "contractor"
