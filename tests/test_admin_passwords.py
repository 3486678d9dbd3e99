"""One-time password links: only the token's SHA-256 is stored, a link works once, expires,
is spent by a newer one, opens nothing for a deactivated account, and setting the password
ends the user's open sessions; every step in the audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, update

from carnet.admin_passwords import LINK_PREFIX, issue_link, link_login, use_link
from carnet.db import session_scope
from carnet.models import AuditEvent, PasswordReset, User
from carnet.users import UserError, authenticate, set_user

PASSWORD = "nouveau-secret-1"


@pytest.fixture
def claire(engine):
    with session_scope(engine) as s:
        set_user(s, "claire", "finance", name="Claire", actor="test")
    return "claire"


def _token(engine, login="claire") -> str:
    with session_scope(engine) as s:
        path = issue_link(s, login, "gestionnaire")
    assert path.startswith(LINK_PREFIX)
    return path[len(LINK_PREFIX) :]


def test_a_link_is_stored_hashed_and_works_once(engine, claire):
    token = _token(engine)
    with session_scope(engine) as s:
        (link,) = s.scalars(select(PasswordReset)).all()
        assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in {str(v) for v in vars(link).values()}
        version = s.scalar(select(User.session_version).where(User.login == claire))
        assert link_login(s, token) == claire
    with session_scope(engine) as s:
        assert use_link(s, token, PASSWORD, PASSWORD) == claire
    with session_scope(engine) as s:
        assert authenticate(s, claire, PASSWORD).login == claire
        assert s.scalar(select(User.session_version).where(User.login == claire)) == version + 1
        assert link_login(s, token) is None
    with pytest.raises(UserError, match="déjà utilisé"), session_scope(engine) as s:
        use_link(s, token, "autre-secret-2", "autre-secret-2")
    with session_scope(engine) as s:
        assert authenticate(s, claire, PASSWORD) is not None
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == claire).order_by(AuditEvent.id)
        ).all()
    assert actions[-2:] == ["reset_link", "set_password"]


def test_wrong_input_keeps_the_link(engine, claire):
    token = _token(engine)
    for password, confirmation, message in (
        (PASSWORD, PASSWORD + "x", "diffèrent"),
        ("court", "court", "trop court"),
    ):
        with pytest.raises(UserError, match=message), session_scope(engine) as s:
            use_link(s, token, password, confirmation)
    with session_scope(engine) as s:
        assert link_login(s, token) == claire
        assert s.scalar(select(User.password_hash).where(User.login == claire)) is None


def test_expired_superseded_or_deactivated_links_open_nothing(engine, claire):
    old = _token(engine)
    new = _token(engine)  # spends the older one
    with session_scope(engine) as s:
        assert link_login(s, old) is None and link_login(s, new) == claire
        s.execute(
            update(PasswordReset)
            .where(PasswordReset.used_at.is_(None))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    with pytest.raises(UserError), session_scope(engine) as s:
        use_link(s, new, PASSWORD, PASSWORD)
    fresh = _token(engine)
    with session_scope(engine) as s:
        s.scalar(select(User).where(User.login == claire)).active = False
    with pytest.raises(UserError), session_scope(engine) as s:
        use_link(s, fresh, PASSWORD, PASSWORD)
    with pytest.raises(UserError, match="désactivé"), session_scope(engine) as s:
        issue_link(s, claire, "gestionnaire")
    with session_scope(engine) as s:
        assert s.scalar(select(User.password_hash).where(User.login == claire)) is None


def test_the_cli_gives_the_same_one_time_link(engine, claire, capsys):
    from tests.helpers.cli import run

    status, out = run(capsys, "user", "link", claire, "--base-url", "https://carnet.ville.fr/")
    assert status == 0, out
    url = out.strip()
    assert url.startswith("https://carnet.ville.fr" + LINK_PREFIX)
    token = url.rsplit("/", 1)[1]
    with session_scope(engine) as s:
        assert link_login(s, token) == claire
    status, out = run(capsys, "user", "link", "personne")
    assert status != 0 and "utilisateur inconnu « personne »" in out
