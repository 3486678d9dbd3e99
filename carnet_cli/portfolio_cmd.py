"""`carnet portfolio load FILE.yaml`, `carnet portfolio export FILE.yaml` and
`carnet portfolio remove KIND CODE`."""

from __future__ import annotations

from carnet.db import get_engine, session_scope
from carnet.portfolio import REMOVABLE, load_portfolio, remove
from carnet.portfolio_parse import PortfolioError
from carnet_cli.main import CliError


def register(sub) -> None:
    p = sub.add_parser("portfolio", help="fichier de patrimoine : bâtiments, points, contrats")
    psub = p.add_subparsers(dest="portfolio_command", required=True)
    load = psub.add_parser("load", help="crée ou met à jour ce que le fichier nomme")
    load.add_argument("file", metavar="FICHIER.yaml")
    load.add_argument("--actor", default="cli", help="auteur inscrit au journal d'audit")
    load.set_defaults(handler=_load)
    ex = psub.add_parser(
        "export",
        help="écrit tout le patrimoine dans un fichier que « portfolio load » relit à l'identique",
    )
    ex.add_argument("file", metavar="FICHIER.yaml")
    ex.set_defaults(handler=_export)
    rm = psub.add_parser("remove", help="supprime explicitement un élément (audité)")
    rm.add_argument("kind", choices=sorted(REMOVABLE))
    rm.add_argument("code")
    rm.add_argument("--actor", default="cli")
    rm.set_defaults(handler=_remove)


def _load(args) -> int:
    try:
        with session_scope(get_engine()) as session:
            report = load_portfolio(session, args.file, actor=args.actor)
    except PortfolioError as exc:
        raise CliError(f"{len(exc.problems)} problème(s), rien n'a été modifié :\n{exc}") from exc
    for line in report.lines():
        print(line)
    print("aucun changement" if not report.changed else f"{args.file} chargé")
    return 0


def _export(args) -> int:
    from carnet.portfolio_export import write_portfolio

    with session_scope(get_engine()) as session:
        try:
            counts = write_portfolio(session, args.file)
        except OSError as exc:
            raise CliError(f"{args.file} : écriture impossible ({exc.strerror})") from exc
    for section, n in counts.items():
        print(f"{section}: {n}")
    print(f"{args.file} écrit")
    return 0


def _remove(args) -> int:
    from sqlalchemy.exc import IntegrityError

    try:
        with session_scope(get_engine()) as session:
            remove(session, args.kind, args.code, args.actor)
    except PortfolioError as exc:
        raise CliError(str(exc)) from exc
    except IntegrityError as exc:
        raise CliError(
            f"{args.kind} « {args.code} » est encore référencé(e) (relevés, journal, contrat…) :"
            " suppression refusée"
        ) from exc
    print(f"{args.kind} « {args.code} » supprimé(e)")
    return 0
