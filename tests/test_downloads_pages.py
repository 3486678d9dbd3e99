"""Downloads of representative pages per role (savings, finances, alarms, obligations), and
every registered page walked: each of its tables and charts is downloadable."""

from __future__ import annotations

import dash
import pytest
from sqlalchemy import select

from carnet.alarms import open_episode
from carnet.db import get_engine, session_scope
from carnet.models import Equipment
from carnet.roles import can
from dashboards.app import create_app
from dashboards.fmt import fr_date, fr_number
from dashboards.obligations_data import obligation_rows
from dashboards.savings_data import savings_portfolio
from tests.helpers import downloads as dl
from tests.helpers.browser import LOGIN_OF_ROLE, seed_users
from tests.helpers.carnet_web_seed import seed_carnet
from tests.helpers.contract_town import expected_building
from tests.helpers.savings_client import SEASON
from tests.helpers.savings_town import CONTRACT, OTHER, build_town
from tests.helpers.web_client import signed_in_client

T0 = 1_764_000_000


def _plain(text: str) -> str:
    """A page number as the CSV writes it: no thousands separator."""
    return text.replace("\u202f", "").replace("\u00a0", "")


def test_savings_table_and_figure_data_as_the_page_computes_them(engine, db_url):
    build_town(engine)
    seed_users(engine)
    app = create_app(db_url)
    client = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    params = {"contrat": CONTRACT, "saison": SEASON}
    _name, raw = dl.file_of(dl.request_download(client, "savings-table", "csv", params))
    rows = dl.csv_rows(raw)
    assert rows[0][:3] == ["Bâtiment", "Réel MWh PCI", "Objectif N'B MWh PCI"]
    frame = savings_portfolio(engine, CONTRACT, SEASON).buildings
    expected = {
        code: (_plain(fr_number(a, 2)), _plain(fr_number(t, 2)))
        for code, a, t in zip(
            frame["building_code"], frame["actual_mwh_pci"], frame["target_mwh_pci"], strict=True
        )
    }
    body = {r[0].split()[-1]: (r[1], r[2]) for r in rows[1:] if not r[0].startswith("Total")}
    assert body == expected
    assert all("," in a for a, _ in body.values())  # decimal comma
    _name, raw = dl.file_of(dl.request_download(client, "savings-table", "xlsx", params))
    sheet = dl.xlsx_rows(raw)
    actual = {r[0].split()[-1]: r[1] for r in sheet[1:] if not str(r[0]).startswith("Total")}
    assert actual == pytest.approx(
        {
            c: round(a, 2)
            for c, a in zip(frame["building_code"], frame["actual_mwh_pci"], strict=True)
        }
    )
    # a figure's data: the monthly bars of one building, one row per month and series
    code = frame["building_code"].iloc[0]
    fig_params = {**params, "batiment": code}
    _name, raw = dl.file_of(
        dl.request_download(client, "savings-fig-monthly", "csv", fig_params, formats=("csv",))
    )
    points = dl.csv_rows(raw)
    assert points[0][0] == "Série" and len(points) > 1
    # the contractor of CONTRACT may not ask for the other contract's table, even forged
    contractor = signed_in_client(app, LOGIN_OF_ROLE["contractor"])
    forged = dl.request_download(
        contractor, "savings-table", "csv", {"contrat": OTHER, "saison": SEASON}
    )
    assert forged.status_code == 403
    agent = signed_in_client(app, LOGIN_OF_ROLE["agent"])
    assert dl.request_download(agent, "savings-table", "csv", params).status_code == 403


def test_finance_table_for_finance_and_manager_only(contract_town, db_url):
    seed_users(get_engine(db_url))
    app = create_app(db_url)
    params = {"contrat": "C1", "mois": "2025-10"}
    for role in ("finance", "manager"):
        client = signed_in_client(app, LOGIN_OF_ROLE[role])
        _name, raw = dl.file_of(dl.request_download(client, "fin-table", "csv", params))
        rows = dl.csv_rows(raw)
        exp = expected_building("MAIRIE", contract_town)
        (mairie,) = [r for r in rows[1:] if r[0] == "Mairie"]
        assert "." not in mairie[1]  # decimal comma
        assert float(mairie[1].replace(",", ".")) == pytest.approx(round(exp["actual"], 2))
    for role in ("contractor", "programmer", "agent"):
        client = signed_in_client(app, LOGIN_OF_ROLE[role])
        assert dl.request_download(client, "fin-table", "csv", params).status_code == 403, role


@pytest.fixture
def carnet_site(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    with session_scope(engine) as s:
        for code, key, label in (
            ("MAIRIE-CHAUD-1", "GW/1/fault", "allumage"),
            ("ECOLE-CHAUD-1", "GW/2/fault", "surchauffe"),
        ):
            eq = s.scalar(select(Equipment).where(Equipment.code == code))
            open_episode(s, key, T0, 12, label, eq.building_id, eq.id)
    return create_app(db_url), engine


def test_alarms_and_obligations_follow_the_scope(carnet_site):
    app, engine = carnet_site
    seen = {}
    for role in ("manager", "contractor"):
        client = signed_in_client(app, LOGIN_OF_ROLE[role])
        params = dl.stores(dl.page_layout(client, "/alarmes"))["al-table"]
        _name, raw = dl.file_of(dl.request_download(client, "al-table", "xlsx", params))
        sheet = dl.xlsx_rows(raw)
        assert sheet[0][:3] == ["Bâtiment", "Équipement", "Alarme"]
        seen[role] = {r[1] for r in sheet[1:]}
        params = dl.stores(dl.page_layout(client, "/obligations"))["ob-table"]
        _name, raw = dl.file_of(
            dl.request_download(client, "ob-table", "csv", {**params, "tout": True})
        )
        rows = dl.csv_rows(raw)
        with session_scope(engine) as s:
            from carnet.models import User

            user = s.query(User).filter_by(login=LOGIN_OF_ROLE[role]).one()
            s.expunge(user)
        from dashboards.auth import signed_in_user

        expected = obligation_rows(engine, signed_in_user(user), True)
        assert len(rows) - 1 == len(expected) > 0
        assert rows[0][0] == "Bâtiment" and rows[0][5] == "Prochaine échéance"
        assert sorted((r[0], r[2], r[5]) for r in rows[1:]) == sorted(
            (
                o.get("building_name") or o["building_code"],
                o.get("equipment_code") or "—",
                fr_date(o.get("next_due_on")),
            )
            for o in expected
        )
    assert seen["manager"] == {"MAIRIE-CHAUD-1", "ECOLE-CHAUD-1"}
    assert seen["contractor"] == {"MAIRIE-CHAUD-1"}  # its contract's building only
    finance = signed_in_client(app, LOGIN_OF_ROLE["finance"])
    assert dl.request_download(finance, "al-table", "csv", {}).status_code == 403
    assert dl.request_download(finance, "ob-table", "csv", {}).status_code == 403


def _types(node, inside=False):
    """(type, inside a downloadable wrapper) of every table and graph of a layout JSON."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            props = node["props"]
            here = inside or "downloadable" in str(props.get("className") or "").split()
            if node["type"] in ("Table", "Graph"):
                yield node["type"], here, props.get("id"), props.get("className")
            yield from _types(props.get("children"), here)
        else:
            for value in node.values():
                yield from _types(value, inside)
    elif isinstance(node, list):
        for item in node:
            yield from _types(item, inside)


def _is_form(table) -> bool:
    """A table laid out as a form (a radio per row) holds no data to download."""
    return table[2] == "notif-choices"


def test_every_table_and_graph_of_every_page_is_downloadable(carnet_site):
    app, engine = carnet_site
    checked = 0
    for page in dash.page_registry.values():
        path = page.get("path_template") or page["path"]
        path = path.replace("<code>", "MAIRIE")
        capability = page.get("capability")
        roles = [r for r in LOGIN_OF_ROLE if capability is None or can(r, capability)]
        for role in roles:
            client = signed_in_client(app, LOGIN_OF_ROLE[role])
            layout = dl.page_layout(client, path)
            layout = [layout, *_first_renders(client, layout)]
            found = [t for t in _types(layout) if not _is_form(t)]
            left_out = [t for t in found if not t[1]]
            assert not left_out, (path, role, left_out)
            checked += len(found)
            for item_id, params in dl.stores(layout).items():
                table_id, _, key = item_id.partition(":")
                formats = ("csv",) if table_id in _graph_ids() else ("csv", "xlsx")
                response = dl.request_download(client, table_id, "csv", params, formats, key)
                name, raw = dl.file_of(response)
                assert name.endswith(".csv") and raw.startswith(b"\xef\xbb\xbf"), (path, item_id)
    assert checked > 10


def _first_renders(client, layout) -> list:
    """What the page's initial callbacks draw into it (a savings table, a finance month...):
    each callback fired on load whose inputs are all in the layout, run with their values."""
    from tests.helpers.browser import dash_callback_payload

    values = {}
    for c in dl.components(layout):
        cid = c["props"].get("id")
        if isinstance(cid, str):
            for prop, value in c["props"].items():
                values[f"{cid}.{prop}"] = value
    ids = {key.split(".")[0] for key in values}
    out = []
    for dep in client.get("/_dash-dependencies").get_json():
        if dep.get("prevent_initial_call") or dep.get("clientside_function"):
            continue
        inputs = dep["inputs"]
        if not inputs or any(not isinstance(i["id"], str) or i["id"] not in ids for i in inputs):
            continue
        if dep["output"].startswith("{") or "_pages" in dep["output"]:
            continue
        payload = dash_callback_payload([dep], dep["output"], values)
        response = client.post("/_dash-update-component", json=payload)
        if response.status_code == 200 and response.is_json:
            out.append(response.get_json().get("response"))
    return out


def _graph_ids() -> set[str]:
    from dashboards.downloads import REGISTRY

    return {k for k, v in REGISTRY.items() if v.kind == "graph"}
