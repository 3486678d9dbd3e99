"""Real browser, as the manager: create a user (a wrong e-mail refused next to its field),
give a one-time link to set the password (shown once, stored hashed, single use), the new user
signs in with it, then is deactivated; every write in the audit trail with before/after. The
other roles get « Accès refusé », and the administration's callbacks answer them 403."""

from __future__ import annotations

import hashlib
import json

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import PasswordReset, User
from tests.helpers import admin_forms as adm
from tests.helpers.browser import (
    LOGIN_OF_ROLE,
    dash_callback_payload,
    http_session,
    password_of,
    sign_in,
    sign_out,
    wait_for,
)
from tests.helpers.seed import seed_town

pytestmark = pytest.mark.browser
NEW_PASSWORD = "un-mot-de-passe-sur"


def _user(engine, login):
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.login == login))
        if user is not None:
            s.expunge(user)
        return user


def test_manager_creates_a_user_who_sets_a_password_through_a_one_time_link(live_app, browser):
    seed_town(live_app.engine)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    assert browser.find_elements(By.XPATH, "//a[normalize-space()='Administration']")
    adm.open_tab(browser, live_app.url, "Utilisateurs")
    adm.add(browser)
    adm.fill(browser, "login", "comptable")
    adm.fill(browser, "name", "Claire Comptable")
    adm.choose(browser, "role", "Exploitant")
    adm.fill(browser, "email", "pas-une-adresse")
    adm.save(browser, expect_ok=False)
    assert "adresse e-mail invalide" in adm.error_of(browser, "email")
    assert "exploitant est rattaché à un contrat" in adm.error_of(browser, "contract")
    assert _user(live_app.engine, "comptable") is None  # nothing written

    adm.choose(browser, "role", "Service financier")
    adm.fill(browser, "email", "claire@ville.example")
    adm.save(browser)
    assert adm.error_of(browser, "email") == ""
    user = _user(live_app.engine, "comptable")
    assert (user.role, user.name, user.email, user.password_hash) == (
        "finance", "Claire Comptable", "claire@ville.example", None)  # fmt: skip
    (created,) = [e for e in adm.audits(live_app.engine, "user", "comptable")]
    assert (created.action, created.actor, created.before) == ("create", "gestionnaire", None)
    assert created.after["role"] == "finance" and created.after["email"] == "claire@ville.example"

    # the one-time link: shown once, only its hash stored
    wait_for(browser, "#adm-row-comptable")
    adm.row_button(browser, "comptable", "Lien de mot de passe")
    url = wait_for(browser, "#adm-reset-link", timeout=15).text
    token = url.rsplit("/", 1)[1]
    assert url.startswith(live_app.url.rstrip("/") + "/mot-de-passe/") and len(token) >= 40
    with session_scope(live_app.engine) as s:
        (link,) = s.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)).all()
        assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in json.dumps([str(v) for v in vars(link).values()])
        assert link.used_at is None and link.expires_at > link.created_at
    browser.get(live_app.page("/administration"))
    wait_for(browser, "#adm-table", timeout=15)
    assert token not in browser.page_source  # shown once: not on the page any more

    sign_out(browser, live_app.url)
    browser.get(url)
    assert "comptable" in wait_for(browser, "#password-page").text
    browser.find_element(By.ID, "password").send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "confirmation").send_keys(NEW_PASSWORD + "x")
    browser.find_element(By.ID, "password-submit").click()
    assert "diffèrent" in wait_for(browser, "#password-error").text
    browser.find_element(By.ID, "password").send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "confirmation").send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "password-submit").click()
    wait_for(browser, "#password-done", text="Mot de passe enregistré")
    browser.get(url)  # single use
    assert "déjà utilisé" in wait_for(browser, "#password-dead").text
    sign_in(browser, live_app.url, "comptable", NEW_PASSWORD)
    assert "Claire Comptable" in wait_for(browser, "#user-name").text
    assert [e.action for e in adm.audits(live_app.engine, "user", "comptable")] == [
        "create", "reset_link", "set_password"]  # fmt: skip

    # deactivated by the manager: audited, and the account can no longer sign in
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    adm.open_tab(browser, live_app.url, "Utilisateurs")
    adm.row_button(browser, "comptable", "Désactiver")
    wait_for(browser, "#adm-user-done", timeout=15, text="désactivé")
    assert _user(live_app.engine, "comptable").active is False
    last = adm.audits(live_app.engine, "user", "comptable")[-1]
    assert (last.action, last.before, last.after) == ("update", {"active": True}, {"active": False})
    sign_in(browser, live_app.url, "comptable", NEW_PASSWORD, expect_shell=False)
    wait_for(browser, "#sign-in-error")


@pytest.mark.parametrize("role", ["contractor", "finance", "programmer", "agent"])
def test_the_other_roles_are_refused(live_app, browser, role):
    seed_town(live_app.engine)
    login = LOGIN_OF_ROLE[role]
    sign_in(browser, live_app.url, login, password_of(login))
    assert not browser.find_elements(By.XPATH, "//a[normalize-space()='Administration']")
    browser.get(live_app.page("/administration"))
    assert "Accès refusé" in wait_for(browser, "#acces-refuse").text

    http = http_session(live_app.url, login, password_of(login))
    deps = http.get(live_app.page("/_dash-dependencies"), timeout=10).json()
    for output, values in (
        ("adm-list", {"adm-kind.value": "user"}),
        (
            "adm-form-message",
            {"adm-save.n_clicks": 1, "adm-target.data": {"kind": "user", "new": True}},
        ),  # fmt: skip
        ("adm-user-message", {}),
    ):
        payload = dash_callback_payload(deps, output, values)
        response = http.post(live_app.page("/_dash-update-component"), json=payload, timeout=10)
        assert response.status_code == 403, (output, response.text[:200])


def test_the_manager_cannot_take_the_administration_from_themself(live_app, browser):
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    adm.open_tab(browser, live_app.url, "Utilisateurs")
    adm.edit(browser, "gestionnaire")
    adm.choose(browser, "role", "Agent")
    adm.save(browser, expect_ok=False)
    assert "propre rôle de gestionnaire" in adm.error_of(browser, "role")
    assert _user(live_app.engine, "gestionnaire").role == "manager"
    adm.open_tab(browser, live_app.url, "Utilisateurs")
    adm.row_button(browser, "gestionnaire", "Désactiver")
    assert "propre compte" in wait_for(browser, "#adm-user-problem", timeout=15).text
    assert _user(live_app.engine, "gestionnaire").active is True
