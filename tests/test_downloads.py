"""Every table and chart downloadable (issue 15): the file is rebuilt on the server from the
page's own data with the user's scope, in CSV for humans (`;`, decimal comma, BOM) or XLSX."""

from __future__ import annotations

import pytest

from carnet.access import scope_of
from carnet.db import get_engine, session_scope
from carnet.models import User
from carnet.roles import CONTRACTOR, MANAGER
from dashboards.fmt import fr_number
from dashboards.portfolio_data import portfolio_frame
from tests.helpers import downloads as dl
from tests.helpers.browser import LOGIN_OF_ROLE
from tests.helpers.web_client import signed_in_client


def _scope(engine, role):
    with session_scope(engine) as s:
        user = s.query(User).filter_by(login=LOGIN_OF_ROLE[role]).one()
        s.expunge(user)
    return scope_of(engine, user)


def test_portfolio_table_downloads_the_rows_of_the_users_scope(app, db_url):
    engine = get_engine(db_url)
    for role in (MANAGER, CONTRACTOR):
        client = signed_in_client(app, LOGIN_OF_ROLE[role])
        params = dl.stores(dl.page_layout(client, "/portefeuille"))["portfolio-table"]
        name, raw = dl.file_of(dl.request_download(client, "portfolio-table", "csv", params))
        assert name.startswith("portefeuille") and name.endswith(".csv")
        rows = dl.csv_rows(raw)
        header, body = rows[0], rows[1:]
        assert header[:4] == ["Code", "Bâtiment", "Usage", "Surface chauffée (m²)"]
        frame = portfolio_frame(engine, _scope(engine, role))
        channel = frame["channel_code"].where(frame["channel_id"].notna(), "Aucun point de mesure")
        expected = set(zip(frame["building_code"], channel, strict=True))
        point = header.index("Point de mesure")
        assert {(r[0], r[point]) for r in body} == expected
        # the heated area: one value per row (row span repeated), decimal comma, no thousands
        areas = dict(zip(frame["building_code"], frame["heated_area_m2"], strict=True))
        for r in body:
            assert r[3] == fr_number(areas[r[0]], 0).replace("\u202f", ""), r
        if role == CONTRACTOR:  # MAIRIE only (TEST-CONTRAT)
            assert {r[0] for r in body} == {"MAIRIE"}


def test_portfolio_download_follows_the_filters_and_not_a_forged_scope(app, db_url):
    client = signed_in_client(app, LOGIN_OF_ROLE[CONTRACTOR])
    # a forged store asking for another building's code: the contractor's scope still rules
    response = dl.request_download(
        client, "portfolio-table", "xlsx", {"recherche": "GYMNASE", "usage": ""}
    )
    _name, raw = dl.file_of(response)
    rows = dl.xlsx_rows(raw)
    # what the page would show: no building matches in the contractor's own scope
    assert rows == [["Aucun bâtiment ne correspond."]]
    manager = signed_in_client(app, LOGIN_OF_ROLE[MANAGER])
    _name, raw = dl.file_of(
        dl.request_download(manager, "portfolio-table", "xlsx", {"recherche": "MAIRIE"})
    )
    rows = dl.xlsx_rows(raw)
    assert {r[0] for r in rows[1:]} == {"MAIRIE"}
    assert rows[1][3] == 1234 or rows[1][3] == pytest.approx(1234.5, abs=0.5)
    assert isinstance(rows[1][3], int | float)  # a number in the workbook, not text


def test_a_role_without_the_page_gets_403(app):
    for role in ("finance", "programmer", "agent"):
        client = signed_in_client(app, LOGIN_OF_ROLE[role])
        ob = dl.request_download(client, "ob-table", "csv", {"tout": True})
        if role == "finance":  # no obligations page for the finance department
            assert ob.status_code == 403
        if role in ("programmer", "agent"):
            pf = dl.request_download(client, "portfolio-table", "csv", {})
            assert pf.status_code == 403, role
    anonymous = app.server.test_client()
    assert dl.request_download(anonymous, "portfolio-table", "csv", {}).status_code == 401


def test_a_forged_store_is_refused_not_a_crash(app):
    client = signed_in_client(app, LOGIN_OF_ROLE[MANAGER])
    assert (
        dl.request_download(client, "comfort-rooms", "csv", {"mois": ["2025-01"]}).status_code
        == 400
    )
    assert (
        dl.request_download(client, "comfort-rooms", "csv", {"mois": "1999-01"}).status_code == 400
    )
    assert dl.request_download(client, "savings-table", "csv", {"contrat": 3}).status_code == 400
    assert dl.request_download(client, "portfolio-table", "pdf", {}, ("pdf",)).status_code == 400
    assert dl.request_download(client, "nothing-such", "csv", {}).status_code == 404
