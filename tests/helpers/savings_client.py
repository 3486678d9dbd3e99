"""The savings page's forms as its callbacks receive them, for the tests that drive the page
over HTTP (the season of `tests.helpers.savings_town`'s contracts)."""

from __future__ import annotations

SEASON = "2025-2026"


def detail_values(contract, building):
    """The contract, season and selected building (None: the contract's table)."""
    return {
        "savings-building.data": building,
        "savings-contract.value": contract,
        "savings-season.value": SEASON,
        "savings-refresh.data": {"n": 0},
    }


def adjustment_values(contract, building):
    """The adjustment form submitted: the building closed from 01/03/2026 (factor 0)."""
    return {
        "savings-adj-submit.n_clicks": 1,
        "savings-building.data": building,
        "savings-contract.value": contract,
        "savings-adj-from.value": "01/03/2026",
        "savings-adj-kind.value": "closed",
        "savings-adj-mode.value": "factor",
        "savings-adj-value.value": "0",
        "savings-adj-why.value": "Fermeture pour désamiantage",
        "savings-refresh.data": {"n": 0},
    }
