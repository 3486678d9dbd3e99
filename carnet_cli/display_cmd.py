"""`carnet display token|tips|show`: the users' screens of the buildings (`/affichage/<jeton>`):
open, renew or revoke a building's address, write its "what you can do here" list."""

from __future__ import annotations

import json

from carnet_cli.main import CliError


def register(sub) -> None:
    display = sub.add_parser("display", help="écrans des usagers d'un bâtiment (/affichage)")
    dsub = display.add_subparsers(dest="display_command", required=True)
    tok = dsub.add_parser(
        "token", help="ouvre (ou renouvelle) l'adresse de l'écran ; --revoke la retire"
    )
    tok.add_argument("--building", required=True, metavar="CODE")
    tok.add_argument("--revoke", action="store_true")
    tok.set_defaults(handler=_token)
    tips = dsub.add_parser("tips", help="écrit la liste « ce que vous pouvez faire ici »")
    tips.add_argument("--building", required=True, metavar="CODE")
    tips.add_argument("--text", required=True, help="une action par ligne")
    tips.set_defaults(handler=_tips)
    show = dsub.add_parser("show", help="l'adresse et la liste de l'écran d'un bâtiment")
    show.add_argument("--building", required=True, metavar="CODE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)


def _run(action):
    import os

    from carnet import db
    from carnet.access import Actor, CarnetPermissionError
    from carnet.roles import MANAGER

    actor = Actor(os.environ.get("CARNET_USER") or "cli", MANAGER)
    with db.session_scope(db.get_engine()) as session:
        try:
            return action(session, actor)
        except CarnetPermissionError as exc:
            raise CliError(str(exc), 3) from exc
        except (LookupError, ValueError) as exc:
            raise CliError(str(exc).strip("'\"")) from exc


def _token(args) -> int:
    from carnet.display import display_path, set_token

    token = _run(lambda s, a: set_token(s, a, args.building, revoke=args.revoke))
    if token is None:
        print(f"écran de {args.building} retiré : l'ancienne adresse ne répond plus")
    else:
        print(display_path(token))
    return 0


def _tips(args) -> int:
    from carnet.display import set_tips

    tips = _run(lambda s, a: set_tips(s, a, args.building, args.text.replace("\\n", "\n")))
    print(f"{len(tips)} action(s) affichée(s) sur l'écran de {args.building}")
    return 0


def _show(args) -> int:
    from carnet.display import display_of, display_path

    out = _run(lambda s, a: display_of(s, a, args.building))
    out["path"] = display_path(out["token"]) if out["token"] else None
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(out["path"] or "aucun écran ouvert")
        for tip in out["tips"]:
            print(f"- {tip}")
    return 0
