"""Who may do what (DESIGN.md, Roles). Enforced on the server by every page, callback and
download, through `can(user, capability)`; the layout only hides what `can` already refuses.

The role names are written here once: everything else compares through these constants and
predicates (the migrations keep their literals, they are history)."""

from __future__ import annotations

MANAGER = "manager"
CONTRACTOR = "contractor"
FINANCE = "finance"
PROGRAMMER = "programmer"
AGENT = "agent"

ROLES = (MANAGER, CONTRACTOR, FINANCE, PROGRAMMER, AGENT)

ROLE_LABELS_FR = {
    MANAGER: "Gestionnaire des bâtiments",
    CONTRACTOR: "Exploitant",
    FINANCE: "Service financier",
    PROGRAMMER: "Programmation culturelle",
    AGENT: "Agent",
}

# capability -> roles that have it (scoping, e.g. a contractor's own contract, is done by the
# caller with `carnet.access.scope_of`)
CAPABILITIES: dict[str, frozenset[str]] = {
    "portfolio.view": frozenset({MANAGER, CONTRACTOR, FINANCE}),
    "savings.view": frozenset({MANAGER, CONTRACTOR, FINANCE}),
    "contract.view": frozenset({MANAGER, CONTRACTOR, FINANCE}),
    "contract.edit": frozenset({MANAGER}),
    "adjustment.edit": frozenset({MANAGER}),
    "carnet.view": frozenset({MANAGER, CONTRACTOR, PROGRAMMER, AGENT}),
    "carnet.edit": frozenset({MANAGER}),
    "carnet.intervention": frozenset({MANAGER, CONTRACTOR}),
    "carnet.observation": frozenset({MANAGER, CONTRACTOR, AGENT}),
    "carnet.triage": frozenset({MANAGER}),
    # the obligations and their due dates (the carnet minus the programmer's rooms-only view)
    "obligations.view": frozenset({MANAGER, CONTRACTOR, AGENT}),
    # retours d'expérience: read and write one's account as the logbook (no programmer);
    # open one and link the incident's entries as an intervention; decide as the manager
    "rex.view": frozenset({MANAGER, CONTRACTOR, AGENT}),
    "rex.account": frozenset({MANAGER, CONTRACTOR, AGENT}),
    "rex.open": frozenset({MANAGER, CONTRACTOR}),
    "rex.decide": frozenset({MANAGER}),
    # the working group's monthly PDF holds the carnet's incidents: not for finance
    "report.monthly": frozenset({MANAGER, CONTRACTOR}),
    "bookings.view": frozenset({MANAGER, CONTRACTOR, PROGRAMMER}),
    "bookings.edit": frozenset({MANAGER, PROGRAMMER}),
    "heating_schedule.view": frozenset({MANAGER, CONTRACTOR}),
    "comfort.view": frozenset({MANAGER, CONTRACTOR}),
    "finance.export": frozenset({MANAGER, FINANCE}),
    "operat.export": frozenset({MANAGER}),  # the Décret tertiaire declaration file
    "period.close": frozenset({MANAGER}),  # close/reopen a month or season, book
    "import.csv": frozenset({MANAGER, CONTRACTOR}),
    "quarantine.review": frozenset({MANAGER}),
    "batch.revert": frozenset({MANAGER}),
    "devices.view": frozenset({MANAGER, CONTRACTOR}),
    # alarms: seen by whoever sees the carnet buildings; acknowledged and closed by the
    # manager and the contractor (on its contract buildings, checked by `carnet.alarms`)
    "alarms.view": frozenset({MANAGER, CONTRACTOR, AGENT}),
    "alarms.handle": frozenset({MANAGER, CONTRACTOR}),
    "work_orders.view": frozenset({MANAGER, CONTRACTOR}),
    "work_orders.edit": frozenset({MANAGER, CONTRACTOR}),
    "works.view": frozenset({MANAGER, FINANCE}),  # the works programme: costs, subsidies
    "works.edit": frozenset({MANAGER}),
    "display.manage": frozenset({MANAGER}),  # the users' screens: tokens, "what you can do"
    "users.admin": frozenset({MANAGER}),
    # one's own e-mail notices: what and how (every role has some)
    "notifications.own": frozenset(ROLES),
    # download a table or chart one's page shows (the page's own capability is checked too)
    "downloads.own": frozenset(ROLES),
}


def can(role: str | None, capability: str) -> bool:
    if role is None:
        return False
    try:
        return role in CAPABILITIES[capability]
    except KeyError as exc:
        raise KeyError(f"unknown capability {capability!r}") from exc


def is_manager(role: str | None) -> bool:
    return role == MANAGER


def is_contractor(role: str | None) -> bool:
    """A contractor is bound to one contract and sees only its buildings and channels."""
    return role == CONTRACTOR


def is_programmer(role: str | None) -> bool:
    """The cultural programmer sees rooms only: no logbook, no obligations."""
    return role == PROGRAMMER
