"""`carnet export operat --year AAAA [--output F.csv|F.xlsx]`: the Décret tertiaire figures
of every building for the yearly OPERAT declaration (see `dashboards.operat_data`)."""

from __future__ import annotations

import sys
from pathlib import Path


def register_operat(esub) -> None:
    op = esub.add_parser(
        "operat",
        help="déclaration OPERAT (décret tertiaire) d'une année : énergie finale par énergie, "
        "surface, année de référence, consommation ajustée au climat ; CSV français ou XLSX",
    )
    op.add_argument("--year", required=True, type=int, metavar="AAAA")
    op.add_argument(
        "--output", metavar="FICHIER", help="FICHIER.csv ou FICHIER.xlsx (défaut : CSV à l'écran)"
    )
    op.set_defaults(handler=_operat)


def _operat(args) -> int:
    from carnet.access import scope_of
    from carnet.db import get_engine
    from carnet.frcsv import to_french_csv
    from carnet_cli.acting import operator
    from dashboards.operat_data import operat_frame, operat_xlsx

    engine = get_engine()
    frame = operat_frame(engine, scope_of(engine, operator()), args.year)
    xlsx = bool(args.output) and Path(args.output).suffix.lower() == ".xlsx"
    payload = operat_xlsx(frame, args.year) if xlsx else to_french_csv(frame)
    if not args.output:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return 0
    Path(args.output).write_bytes(payload)
    complete = int(frame["Année complète"].sum())
    print(f"{args.output} : {len(frame)} bâtiment(s), année {args.year}, {complete} complète(s)")
    return 0
