"""One-time links to set a password, issued by the manager from the administration.

The token is shown once (in the link) and only its SHA-256 is stored: a copy of the database
opens no account. A link expires (`LINK_LIFETIME`), is spent by its first use, and issuing a
new one spends the older ones of the same user. Setting the password ends the user's open
sessions (session version), as `carnet.users.set_user` does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from carnet.audit import record
from carnet.models import PasswordReset, User
from carnet.users import MIN_PASSWORD_LENGTH, UserError

LINK_LIFETIME = dt.timedelta(hours=72)
LINK_PREFIX = "/mot-de-passe/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_link(session: Session, login: str, actor: str) -> str:
    """A new one-time link path for `login` (to show once); the older links are spent."""
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise UserError(f"utilisateur inconnu « {login} »")
    if not user.active:
        raise UserError(f"le compte « {login} » est désactivé : réactivez-le d'abord")
    now = _now()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires = now + LINK_LIFETIME
    session.add(
        PasswordReset(
            user_id=user.id,
            token_sha256=_digest(token),
            created_by=actor[:64],
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    record(session, actor, "reset_link", "user", login, None, {"expires_at": expires})
    return LINK_PREFIX + token


def _live(session: Session, token: str) -> PasswordReset | None:
    if not token or len(token) > 200:
        return None
    link = session.scalar(select(PasswordReset).where(PasswordReset.token_sha256 == _digest(token)))
    if link is None or link.used_at is not None or link.expires_at <= _now():
        return None
    return link


def link_login(session: Session, token: str) -> str | None:
    """The login a live link is for (None: unknown, expired or spent)."""
    link = _live(session, token)
    if link is None:
        return None
    user = session.get(User, link.user_id)
    return user.login if user is not None and user.active else None


def use_link(session: Session, token: str, password: str, confirmation: str) -> str:
    """Set the password through a live link and spend it; the login. UserError otherwise."""
    link = _live(session, token)
    user = None if link is None else session.get(User, link.user_id)
    if user is None or not user.active:
        raise UserError("lien inconnu, expiré ou déjà utilisé : demandez-en un nouveau")
    if password != confirmation:
        raise UserError("les deux saisies diffèrent")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"mot de passe trop court (au moins {MIN_PASSWORD_LENGTH} caractères)")
    # spent atomically: of two concurrent uses of one link, only one sets the password
    spent = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == link.id, PasswordReset.used_at.is_(None))
        .values(used_at=_now())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise UserError("lien inconnu, expiré ou déjà utilisé : demandez-en un nouveau")
    user.password_hash = generate_password_hash(password)
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    record(session, user.login, "set_password", "user", user.login, None, {"password": "(modifié)"})
    return user.login
