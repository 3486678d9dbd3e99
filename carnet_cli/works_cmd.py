"""`carnet works add|list|subsidy`: the town's works programme and what each work saved,
measured (IPMVP option C, `contract.works_savings`).

Without `--author` the command acts as the operator (full rights), as `carnet rex`.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from carnet_cli.main import CliError

AUTHOR_HELP = "agit (et voit) au nom de cet utilisateur"
DATE_HELP = "AAAA-MM-JJ ou JJ/MM/AAAA"
SCHEME_HELP = "dispositif de l'aide : CEE, DSIL, DETR, FONDS_VERT, REGION, AUTRE (défaut)"


def register(sub) -> None:
    works = sub.add_parser("works", help="programme de travaux et économies mesurées")
    wsub = works.add_subparsers(dest="works_command", required=True)

    add = wsub.add_parser("add", help="inscrit des travaux (faits ou prévus) au programme")
    add.add_argument("--building", required=True, metavar="CODE")
    add.add_argument("--title", required=True, metavar="TEXTE")
    add.add_argument("--from", dest="date_from", required=True, metavar="DATE", help=DATE_HELP)
    add.add_argument("--to", dest="date_to", metavar="DATE", help="fin des travaux, " + DATE_HELP)
    add.add_argument("--cost-eur", required=True, metavar="X", help="coût TTC en euros")
    add.add_argument("--expected-mwh", type=float, metavar="X",
                     help="économie attendue, MWh PCI par an")  # fmt: skip
    add.add_argument("--expected-pct", type=float, metavar="X",
                     help="ou économie attendue en %% de la consommation (du NB)")  # fmt: skip
    add.add_argument("--source", metavar="TEXTE", help="source de l'économie attendue (audit...)")
    add.add_argument("--subsidy-eur", metavar="X", help="montant de l'aide en euros")
    add.add_argument("--subsidy-scheme", default="AUTRE", metavar="DISPOSITIF",
                     help=SCHEME_HELP)  # fmt: skip
    add.add_argument("--text", metavar="TEXTE", help="description des travaux")
    add.add_argument("--nb-factor", type=float, metavar="X",
                     help="conséquence sur le contrat : NB × X après les travaux")  # fmt: skip
    add.add_argument("--nb-delta-mwh", type=float, metavar="X",
                     help="ou NB ± X MWh PCI par saison après les travaux")  # fmt: skip
    add.add_argument("--contract", metavar="CODE", help="contrat ajusté (défaut : le plus récent)")
    add.add_argument("--justification", metavar="TEXTE", help="justification de l'ajustement")
    add.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_add)

    sb = wsub.add_parser("subsidy", help="ajoute une aide à des travaux")
    sb.add_argument("id", type=int)
    sb.add_argument("--scheme", required=True, metavar="DISPOSITIF", help=SCHEME_HELP)
    sb.add_argument("--amount-eur", required=True, metavar="X")
    sb.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    sb.set_defaults(handler=_subsidy)

    ls = wsub.add_parser("list", help="le programme : coûts, économies attendues et mesurées")
    ls.add_argument("--building", metavar="CODE")
    ls.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)


def _actor(session, login: str | None):
    from sqlalchemy import select

    from carnet.access import Actor
    from carnet.models import User
    from carnet.roles import MANAGER

    if not login:
        return Actor(os.environ.get("CARNET_USER") or "cli", MANAGER)
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise CliError(f"utilisateur inconnu « {login} »")
    return user


def _run(args, action):
    from carnet import db
    from carnet.access import CarnetPermissionError
    from carnet.adjustments import AdjustmentError
    from carnet.works import WorksError

    with db.session_scope(db.get_engine()) as session:
        try:
            return action(session, _actor(session, args.author))
        except CarnetPermissionError as exc:
            raise CliError(str(exc), 3) from exc
        except (LookupError, WorksError, AdjustmentError, ValueError) as exc:
            raise CliError(str(exc).strip("'\"")) from exc


def _add(args) -> int:
    from carnet.works import add_works
    from carnet_cli.acting import cli_date

    subsidies = [(args.subsidy_scheme, args.subsidy_eur)] if args.subsidy_eur else []

    def action(session, actor):
        w = add_works(
            session, actor, args.building, args.title, cli_date(args.date_from), args.cost_eur,
            ends_on=cli_date(args.date_to), description=args.text, expected_mwh=args.expected_mwh,
            expected_pct=args.expected_pct, expected_source=args.source, subsidies=subsidies,
            contract_code=args.contract, nb_factor=args.nb_factor,
            nb_delta_mwh=args.nb_delta_mwh, justification=args.justification,
        )  # fmt: skip
        return {"id": w.id, "building": args.building, "title": w.title,
                "adjustment_id": w.adjustment_id}  # fmt: skip

    out = _run(args, action)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        extra = f" (ajustement n° {out['adjustment_id']})" if out["adjustment_id"] else ""
        print(f"travaux n° {out['id']} inscrits sur {args.building} : {out['title']}{extra}")
    return 0


def _subsidy(args) -> int:
    from carnet.works import add_subsidy

    _run(args, lambda s, actor: add_subsidy(s, actor, args.id, args.scheme, args.amount_eur))
    print(f"aide {args.scheme} ajoutée aux travaux n° {args.id}")
    return 0


def _num(value, digits: int = 1):
    return None if value is None else round(float(value), digits)


def json_row(r: dict) -> dict:
    m = r["measure"]
    return {
        "id": r["id"],
        "building": r["building"],
        "title": r["title"],
        "from": r["starts_on"].isoformat(),
        "to": r["ends_on"].isoformat() if r["ends_on"] else None,
        "cost_eur": r["cost_eur"],
        "subsidies": r["subsidies"],
        "net_cost_eur": r["plan"]["net_cost_eur"],
        "expected_savings_mwh": _num(r["plan"]["expected_mwh_per_year"]),
        "expected_source": r["expected_source"],
        "measured_savings_mwh": _num(m.measured_mwh_per_year),
        "measured_savings_mwh_to_date": _num(m.measured_savings_mwh),
        "savings_pct": _num(m.savings_pct),
        "savings_eur_to_date": _num(m.savings_eur, 0),
        "payback_years": _num(m.payback_years),
        "cvrmse_pct": _num(m.cvrmse * 100 if m.cvrmse is not None else None),
        "fsu_pct": _num(m.fsu * 100 if m.fsu is not None else None),
        "guideline14_ok": m.accepted,
        "fsu_ok": m.fsu_ok,
        "status": m.status,
        "overlaps": list(m.overlaps),
        "baseline": [d.isoformat() for d in m.baseline] if m.baseline else None,
        "reporting": [d.isoformat() for d in m.reporting] if m.reporting else None,
        "note": m.note,
        "adjustment_id": r["adjustment_id"],
        "contract": r["contract"],
    }


def _list(args) -> int:
    from carnet import db
    from carnet.fr_format import fr_number
    from carnet.timeutil import fr_date
    from carnet.works import works_rows
    from carnet_cli.text_table import table
    from dashboards.programme_travaux_data import measured_rows

    rows = _run(args, lambda s, actor: works_rows(s, actor, args.building or None))
    out = [json_row(r) for r in measured_rows(db.get_engine(), rows)]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    if not out:
        print("aucuns travaux au programme")
        return 0
    fmt = lambda v, d=1: "—" if v is None else fr_number(v, d)  # noqa: E731
    lines = [
        [str(o["id"]), o["building"], o["title"][:40], fr_date(dt.date.fromisoformat(o["from"])), fmt(o["cost_eur"], 0),
         fmt(o["expected_savings_mwh"]), fmt(o["measured_savings_mwh"]),
         fmt(o["payback_years"]), o["note"]]
        for o in out
    ]  # fmt: skip
    headers = ["n°", "bâtiment", "travaux", "début", "coût €", "attendu MWh/an",
               "mesuré MWh/an", "retour (ans)", "remarque"]  # fmt: skip
    print(table(headers, lines, left=(1, 2, 3, 8)))
    return 0
