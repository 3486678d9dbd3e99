"""Browser-test infrastructure: the app served by waitress on a free loopback port, one user per
role, headless Chromium through Selenium, and plain-HTTP helpers for 401/403 checks.

Its fixtures (`live_app`, `browser`) are in `tests/conftest.py`; see `dashboards/README.md`
("Tests").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal

import requests
from sqlalchemy import Engine
from werkzeug.security import generate_password_hash

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CONTRACT_CODE = "TEST-CONTRAT"

# login -> (role, password, display name); the contractor is bound to CONTRACT_CODE
USERS: dict[str, tuple[str, str, str]] = {
    "gestionnaire": ("manager", "gestion-secret-1", "Gestionnaire bâtiments"),
    "exploitant": ("contractor", "exploit-secret-1", "Thermique du Nord"),
    "finances": ("finance", "finance-secret-1", "Service financier"),
    "programmation": ("programmer", "program-secret-1", "Programmation culturelle"),
    "agent": ("agent", "agent-secret-12", "Agent d'accueil"),
}
LOGIN_OF_ROLE = {role: login for login, (role, _pw, _n) in USERS.items()}

_HASHES: dict[str, str] = {}


def password_of(login: str) -> str:
    return USERS[login][1]


def _hash(password: str) -> str:
    # Test accounts only: a cheap PBKDF2 hash, so that the many sign-ins of the suite do not each
    # pay for scrypt (slow on purpose: the production default of `carnet.users.set_user`).
    # `check_password_hash` accepts either method.
    if password not in _HASHES:
        _HASHES[password] = generate_password_hash(password, method="pbkdf2:sha256:1000")
    return _HASHES[password]


def seed_users(engine: Engine) -> dict[str, int]:
    """One user per role (see USERS) and the contractor's contract; returns login -> user id."""
    from sqlalchemy import select

    from carnet.db import session_scope
    from carnet.models import Contract, User
    from carnet.users import set_user

    ids = {}
    with session_scope(engine) as s:
        if s.scalar(select(Contract).where(Contract.code == CONTRACT_CODE)) is None:
            s.add(
                Contract(
                    code=CONTRACT_CODE,
                    contractor="Thermique du Nord",
                    starts_on=dt.date(2024, 7, 1),
                    price_eur_per_mwh_pci=Decimal("92.5"),
                )
            )
            s.flush()
        for login, (role, password, name) in USERS.items():
            user = set_user(
                s,
                login,
                role,
                name=name,
                contract_code=CONTRACT_CODE if role == "contractor" else None,
                actor="test",
            )
            user.password_hash = _hash(password)
            s.flush()
            ids[login] = s.scalar(select(User.id).where(User.login == login))
    return ids


@dataclass
class LiveApp:
    url: str  # base URL, ending with "/"
    database_url: str
    engine: Engine
    dash: object
    user_ids: dict[str, int] = field(default_factory=dict)

    def page(self, path: str) -> str:
        return self.url.rstrip("/") + path


@contextlib.contextmanager
def browser_session(prefix: str = "carnet-chromium-"):
    """A headless Chromium on a fresh temporary profile, quit and its profile removed after."""
    profile = tempfile.mkdtemp(prefix=prefix)
    driver = make_browser(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def make_browser(profile_dir: str):
    """A headless Chromium driver (Debian's chromium + chromedriver) on a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--lang=fr-FR",
        f"--user-data-dir={profile_dir}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(1400, 1000)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(browser, css: str, timeout: float = 10, text: str | None = None):
    """The first element matching `css` once visible (and containing `text`, if given), within
    `timeout` seconds; else an AssertionError saying what did not appear, on which page."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, timeout)
    try:
        if text is not None:
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    except TimeoutException as exc:
        what = f"{css} visible" + ("" if text is None else f" with {text!r}")
        raise AssertionError(
            f"waited {timeout:g} s in vain for {what} on {browser.current_url}"
        ) from exc


def sign_in(browser, base_url: str, login: str, password: str, expect_shell: bool = True):
    """Sign in through the form (after dropping any previous session); waits for the app shell
    (the user's name in the top bar) unless `expect_shell` is False (e.g. a wrong password)."""
    from selenium.webdriver.common.by import By

    base = base_url.rstrip("/")
    browser.get(base + "/connexion")
    browser.delete_all_cookies()
    browser.get(base + "/connexion")
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in-submit").click()
    if expect_shell:
        wait_for(browser, "#user-name", timeout=15)


def sign_out(browser, base_url: str) -> None:
    """Sign out as a person does: the confirmation page's button (a POST with the session's
    token; a plain GET of /deconnexion only asks), then wait for the sign-in page."""
    from selenium.webdriver.common.by import By

    browser.get(base_url.rstrip("/") + "/deconnexion")
    for button in browser.find_elements(By.ID, "sign-out-submit"):  # none if signed out already
        button.click()
    wait_for(browser, "#sign-in-submit")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def http_session(base_url: str, login: str, password: str) -> requests.Session:
    """A `requests.Session` signed in by posting the sign-in form (raises if refused)."""
    base = base_url.rstrip("/")
    http = requests.Session()
    form = http.get(base + "/connexion", timeout=10)
    token = _CSRF.search(form.text).group(1)
    response = http.post(
        base + "/connexion",
        data={"login": login, "password": password, "csrf": token},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302:
        raise AssertionError(f"sign-in of {login!r} refused: HTTP {response.status_code}")
    return http


def _split_output(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outputs = []
    for part in parts:
        cid, prop = part.rsplit(".", 1)
        prop = prop.split("@", 1)[0]  # allow_duplicate outputs carry "@hash"
        outputs.append({"id": json.loads(cid) if cid.startswith("{") else cid, "property": prop})
    return outputs


def _dependency(dep: dict, values: dict) -> dict | list:
    """An input or state as the renderer sends it; wildcard (pattern-matching) ones as lists."""
    cid = dep["id"]
    if isinstance(cid, str) and cid.startswith("{"):
        return []
    return {**dep, "value": values.get(f"{cid}.{dep['property']}")}


def dash_callback_payload(dependencies: list[dict], output_id: str, values=None) -> dict:
    """The body of a `/_dash-update-component` request for the callback whose outputs include
    the component `output_id` (or whose full output key is `output_id`), as the Dash renderer
    would send it. `dependencies` is the JSON of `/_dash-dependencies`; `values` maps
    "id.property" of inputs and states to their values."""
    values = values or {}
    for dep in dependencies:
        outputs = _split_output(dep["output"])
        if dep["output"] == output_id or any(o["id"] == output_id for o in outputs):
            inputs = [_dependency(i, values) for i in dep["inputs"]]
            state = [_dependency(s, values) for s in dep["state"]]
            first = dep["inputs"][0] if dep["inputs"] else None
            return {
                "output": dep["output"],
                "outputs": outputs if dep["output"].startswith("..") else outputs[0],
                "inputs": inputs,
                "state": state,
                "changedPropIds": [f"{first['id']}.{first['property']}"] if first else [],
            }
    raise LookupError(f"no callback outputs to {output_id!r}")
