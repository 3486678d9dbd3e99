"""`carnet user add|list` (password from the environment or stdin, never echoed) and
`carnet serve` (waitress, prints its URL, signs in)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
import requests
from sqlalchemy import select
from werkzeug.security import check_password_hash

from carnet.db import get_engine, session_scope
from carnet.models import User
from carnet_cli.main import main
from carnet_cli.ports import free_port
from tests.helpers.browser import CONTRACT_CODE, seed_users
from tests.helpers.wait import until

SECRET = "un-secret-de-test-42"


def stored(db_url, login) -> User | None:
    with session_scope(get_engine(db_url)) as s:
        return s.scalar(select(User).where(User.login == login))


def test_user_add_reads_the_password_from_the_environment(db_url, monkeypatch, capsys):
    monkeypatch.setenv("CARNET_PASSWORD", SECRET)
    assert main(["user", "add", "claire", "--role", "finance", "--name", "Claire M."]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    user = stored(db_url, "claire")
    assert user.role == "finance" and user.name == "Claire M."
    assert user.password_hash != SECRET and check_password_hash(user.password_hash, SECRET)


def test_user_add_reads_one_line_of_stdin(db_url, monkeypatch, capsys):
    monkeypatch.delenv("CARNET_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\nnot-this-line\n"))
    seed_users(get_engine(db_url))  # creates the contract of the test contractor
    assert main(["user", "add", "thn", "--role", "contractor", "--contract", CONTRACT_CODE]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    user = stored(db_url, "thn")
    assert check_password_hash(user.password_hash, SECRET) and user.contract_id is not None
    assert main(["user", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(rf"^thn\s+Exploitant .*contrat {CONTRACT_CODE}$", listing, re.M)


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--role", "contractor"], SECRET, "contrat"),
        (["--role", "manager"], "abc123", "trop court"),
        (["--role", "manager"], "", "vide"),
    ],
)
def test_user_add_refusals_change_nothing(db_url, monkeypatch, capsys, args, password, message):
    monkeypatch.setenv("CARNET_PASSWORD", password)
    status = main(["user", "add", "refuse", *args])
    err = capsys.readouterr().err
    assert status != 0 and message in err
    assert password not in err or not password
    assert stored(db_url, "refuse") is None


def test_carnet_serve_runs_waitress_and_signs_in(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    port = free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "carnet_cli.main", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        base = f"http://127.0.0.1:{port}"

        def answer() -> requests.Response | None:
            try:
                return requests.get(base + "/", allow_redirects=False, timeout=5)
            except requests.ConnectionError:
                return None

        response = until(answer, 20, f"carnet serve answering on {base}/", interval_s=0.2)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
        assert "Werkzeug" not in response.headers.get("Server", "")
        assert response.headers.get("Server") == "carnet"  # waitress, with our ident
        from tests.helpers.browser import http_session, password_of

        http = http_session(base, "gestionnaire", password_of("gestionnaire"))
        assert http.get(base + "/portefeuille", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
