"""`carnet user add|list|link`: accounts and roles. The password comes from `CARNET_PASSWORD` or
standard input (hidden prompt on a terminal); it is never echoed, printed or logged."""

from __future__ import annotations

import getpass
import os
import sys

from sqlalchemy import select

from carnet.db import get_engine, session_scope
from carnet.models import Contract, User
from carnet.roles import ROLE_LABELS_FR, ROLES
from carnet.users import UserError, set_user
from carnet_cli.main import CliError

PASSWORD_ENV = "CARNET_PASSWORD"


def register(sub) -> None:
    p = sub.add_parser("user", help="utilisateurs et rôles")
    usub = p.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser(
        "add",
        help="crée ou met à jour un utilisateur",
        description=(
            f"Le mot de passe est lu dans la variable {PASSWORD_ENV} si elle est définie, "
            "sinon sur l'entrée standard (une ligne ; saisie masquée dans un terminal)."
        ),
    )
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--contract", help="code du contrat (obligatoire pour un exploitant)")
    add.add_argument("--name", help="nom affiché")
    add.add_argument("--email", help="adresse e-mail des avis (vide : aucune)")
    add.set_defaults(handler=_add)
    ls = usub.add_parser("list", help="liste les utilisateurs")
    ls.set_defaults(handler=_list)
    link = usub.add_parser(
        "link",
        help="lien à usage unique pour choisir son mot de passe (affiché une fois)",
        description="Le lien expire et ne sert qu'une fois ; un nouveau lien annule les précédents.",
    )
    link.add_argument("login")
    link.add_argument("--base-url", default="", help="adresse du site, ex. https://carnet.ville.fr")
    link.add_argument("--actor", default="cli", help="auteur inscrit au journal d'audit")
    link.set_defaults(handler=_link)


def read_password() -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Mot de passe : ")
            if getpass.getpass("Confirmez le mot de passe : ") != password:
                raise CliError("les deux saisies diffèrent")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError(f"mot de passe vide (variable {PASSWORD_ENV} ou entrée standard)")
    return password


def _add(args) -> int:
    password = read_password()
    try:
        with session_scope(get_engine()) as s:
            user = set_user(
                s,
                args.login,
                args.role,
                name=args.name,
                contract_code=args.contract,
                password=password,
                email=args.email,
                actor="cli",
            )
            label = ROLE_LABELS_FR.get(user.role, user.role)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"utilisateur « {args.login} » enregistré ({label})")
    return 0


def _list(args) -> int:
    with session_scope(get_engine()) as s:
        rows = s.execute(
            select(User.login, User.name, User.role, User.active, User.email, Contract.code)
            .outerjoin(Contract, Contract.id == User.contract_id)
            .order_by(User.login)
        ).all()
    if not rows:
        print("(aucun utilisateur)")
        return 0
    width = max(len(r.login) for r in rows)
    for r in rows:
        role = ROLE_LABELS_FR.get(r.role, r.role)
        extra = f"  contrat {r.code}" if r.code else ""
        state = "" if r.active else "  (désactivé)"
        email = f"  <{r.email}>" if r.email else ""
        print(f"{r.login.ljust(width)}  {role}  — {r.name}{email}{extra}{state}")
    return 0


def _link(args) -> int:
    from carnet.admin_passwords import issue_link

    try:
        with session_scope(get_engine()) as s:
            path = issue_link(s, args.login, args.actor)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(args.base_url.rstrip("/") + path)
    return 0
