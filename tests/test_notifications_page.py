"""The "Mes notifications" page in the Flask test client: each role sees its own kinds of
notice and its address, says when nothing can be sent (no `CARNET_SMTP_URL`), stores the
choices on the server (only the kinds of the user's own role), and is in everyone's navigation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from carnet.db import get_engine, session_scope
from carnet.models import NotificationPref, User
from carnet.notifications import KINDS
from carnet.users import set_user
from dashboards.app import create_app
from tests.helpers.browser import dash_callback_payload, seed_users
from tests.helpers.seed import seed_town
from tests.helpers.web_client import body, page_content, sign_in

PATH = "/mes-notifications"


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    seed_town(engine)
    with session_scope(engine) as s:
        set_user(s, "exploitant", "contractor", contract_code="TEST-CONTRAT",
                 email="exploitant@thermique.test", actor="test")  # fmt: skip
    return create_app(db_url)


def client_for(app, login):
    client = app.server.test_client()
    assert sign_in(client, login).status_code == 302
    return client


def save(client, modes: dict[str, str], hour: int):
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "notif-msg", {"notif-save.n_clicks": 1})
    ids = [{"type": "notif-mode", "kind": k} for k in modes]
    payload["state"] = [
        [
            {"id": i, "property": "value", "value": m}
            for i, m in zip(ids, modes.values(), strict=True)
        ],
        [{"id": i, "property": "id", "value": i} for i in ids],
        {"id": "notif-hour", "property": "value", "value": hour},
    ]
    return client.post("/_dash-update-component", json=payload)


def test_the_page_lists_the_roles_kinds_and_says_mail_waits_without_a_server(app, monkeypatch):
    monkeypatch.delenv("CARNET_SMTP_URL", raising=False)
    text = body(page_content(client_for(app, "exploitant"), PATH))
    assert "Mes notifications" in text and "exploitant@thermique.test" in text
    assert KINDS["booking_heating"].label in text and KINDS["obligation_due"].label in text
    assert KINDS["month_closed"].label not in text  # the finance service's
    assert "notif-no-smtp" in text and "restent dans la file d'envoi" in text
    agent = body(page_content(client_for(app, "agent"), PATH))
    assert KINDS["signalement_answer"].label in agent and "Aucune adresse e-mail" in agent
    monkeypatch.setenv("CARNET_SMTP_URL", "smtp://127.0.0.1:2525")
    assert "notif-no-smtp" not in body(page_content(client_for(app, "exploitant"), PATH))


def test_choices_are_stored_for_the_signed_in_user(app):
    client = client_for(app, "exploitant")
    response = save(client, {"booking_heating": "digest", "alarm_new": "off"}, 6)
    assert response.status_code == 200 and "Vos choix sont enregistrés" in body(response)
    engine = get_engine()
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.login == "exploitant"))
        prefs = dict(
            s.execute(
                select(NotificationPref.kind, NotificationPref.mode).where(
                    NotificationPref.user_id == user.id
                )
            ).all()
        )
        assert prefs == {"booking_heating": "digest", "alarm_new": "off"} and user.digest_hour == 6
    text = body(page_content(client, PATH))
    assert '"value": "digest"' in text and '"value": 6' in text
    # a kind of another role is refused, nothing stored
    refused = save(client, {"month_closed": "off"}, 6)
    assert refused.status_code == 200 and "type d'avis inconnu" in body(refused)
    with session_scope(engine) as s:
        assert (
            s.scalar(select(NotificationPref).where(NotificationPref.kind == "month_closed"))
            is None
        )


def test_anonymous_cannot_save(app):
    anonymous = app.server.test_client()
    deps = app.server.test_client()
    assert sign_in(deps, "agent").status_code == 302
    payload = dash_callback_payload(
        deps.get("/_dash-dependencies").get_json(), "notif-msg", {"notif-save.n_clicks": 1}
    )
    assert anonymous.post("/_dash-update-component", json=payload).status_code == 401


@pytest.mark.parametrize(
    "login", ["gestionnaire", "exploitant", "finances", "programmation", "agent"]
)
def test_every_role_has_it_in_its_navigation(app, login):
    client = client_for(app, login)
    assert client.get(PATH).status_code == 200
    assert f'"href": "{PATH}"' in body(client.get("/_dash-layout"))
