"""Retours d'expérience: the incident's entries linked, each contributor's account, lessons and
decisions (one of which becomes an obligation, another a work order), with the logbook's
roles and scope, from the CLI and on the page."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest
from sqlalchemy import func, select

from carnet.db import get_engine, session_scope
from carnet.models import Obligation, RexAccount, WorkOrder
from carnet_cli.main import main as carnet_main
from dashboards.app import create_app
from tests.helpers.browser import dash_callback_payload
from tests.helpers.carnet_web_seed import client_for, seed_carnet
from tests.helpers.rex_town import incident
from tests.helpers.web_client import Reply, post_callback


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = carnet_main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_rex_from_the_cli_with_roles_and_scope(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    ids = incident(engine)
    # the contractor opens it on its building, with the incident's entries and the booking
    status, out, err = cli(
        "rex", "add", "--building", "MAIRIE", "--title", "Concert dans le froid",
        "--text", "La salle du conseil était à 14 °C au concert du 7/11", "--date", "07/11/2026",
        "--entry", str(ids["alarm"]), "--entry", str(ids["cold"]), "--entry", str(ids["repair"]),
        "--booking", str(ids["concert"]), "--author", "exploitant", "--json",
    )  # fmt: skip
    assert status == 0, err
    rex_id = json.loads(out)["id"]
    # an entry of another building cannot be linked
    status, _out, err = cli("rex", "link", str(rex_id), "--entry", str(ids["elsewhere"]))
    assert status == 2 and "autre bâtiment" in err
    # each side's account: the agent, the contractor; rewriting keeps one account each
    for login, text in (
        ("agent", "Le public gardait ses manteaux"),
        ("exploitant", "Alarme vue le 6 au soir, pièce livrée le 8"),
        ("agent", "Le public gardait ses manteaux ; 14 °C au thermomètre"),
    ):
        status, _out, err = cli("rex", "account", str(rex_id), "--text", text, "--author", login)
        assert status == 0, err  # fmt: skip
    # the agent may not decide; the manager does (lessons, a duty, a piece of work)
    status, _out, err = cli("rex", "decision", str(rex_id), "--text", "x", "--owner", "y",
                            "--author", "agent")  # fmt: skip
    assert status == 3 and "accès refusé" in err
    assert cli("rex", "lessons", str(rex_id), "--text", "Une alarme la veille d'un concert "
               "appelle le programmateur", "--author", "gestionnaire")[0] == 0  # fmt: skip
    status, out, err = cli(
        "rex", "decision", str(rex_id), "--text", "Vérifier la relance avant chaque concert",
        "--owner", "exploitant", "--due", "2026-12-15", "--obligation-months", "1",
        "--author", "gestionnaire", "--json",
    )  # fmt: skip
    assert status == 0, err
    duty = json.loads(out)
    status, out, err = cli("rex", "decision", str(rex_id), "--text", "Stock d'allumeurs",
                           "--owner", "gestionnaire", "--due", "20/12/2026", "--work",
                           "--json")  # fmt: skip
    assert status == 0, err
    work = json.loads(out)
    with session_scope(engine) as s:
        ob = s.get(Obligation, duty["obligation_id"])
        assert ob.next_due_on == dt.date(2026, 12, 15) and ob.periodicity_months == 1
        assert f"n° {rex_id}" in ob.notes
        order = s.get(WorkOrder, work["work_order_id"])
        assert (order.origin, order.status, order.title) == ("manual", "open", "Stock d'allumeurs")
        assert (order.building.code, order.assignee) == ("MAIRIE", "gestionnaire")
        assert order.due_on == dt.date(2026, 12, 20) and f"n° {rex_id}" in order.description
        assert s.scalar(select(func.count()).select_from(RexAccount)) == 2

    # what each one sees
    status, out, _err = cli("rex", "list", "--json", "--author", "agent")
    (row,) = json.loads(out)
    assert (row["id"], row["links"], row["accounts"], row["decisions_open"]) == (rex_id, 4, 2, 2)
    assert row["lessons"].startswith("Une alarme la veille")
    status, out, _err = cli("rex", "show", str(rex_id), "--json", "--author", "exploitant")
    detail = json.loads(out)
    assert {a["author_login"]: a["text"] for a in detail["accounts"]}["agent"].endswith(
        "thermomètre"
    )
    assert {x["kind"] for x in detail["links"]} == {"entry", "booking"}
    # another contract's contractor sees none of it, and may not add to it
    assert json.loads(cli("rex", "list", "--json", "--author", "exploitant2")[1]) == []
    assert cli("rex", "show", str(rex_id), "--author", "exploitant2")[0] == 3
    assert cli("rex", "account", str(rex_id), "--text", "x", "--author", "exploitant2")[0] == 3
    assert cli("rex", "add", "--building", "MAIRIE", "--title", "t", "--text", "x",
               "--author", "exploitant2")[0] == 3  # fmt: skip
    # no retours d'expérience for the programmer nor finance
    assert cli("rex", "list", "--author", "programmation")[0] == 3
    assert cli("rex", "list", "--author", "finances")[0] == 3

    # open until every decision is done
    status, _out, err = cli("rex", "close", str(rex_id))
    assert status == 2 and "2 décision(s) encore à faire" in err
    assert cli("rex", "done", str(duty["id"]), "--date", "2026-12-10")[0] == 0
    assert json.loads(cli("rex", "list", "--open", "--json")[1])[0]["decisions_open"] == 1
    assert cli("rex", "done", str(work["id"]))[0] == 0
    assert cli("rex", "close", str(rex_id))[0] == 0
    assert json.loads(cli("rex", "list", "--open", "--json")[1]) == []
    status, out, _err = cli("rex", "list")
    assert "Concert dans le froid" in out and "Clos" in out


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    ids = incident(engine)
    status, out, err = cli("rex", "add", "--building", "MAIRIE", "--title",
                           "Concert dans le froid", "--text", "14 °C au concert",
                           "--entry", str(ids["cold"]), "--json")  # fmt: skip
    assert status == 0, err
    application = create_app(db_url)
    application.rex_id = json.loads(out)["id"]
    return application


def page(client) -> object:
    return post_callback(client, "_pages_content", {
        "_pages_location.pathname": "/retours-experience", "_pages_location.search": ""})  # fmt: skip


def act(client, button: str, **values) -> Reply:
    """Click `button` of the page's forms with these field values, as the renderer would."""
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "rex-msg", action(button, **values))
    payload["changedPropIds"] = [f"{button}.n_clicks"]
    return Reply(client.post("/_dash-update-component", json=payload))


def action(button: str, **values) -> dict:
    fields = {
        "rex-building": None, "rex-title": None, "rex-summary": None, "rex-date": None,
        "rex-entries": None, "rex-bookings": None, "rex-account-rex": None,
        "rex-account-text": None, "rex-decide-rex": None, "rex-lessons": None,
        "rex-decision-text": None, "rex-decision-owner": None, "rex-decision-due": None,
        "rex-done-decision": None,
    } | values  # fmt: skip
    buttons = ("rex-open", "rex-account-save", "rex-lessons-save", "rex-decision-save",
               "rex-done-save")  # fmt: skip
    clicks = {f"{b}.n_clicks": (1 if b == button else None) for b in buttons}
    dates = ("rex-date", "rex-decision-due")  # date pickers: their value is `date`
    return clicks | {f"{k}.{'date' if k in dates else 'value'}": v for k, v in fields.items()}


def test_rex_page_roles_and_scope(app):
    rex_id = app.rex_id
    agent = client_for(app, "agent")
    shown = page(agent)
    assert shown.status_code == 200 and "Concert dans le froid" in shown.text
    # the agent contributes its account from the page
    done = act(
        agent,
        "rex-account-save",
        **{"rex-account-rex": rex_id, "rex-account-text": "Le public gardait ses manteaux"},
    )
    assert done.status_code == 200 and "Votre récit est enregistré" in done.text
    assert "Le public gardait ses manteaux" in done.text
    # but may not decide: the service refuses what the hidden form would send
    refused = act(
        agent,
        "rex-decision-save",
        **{"rex-decide-rex": rex_id, "rex-decision-text": "x", "rex-decision-owner": "y"},
    )
    assert refused.status_code == 200 and "accès refusé" in refused.text
    # the manager records a decision
    manager = client_for(app, "gestionnaire")
    decided = act(
        manager,
        "rex-decision-save",
        **{
            "rex-decide-rex": rex_id,
            "rex-decision-owner": "exploitant",
            "rex-decision-text": "Relance vérifiée la veille",
            "rex-decision-due": "2026-12-15",
        },
    )
    assert decided.status_code == 200 and "Relance vérifiée la veille" in decided.text
    assert "15/12/2026" in decided.text
    # the contractor of the building's contract sees it all
    mine = page(client_for(app, "exploitant"))
    assert "Concert dans le froid" in mine.text and "Le public gardait ses manteaux" in mine.text
    # another contract's contractor: none of it, and cannot write into it
    other = client_for(app, "exploitant2")
    theirs = page(other)
    assert theirs.status_code == 200 and "Concert dans le froid" not in theirs.text
    assert "Aucun retour d'expérience" in theirs.text
    sneaky = act(
        other, "rex-account-save", **{"rex-account-rex": rex_id, "rex-account-text": "moi"}
    )
    assert "accès refusé" in sneaky.text and "Concert dans le froid" not in sneaky.text
    # the programmer and finance have no such page
    for login in ("programmation", "finances"):
        assert client_for(app, login).get("/retours-experience").status_code == 403, login
