"""The contract terms page: manager and finance read every contract, the contractor only its
own (403 otherwise, on the server), the other roles not at all."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from carnet.db import get_engine, session_scope
from carnet.models import Contract
from dashboards.app import create_app
from tests.helpers.browser import seed_users
from tests.helpers.seed import seed_town
from tests.helpers.web_client import body, callback, sign_in


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    seed_town(engine)
    with session_scope(engine) as s:
        s.add(
            Contract(
                code="AUTRE-CONTRAT", contractor="Chauffe Artois", kind="CPE",
                starts_on=dt.date(2025, 9, 1), price_eur_per_mwh_pci=Decimal("88.40"),
                guaranteed_savings_pct=12.0,
            )
        )  # fmt: skip
    return create_app(db_url)


def terms(app, login, code):
    client = app.server.test_client()
    assert sign_in(client, login).status_code == 302
    return callback(client, "contract-terms-body", {"contract-terms-code.value": code})


def test_manager_and_finance_read_the_terms_of_any_contract(app):
    for login in ("gestionnaire", "finances"):
        response = terms(app, login, "AUTRE-CONTRAT")
        assert response.status_code == 200, login
        text = body(response)
        assert "Chauffe Artois" in text and "88,40\u00a0€ par MWh PCI" in text
        assert "contrat de performance énergétique (CPE)" in text and "12,0" in text
    text = body(terms(app, "gestionnaire", "TEST-CONTRAT"))
    assert "MAIRIE" in text and "du 01/10 au 20/05 (chaque année)" in text


def test_contractor_reads_its_own_contract_only(app):
    assert terms(app, "exploitant", "TEST-CONTRAT").status_code == 200
    assert terms(app, "exploitant", "AUTRE-CONTRAT").status_code == 403


@pytest.mark.parametrize("login", ["programmation", "agent"])
def test_other_roles_are_refused(app, login):
    assert terms(app, login, "TEST-CONTRAT").status_code == 403
