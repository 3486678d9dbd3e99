"""Users' e-mail addresses, where the notices go: from the portfolio file's `users:` section
and from `carnet user add --email`, checked, audited, listed; "" removes one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from carnet.db import get_engine, session_scope
from carnet.models import AuditEvent, User
from carnet.portfolio import PortfolioError, load_portfolio
from carnet_cli.main import main


def email_of(db_url, login) -> str | None:
    with session_scope(get_engine(db_url)) as s:
        return s.scalar(select(User.email).where(User.login == login))


def test_portfolio_users_carry_their_email(db_url):
    engine = get_engine(db_url)
    users = {"users": [{"login": "claire", "role": "finance", "email": " claire@ville.test "}]}
    with session_scope(engine) as s:
        load_portfolio(s, users, actor="test")
    assert email_of(db_url, "claire") == "claire@ville.test"
    with session_scope(engine) as s:  # a file without `email` keeps it
        load_portfolio(s, {"users": [{"login": "claire", "role": "finance"}]}, actor="test")
    assert email_of(db_url, "claire") == "claire@ville.test"
    with session_scope(engine) as s, pytest.raises(PortfolioError, match="users\\[0\\].email"):
        load_portfolio(
            s, {"users": [{"login": "claire", "role": "finance", "email": "pas-une-adresse"}]},
            actor="test",
        )  # fmt: skip
    assert email_of(db_url, "claire") == "claire@ville.test"


def test_user_add_sets_lists_and_removes_the_email(db_url, monkeypatch, capsys):
    monkeypatch.setenv("CARNET_PASSWORD", "un-secret-de-test-42")
    assert main(["user", "add", "paul", "--role", "agent", "--email", "paul@ville.test"]) == 0
    assert email_of(db_url, "paul") == "paul@ville.test"
    capsys.readouterr()
    assert main(["user", "list"]) == 0
    assert "<paul@ville.test>" in capsys.readouterr().out
    assert main(["user", "add", "paul", "--role", "agent", "--email", "paul@@x"]) == 2
    assert "adresse e-mail invalide" in capsys.readouterr().err
    assert main(["user", "add", "paul", "--role", "agent", "--email", ""]) == 0
    assert email_of(db_url, "paul") is None
    with session_scope(get_engine(db_url)) as s:
        images = [e.after.get("email") for e in s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "user").order_by(AuditEvent.id))]  # fmt: skip
    assert images == ["paul@ville.test", None]
