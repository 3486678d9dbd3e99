"""`carnet report monthly --contract CODE --month AAAA-MM --output FICHIER.pdf`: the working
group's monthly report, the same PDF as the savings page's download.

Without `--author` the operator acts (every building of the contract); with `--author LOGIN`
the report is that user's view (its role and scope).
"""

from __future__ import annotations

import re
from pathlib import Path

from carnet_cli.acting import acting_user, operator
from carnet_cli.main import CliError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def register(sub) -> None:
    rep = sub.add_parser("report", help="rapport mensuel du groupe de travail (PDF)")
    rsub = rep.add_subparsers(dest="report_command", required=True)
    m = rsub.add_parser("monthly", help="rapport du mois d'un contrat, en PDF (A4)")
    m.add_argument("--contract", required=True, metavar="CODE")
    m.add_argument("--month", required=True, metavar="AAAA-MM")
    m.add_argument("--output", required=True, metavar="FICHIER.pdf")
    m.add_argument("--as-of", help="date d'arrêt (défaut : hier, dernier jour complet)")
    m.add_argument("--author", metavar="LOGIN", help="le rapport tel que cet utilisateur le voit")
    m.set_defaults(handler=_monthly)


def _monthly(args) -> int:

    from sqlalchemy.orm import Session

    from carnet import db
    from carnet.access import CarnetPermissionError
    from carnet.roles import can
    from carnet.timeutil import parse_local_date
    from dashboards.report_data import monthly_report
    from dashboards.report_pdf import render_pdf

    if not MONTH_RE.match(args.month):
        raise CliError(f"mois invalide « {args.month} » (attendu AAAA-MM)")
    engine = db.get_engine()
    actor = operator()
    if args.author:
        with Session(engine) as s:
            actor = acting_user(s, args.author)
            s.expunge(actor)
        if not can(actor.role, "report.monthly"):
            raise CliError(f"accès refusé : {actor.login} ne peut pas éditer ce rapport", 3)
    try:
        as_of = parse_local_date(args.as_of) if args.as_of else None
        report = monthly_report(engine, actor, args.contract, args.month, as_of)
    except CarnetPermissionError as exc:
        raise CliError(str(exc), 3) from exc
    except (LookupError, ValueError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    out = Path(args.output)
    out.write_bytes(render_pdf(report))
    print(f"rapport mensuel {args.contract} {args.month} écrit dans {out}")
    return 0
