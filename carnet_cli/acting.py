"""Who a command acts as, and the dates it is given: the operator (`CARNET_USER`, else "cli")
with the manager's rights, or with `--author`/`--user LOGIN` that person under their own role
rules; one rule for every command that writes on someone's behalf."""

from __future__ import annotations

import datetime as dt
import os

from carnet.access import Actor
from carnet.roles import MANAGER
from carnet_cli.main import CliError


def operator() -> Actor:
    return Actor(os.environ.get("CARNET_USER") or "cli", MANAGER)


def acting_user(session, login: str | None):
    """The operator, or the active user `login` (its role and contract decide what it may do)."""
    from sqlalchemy import select

    from carnet.models import User

    if not login:
        return operator()
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    if user is None:
        raise CliError(f"utilisateur inconnu ou inactif « {login} »")
    return user


def cli_date(text: str | None) -> dt.date | None:
    """dd/mm/yyyy (or yyyy-mm-dd) as a local date; a bad date is the command's error."""
    from carnet.timeutil import parse_local_date

    if not text:
        return None
    try:
        return parse_local_date(text)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
