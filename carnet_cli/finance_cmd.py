"""`carnet export finance --contract CODE --month YYYY-MM`: the finance service's monthly file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from carnet.db import get_engine
from carnet.frames import contract_terms
from carnet.frames_settlement import settlement_frames
from carnet.frcsv import to_french_csv
from carnet_cli.main import CliError
from contract.finance import finance_month_french, finance_plan, monthly_finance
from contract.terms import ContractTerms


def register(sub) -> None:
    p = sub.add_parser("export", help="exports pour les autres services")
    esub = p.add_subparsers(dest="export_command", required=True)
    fin = esub.add_parser(
        "finance",
        help="export financier mensuel (CSV français : « ; », virgule décimale, UTF-8 BOM)",
    )
    fin.add_argument("--contract", required=True, metavar="CODE")
    fin.add_argument("--month", required=True, metavar="AAAA-MM")
    fin.add_argument("--output", metavar="FICHIER", help="fichier CSV (défaut : sortie standard)")
    fin.add_argument("--json", action="store_true", help="JSON (machines) au lieu du CSV")
    fin.set_defaults(handler=_finance)


def _finance(args) -> int:
    try:
        engine = get_engine()
        terms = ContractTerms.from_record(contract_terms(engine, args.contract))
        frame = monthly_finance(
            terms, args.month, settlement_frames(engine, finance_plan(terms, args.month))
        )
    except LookupError as exc:
        raise CliError(str(exc)) from exc
    except ValueError as exc:
        raise CliError(f"{args.month} : {exc}") from exc
    if args.json:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        text = json.dumps(records, ensure_ascii=False, indent=1, default=str) + "\n"
        payload = text.encode("utf-8")
    else:
        payload = to_french_csv(finance_month_french(frame))
    if args.output:
        Path(args.output).write_bytes(payload)
        buildings = ((frame["building_code"] != "TOTAL") & (frame["origin"] == "")).sum()
        regs = int((frame["origin"] != "").sum())
        print(
            f"{args.output} : {buildings} bâtiment(s), mois {args.month}"
            + (f", {regs} ligne(s) de régularisation" if regs else "")
            + (f", {frame['closed'].iloc[0]}" if frame["closed"].iloc[0] else "")
        )
    else:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
    return 0
