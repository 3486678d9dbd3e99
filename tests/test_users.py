"""Users: passwords are hashed, never kept in clear; roles and contract binding are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import AuditEvent, User
from carnet.portfolio import load_portfolio
from carnet.roles import CAPABILITIES, ROLES, can
from carnet.users import UserError, authenticate, set_user

MINIMAL = Path(__file__).parent / "data" / "portfolio_min.yaml"


def test_password_is_hashed_and_checked(engine):
    with session_scope(engine) as s:
        load_portfolio(s, MINIMAL)
        set_user(s, "finances", "finance", name="Service financier", password="s3cret-pass")
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.login == "finances"))
        assert "s3cret-pass" not in (user.password_hash or "")
        assert authenticate(s, "finances", "s3cret-pass").login == "finances"
        assert authenticate(s, "finances", "wrong-pass") is None
        assert authenticate(s, "nobody", "s3cret-pass") is None
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "user")).all()
        assert events and all("s3cret-pass" not in str(e.after) for e in events)


def test_role_and_contract_rules(engine):
    with session_scope(engine) as s:
        load_portfolio(s, MINIMAL)
        with pytest.raises(UserError, match="rôle inconnu"):
            set_user(s, "x", "boss")
        with pytest.raises(UserError, match="contrat"):
            set_user(s, "x", "contractor")
        with pytest.raises(UserError, match="contrat inconnu"):
            set_user(s, "x", "contractor", contract_code="NOPE")
        with pytest.raises(UserError, match="trop court"):
            set_user(s, "x", "agent", password="short")
        user = set_user(s, "x", "contractor", contract_code="CHAUFF-2024", password="long-enough")
        assert user.contract.code == "CHAUFF-2024"


def test_capabilities_follow_design_roles():
    assert set().union(*CAPABILITIES.values()) <= set(ROLES)
    assert can("finance", "finance.export") and not can("programmer", "finance.export")
    assert can("programmer", "bookings.edit") and not can("contractor", "bookings.edit")
    assert can("agent", "carnet.observation") and not can("agent", "carnet.intervention")
    assert not can(None, "portfolio.view")
    with pytest.raises(KeyError):
        can("manager", "no.such.capability")
