"""`carnet export finance --contract CODE --month AAAA-MM | --season AAAA-AAAA`: the finance
service's file, French CSV or workbook (by the output's extension); `carnet export operat`
(`carnet_cli.operat_cmd`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from carnet.db import get_engine
from carnet.frcsv import to_french_csv
from carnet_cli.main import CliError


def register(sub) -> None:
    p = sub.add_parser("export", help="exports pour les autres services")
    esub = p.add_subparsers(dest="export_command", required=True)
    fin = esub.add_parser(
        "finance",
        help="export financier mensuel ou de saison : CSV français (« ; », virgule décimale, "
        "UTF-8 BOM) ou classeur XLSX selon l'extension du fichier",
    )
    fin.add_argument(
        "--contract", required=True, metavar="CODE", action="append",
        help="contrat (répétable : une feuille par contrat dans le classeur)",
    )  # fmt: skip
    when = fin.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", metavar="AAAA-MM")
    when.add_argument("--season", metavar="AAAA-AAAA", help="synthèse de la saison, mois par mois")
    fin.add_argument(
        "--output", metavar="FICHIER", help="FICHIER.csv ou FICHIER.xlsx (défaut : CSV à l'écran)"
    )
    fin.add_argument("--json", action="store_true", help="JSON (machines) au lieu du CSV")
    fin.set_defaults(handler=_finance)
    from carnet_cli.operat_cmd import register_operat

    register_operat(esub)


def _months(engine, args) -> tuple[dict, list]:
    """Per contract its FinanceMonth list, and the lines of the summary."""
    from dashboards.finances_data import finance_month, finance_season

    period = args.month or args.season
    contracts, summary = {}, []
    for code in dict.fromkeys(args.contract):
        try:
            if args.month:
                month = finance_month(engine, code, args.month)
                contracts[code] = [month]
                f = month.frame
                summary.append(f[f["building_code"] == "TOTAL"])
            else:
                months, season = finance_season(engine, code, args.season)
                contracts[code] = months
                summary.append(season)
        except LookupError as exc:
            raise CliError(str(exc)) from exc
        except ValueError as exc:
            raise CliError(f"{code} {period} : {exc}") from exc
    return contracts, summary


def _finance(args) -> int:
    import pandas as pd

    from contract.finance_table import french
    from contract.terms import month_label

    contracts, summary = _months(get_engine(), args)
    lines = pd.concat([m.frame for ms in contracts.values() for m in ms], ignore_index=True)
    if args.season:
        lines = pd.concat(summary, ignore_index=True)
    xlsx = bool(args.output) and Path(args.output).suffix.lower() == ".xlsx"
    if args.json:
        records = lines.astype(object).where(lines.notna(), None).to_dict("records")
        payload = (json.dumps(records, ensure_ascii=False, indent=1, default=str) + "\n").encode()
    elif xlsx:
        from dashboards.finance_xlsx import workbook

        what = month_label(args.month) if args.month else f"saison {args.season}"
        payload = workbook(
            contracts,
            pd.concat(summary, ignore_index=True),
            f"Export financier, {what} : {', '.join(contracts)}",
        )
    else:
        payload = to_french_csv(french(lines))
    if not args.output:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return 0
    Path(args.output).write_bytes(payload)
    for code, months in contracts.items():
        if args.season:
            provisional = sum(m.provisional for m in months)
            print(
                f"{args.output} : {code}, saison {args.season}, {len(months)} mois"
                + (f" dont {provisional} provisoire(s)" if provisional else "")
            )
            continue
        frame = months[0].frame
        buildings = ((frame["building_code"] != "TOTAL") & (frame["origin"] == "")).sum()
        regs = int((frame["origin"] != "").sum())
        total = frame[frame["building_code"] == "TOTAL"]["status"]
        status = total.iloc[0] if len(total) else ""
        print(
            f"{args.output} : {buildings} bâtiment(s), mois {args.month}"
            + (f" ({code})" if len(contracts) > 1 else "")
            + (f", {regs} ligne(s) de régularisation" if regs else "")
            + (f", {status}" if status else "")
        )
    return 0
