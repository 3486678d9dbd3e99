"""Users and passwords. Passwords are hashed (scrypt via werkzeug), never stored or logged."""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from carnet.audit import record
from carnet.models import Contract, User
from carnet.roles import ROLES, is_contractor

MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    pass


def set_user(
    session: Session,
    login: str,
    role: str,
    name: str | None = None,
    contract_code: str | None = None,
    password: str | None = None,
    email: str | None = None,
    actor: str = "system",
) -> User:
    """Create or update a user by login. `email`: None keeps it, "" removes it."""
    if role not in ROLES:
        raise UserError(f"rôle inconnu « {role} » (attendu : {', '.join(ROLES)})")
    contract = None
    if is_contractor(role) and not contract_code:
        raise UserError("un exploitant est rattaché à un contrat : --contract CODE")
    if contract_code:
        contract = session.scalar(select(Contract).where(Contract.code == contract_code))
        if contract is None:
            raise UserError(f"contrat inconnu « {contract_code} »")
    if email is not None:
        email = check_email(email)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"mot de passe trop court (au moins {MIN_PASSWORD_LENGTH} caractères)")
    user = session.scalar(select(User).where(User.login == login))
    before = None if user is None else _image(user)
    if user is None:
        user = User(login=login, name=name or login, role=role)
        session.add(user)
    user.role = role
    if name:
        user.name = name
    user.contract_id = contract.id if contract else None
    if email is not None:
        user.email = email or None
    if password is not None:
        user.password_hash = generate_password_hash(password)
        user.session_version = (user.session_version or 0) + 1  # a reset ends open sessions
    session.flush()
    after = _image(user)
    if before != after or password is not None:
        record(
            session,
            actor,
            "create" if before is None else "update",
            "user",
            login,
            before,
            after | ({"password": "(modifié)"} if password is not None else {}),
        )
    return user


def _image(user: User) -> dict:
    return {
        "login": user.login,
        "name": user.name,
        "role": user.role,
        "contract_id": user.contract_id,
        "email": user.email,
    }


_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def check_email(email: str) -> str:
    """The address, trimmed ("" stays "": no address); UserError when unusable."""
    email = email.strip()
    if email and not _EMAIL_RE.match(email):
        raise UserError(f"adresse e-mail invalide « {email} »")
    return email


@cache
def _dummy_hash() -> str:
    """A hash to check unknown logins against: computed once, on the first sign-in attempt
    (not at import, where it would slow every command down)."""
    return generate_password_hash("carnet-no-such-user")


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The user if the password matches. An unknown login costs the same password check, so
    that response times do not tell which logins exist."""
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def end_sessions(session: Session, user_id: int) -> None:
    """Sign the user out everywhere: every web session carrying the current `session_version`
    is refused from now on (one atomic increment, safe against a concurrent sign-out)."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
