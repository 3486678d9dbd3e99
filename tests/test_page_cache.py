"""Figures computed once per change of the data: two requests settle the contract once; an
import through the real importer, its revert, and a CLI import in another process each change
the data version, and the next request shows the new figure. The building page writes nothing
when shown and computes each of its sections once per callback."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from carnet import versions
from carnet.batches import revert_batch
from carnet.db import get_engine, session_scope
from carnet.logbook import add_entry
from carnet.models import Building, Channel, Reading, User
from dashboards import cache
from dashboards import savings_data as data
from dashboards.app import create_app
from ingest.importer import import_file
from tests.helpers.browser import dash_callback_payload, password_of, seed_users
from tests.helpers.carnet_web_seed import seed_carnet
from tests.helpers.savings_town import TownBuilding, make_town

CONTRACT = "TEST-CONTRAT"  # the test contractor's contract (tests.browser)
SEASON = "2025-2026"
TOWN = [
    TownBuilding("ECOLE-A", "École Anatole-France", 2.0, CONTRACT, 80.0, reporting_factor=0.88),
    TownBuilding("SALLE-B", "Salle Louise-Michel", 1.5, CONTRACT, 88.5, night_heating=True),
]


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    make_town(
        engine, TOWN, dt.date(2024, 7, 1), dt.date(2026, 5, 20),
        starts_on=dt.date(2025, 7, 1), savings_from=dt.date(2025, 10, 1),
    )  # fmt: skip
    seed_users(engine)
    cache.figures.clear()
    return create_app(db_url)


@pytest.fixture
def settlements(monkeypatch):
    """How many times the contract was settled (the real engine, counted)."""
    calls = []
    real = data.settle_frames

    def counted(terms, season, *args, **kwargs):
        calls.append((terms.code, season))
        return real(terms, season, *args, **kwargs)

    monkeypatch.setattr(data, "settle_frames", counted)
    return calls


def client_for(app, login):
    """A Flask test client signed in through the login form."""
    client = app.server.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/connexion").text).group(1)
    form = {"login": login, "password": password_of(login), "csrf": token}
    assert client.post("/connexion", data=form).status_code == 302, login
    return client


def callback(client, output_id, values) -> tuple[int, str]:
    deps = client.get("/_dash-dependencies").get_json()
    r = client.post("/_dash-update-component", json=dash_callback_payload(deps, output_id, values))
    return r.status_code, json.dumps(r.get_json(silent=True), ensure_ascii=False)


TABLE = {"savings-contract.value": CONTRACT, "savings-season.value": SEASON,
         "savings-refresh.data": {"n": 0}}  # fmt: skip
DETAIL = TABLE | {"savings-building.data": "ECOLE-A"}


def actual_cell(body: str) -> str:
    """The table's « Réel » figure of ECOLE-A (MWh PCI, two decimals), as the browser gets it."""

    def rows(node):
        if isinstance(node, dict):
            if node.get("type") == "Tr" and node["props"].get("data-building") == "ECOLE-A":
                yield node
            for child in node.values():
                yield from rows(child)
        elif isinstance(node, list):
            for child in node:
                yield from rows(child)

    (row,) = list(rows(json.loads(body)["response"]["savings-portfolio"]))
    return row["props"]["children"][1]["props"]["children"]


STEP_AT = dt.datetime(2026, 5, 20, 12, tzinfo=dt.UTC)  # the season's last day (to 20/05)


def more_gas(tmp_path: Path, engine, name: str, extra_m3: float) -> Path:
    """A generic CSV raising ECOLE-A's gas index by `extra_m3` from the season's last noon on
    (that hour consumed more), from the readings stored now."""
    with session_scope(engine) as s:
        cid = s.scalar(select(Channel.id).where(Channel.code == "ECOLE-A-GAZ"))
        rows = s.execute(
            select(Reading.ts, Reading.value)
            .where(Reading.channel_id == cid, Reading.ts >= int(STEP_AT.timestamp()))
            .order_by(Reading.ts)
        ).all()
    lines = [
        f"ECOLE-A-GAZ,{dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()},{value + extra_m3:.3f}"
        for ts, value in rows
    ]
    path = tmp_path / name
    path.write_text("channel,timestamp,value\n" + "\n".join(lines) + "\n")
    return path


def test_two_requests_settle_once_and_every_write_shows(app, db_url, tmp_path, settlements):
    engine = get_engine(db_url)
    client = client_for(app, "gestionnaire")
    status, first = callback(client, "savings-portfolio", TABLE)
    assert status == 200 and "École Anatole-France" in first
    assert callback(client, "savings-portfolio", TABLE)[1] == first
    assert callback(client, "savings-detail", DETAIL)[0] == 200  # the row from the same settlement
    assert len(settlements) == 1
    before = actual_cell(first)

    # an import through the real importer changes the version and the figure
    version = versions.current(engine)
    report = import_file(engine, more_gas(tmp_path, engine, "plus.csv", 40.0), user="gestionnaire")
    assert report.status == "ok" and report.rows_updated > 1, report
    assert versions.current(engine)[1] > version[1]
    grown = actual_cell(callback(client, "savings-portfolio", TABLE)[1])
    assert float(grown.replace(",", ".")) > float(before.replace(",", "."))
    assert len(settlements) == 2

    # its revert too: back to the first figure
    revert_batch(engine, report.batch_id, actor="gestionnaire", why="relevé erroné")
    assert actual_cell(callback(client, "savings-portfolio", TABLE)[1]) == before

    # another process (the CLI, into the same database) imports: this process sees it
    path = more_gas(tmp_path, engine, "cli.csv", 40.0)
    env = os.environ | {"CARNET_DATABASE_URL": db_url}
    cli = [sys.executable, "-m", "carnet_cli.main", "import", str(path), "--user", "gestionnaire"]
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert actual_cell(callback(client, "savings-portfolio", TABLE)[1]) == grown
    assert len(settlements) == 4


def test_version_moves_with_commits_of_figure_data_only(app, db_url):
    engine = get_engine(db_url)
    start = versions.current(engine)
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        s.execute(text("UPDATE building SET name = 'X' WHERE code = 'ECOLE-A'"))
        raise RuntimeError  # rolled back: nothing changed, no bump
    assert versions.current(engine) == start
    with session_scope(engine) as s:  # the logbook is no figure's input
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        add_entry(s, manager, "ECOLE-A", "observation", "Radiateur froid")
    assert versions.current(engine) == start
    with session_scope(engine) as s:
        s.execute(text("UPDATE building SET name = 'École A' WHERE code = 'ECOLE-A'"))
    assert versions.current(engine) == (start[0], start[1] + 1)


def test_lru_is_bounded_and_computes_a_key_once():
    lru = cache.LRU(max_entries=3)
    calls = []
    for key in (1, 2, 1, 3, 4, 1):
        lru.get_or_compute(key, lambda key=key: calls.append(key) or key * 10)
    assert calls == [1, 2, 3, 4] and len(lru) == 3  # 2, least recently used, went first
    assert lru.get_or_compute(2, lambda: calls.append(2) or 20) == 20 and calls[-1] == 2


# --- the building page ------------------------------------------------------------------------


@pytest.fixture
def carnet_app(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    return create_app(db_url)


def test_building_page_shown_writes_nothing(carnet_app, db_url):
    engine = get_engine(db_url)
    with session_scope(engine) as s:
        token = s.scalar(select(Building.qr_token).where(Building.code == "MAIRIE"))
    assert token  # drawn when the building was created
    writes = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    for login in ("gestionnaire", "agent", "exploitant"):
        client = client_for(carnet_app, login)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            status, body = callback(
                client, "_pages_content", {"_pages_location.pathname": "/batiments/MAIRIE"}
            )
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert status == 200 and "bp-name" in body, login
        assert writes == [], (login, writes)
        if login == "agent":
            assert f"/signaler/{token}" in body
    assert client_for(carnet_app, "gestionnaire").get("/batiments/MAIRIE/qr").status_code == 200
    assert writes == []


def test_triage_then_refresh_compute_each_section_once(carnet_app, db_url, monkeypatch):
    from dashboards import building_data as data

    engine = get_engine(db_url)
    with session_scope(engine) as s:
        agent = s.scalar(select(User).where(User.login == "agent"))
        obs_id = add_entry(s, agent, "MAIRIE", "observation", "Porte qui claque").id
    counts = {"record": 0, "triage": 0}
    real_record, real_triage = data.building_record, data.open_observations

    def record(*args, **kwargs):
        counts["record"] += 1
        return real_record(*args, **kwargs)

    def triage(*args, **kwargs):
        counts["triage"] += 1
        return real_triage(*args, **kwargs)

    monkeypatch.setattr(data, "building_record", record)
    monkeypatch.setattr(data, "open_observations", triage)
    client = client_for(carnet_app, "gestionnaire")
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "bp-triage-msg", {"bp-code.data": "MAIRIE"})

    def one(kind: str, prop: str, value, **more) -> list[dict]:  # the card's pattern-matching id
        return [{"id": {"type": kind, "id": obs_id, **more}, "property": prop, "value": value}]

    payload["inputs"][0] = one("tri-btn", "n_clicks", 1, action="close")
    for i, (kind, value) in enumerate(
        [("tri-answer", "Réglée"), ("tri-kind", "corrective"), ("tri-target", None)]
    ):
        payload["state"][2 * i] = one(kind, "value", value)
        payload["state"][2 * i + 1] = one(kind, "id", {"type": kind, "id": obs_id})
    payload["changedPropIds"] = [
        json.dumps({"action": "close", "id": obs_id, "type": "tri-btn"}, separators=(",", ":"))
        + ".n_clicks"
    ]
    r = client.post("/_dash-update-component", json=payload)
    status, body = r.status_code, json.dumps(r.get_json(silent=True), ensure_ascii=False)
    assert status == 200 and "bp-triage-ok" in body and "bp-triage-none" in body, body
    assert counts == {"record": 0, "triage": 1}  # the cards only; the rest follows the revision
    status, body = callback(
        client, "bp-timeline", {"bp-code.data": "MAIRIE", "bp-rev-triage.data": 1}
    )
    assert status == 200 and "Porte qui claque" in body
    assert counts == {"record": 0, "triage": 1}  # one page of the logbook, no record, no cards
    status, body = callback(
        client, "bp-obligations-wrap", {"bp-code.data": "MAIRIE", "bp-rev-triage.data": 1}
    )
    assert status == 200 and "bp-obligations" in body
    assert counts == {"record": 1, "triage": 1}  # the rest of the record, not the cards again
