"""`carnet work list|add|close`: the work orders of a contract's buildings from a shell.

As `carnet log`: without `--author` the command acts as the operator (full rights), with
`--author LOGIN` as that user, under its role and contract.
"""

from __future__ import annotations

import json
from pathlib import Path

from carnet import db
from carnet.access import CarnetPermissionError
from carnet.alarms import AlarmError
from carnet.attachments import AttachmentError
from carnet.logbook import INTERVENTION_KINDS
from carnet.logbook_refs import LogbookError
from carnet.models import WORK_ORDER_ORIGINS, WORK_ORDER_PRIORITIES, WORK_ORDER_STATUSES
from carnet.work_orders import (
    WorkOrderError,
    close_work_order,
    create_work_order,
    get_work_order,
    work_orders_frame,
)
from carnet_cli.acting import acting_user, cli_date
from carnet_cli.main import CliError


def register(sub) -> None:
    work = sub.add_parser("work", help="ordres de travail des bâtiments d'un contrat")
    wsub = work.add_subparsers(dest="work_command", required=True)

    ls = wsub.add_parser("list", help="liste les ordres de travail (les plus urgents d'abord)")
    ls.add_argument("--contract", metavar="CODE", help="ceux de ce contrat")
    ls.add_argument(
        "--status", choices=WORK_ORDER_STATUSES, action="append", help="statut (répétable)"
    )
    ls.add_argument("--priority", choices=WORK_ORDER_PRIORITIES, action="append")
    ls.add_argument("--building", metavar="CODE")
    ls.add_argument("--assignee", help="attribués à")
    ls.add_argument("--origin", choices=WORK_ORDER_ORIGINS)
    ls.add_argument("--overdue", action="store_true", help="seulement ceux en retard")
    ls.add_argument("--author", metavar="LOGIN", help="vus par cet utilisateur")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    add = wsub.add_parser(
        "add", help="crée un ordre de travail (d'une alarme, d'un signalement, d'une obligation)"
    )
    origin = add.add_mutually_exclusive_group(required=True)
    origin.add_argument("--building", metavar="CODE", help="saisi à la main sur ce bâtiment")
    origin.add_argument("--alarm", type=int, metavar="ID", help="en réponse à cette alarme")
    origin.add_argument("--observation", type=int, metavar="ID", help="pour ce signalement")
    origin.add_argument("--obligation", type=int, metavar="ID", help="pour cette obligation")
    add.add_argument("--title", help="intitulé (par défaut, celui de l'origine)")
    add.add_argument("--description")
    add.add_argument("--equipment", metavar="CODE")
    add.add_argument("--assignee", help="qui le fait (nom ou identifiant)")
    add.add_argument("--due", metavar="DATE", help="échéance AAAA-MM-JJ ou JJ/MM/AAAA")
    add.add_argument("--priority", choices=WORK_ORDER_PRIORITIES, default="normal")
    add.add_argument("--cost", help="coût prévu en euros, ex. « 1 234,56 »")
    add.add_argument("--contract", metavar="CODE", help="si le bâtiment relève de plusieurs")
    add.add_argument("--author", metavar="LOGIN", help="agit au nom de cet utilisateur")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_add)

    close = wsub.add_parser(
        "close", help="clôt un ordre de travail : l'intervention est écrite au carnet"
    )
    close.add_argument("id", type=int)
    close.add_argument("--report", required=True, help="compte rendu de l'intervention")
    close.add_argument("--file", type=Path, metavar="FICHIER", help="rapport joint (PDF, photo)")
    close.add_argument("--kind", choices=sorted(INTERVENTION_KINDS))
    close.add_argument("--cost", help="coût réel en euros")
    close.add_argument("--date", metavar="DATE", help="date de l'intervention")
    close.add_argument("--author", metavar="LOGIN", help="agit au nom de cet utilisateur")
    close.add_argument("--json", action="store_true")
    close.set_defaults(handler=_close)


def _run(action):
    try:
        return action()
    except CarnetPermissionError as exc:
        raise CliError(str(exc), 3) from exc
    except LookupError as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    except (WorkOrderError, AlarmError, LogbookError, AttachmentError) as exc:
        raise CliError(str(exc)) from exc


def _json_row(r: dict) -> dict:
    def plain(value):
        if value is None or value != value:  # NaN / NA
            return None
        return int(value) if hasattr(value, "item") and not isinstance(value, str) else value

    return {
        "id": int(r["id"]),
        "contract": plain(r["contract_code"]),
        "building": r["building_code"],
        "equipment": plain(r["equipment_code"]),
        "origin": r["origin"],
        "alarm_id": plain(r["alarm_id"]),
        "observation_id": plain(r["source_entry_id"]),
        "obligation_id": plain(r["obligation_id"]),
        "title": r["title"],
        "assignee": plain(r["assignee"]),
        "due_on": r["due_on"].isoformat() if plain(r["due_on"]) else None,
        "overdue": bool(r["overdue"]),
        "priority": r["priority"],
        "status": r["status"],
        "cost_cents": plain(r["cost_cents"]),
        "created_by": r["created_by"],
        "intervention_entry_id": plain(r["intervention_entry_id"]),
    }


def _list(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        actor = acting_user(session, args.author)
        frame = _run(
            lambda: work_orders_frame(
                session,
                actor,
                contract=args.contract,
                status=args.status,
                priority=args.priority,
                building=args.building,
                assignee=args.assignee,
                origin=args.origin,
                overdue_only=args.overdue,
            )
        )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    if args.json:
        print(json.dumps([_json_row(r) for r in rows], ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("aucun ordre de travail")
        return 0
    for r in rows:
        late = "  EN RETARD" if r["overdue"] else ""
        due = f" échéance {r['due']}" if r["due"] else ""
        who = f" → {r['assignee']}" if r["assignee"] else ""
        print(
            f"n°{r['id']:<5} {r['status_label']:<9} {r['priority_label']:<8} "
            f"{r['building_code']:<16} {r['title']}{who}{due}{late}"
        )
    return 0


def _add(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        actor = acting_user(session, args.author)
        wo = _run(
            lambda: create_work_order(
                session,
                actor,
                building=args.building,
                alarm=args.alarm,
                observation=args.observation,
                obligation=args.obligation,
                title=args.title,
                description=args.description,
                equipment=args.equipment,
                assignee=args.assignee,
                due_on=cli_date(args.due),
                priority=args.priority,
                cost=args.cost,
                contract=args.contract,
            )
        )
        out = {"id": wo.id, "origin": wo.origin, "status": wo.status, "title": wo.title}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"ordre de travail n° {out['id']} créé : {out['title']}")
    return 0


def _close(args) -> int:
    report_file = None
    if args.file is not None:
        try:
            report_file = (args.file.name, args.file.read_bytes())
        except OSError as exc:
            raise CliError(f"rapport illisible : {args.file} ({exc.strerror})") from exc
    with db.session_scope(db.get_engine()) as session:
        actor = acting_user(session, args.author)
        entry = _run(
            lambda: close_work_order(
                session,
                actor,
                args.id,
                args.report,
                kind=args.kind,
                cost=args.cost,
                occurred_at=cli_date(args.date),
                report_file=report_file,
            )
        )
        wo = get_work_order(session, actor, args.id)
        out = {
            "id": wo.id,
            "status": wo.status,
            "intervention_entry_id": entry.id,
            "alarm_id": wo.alarm_id,
            "attachments": len(entry.attachments),
        }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"ordre de travail n° {out['id']} clos : intervention n° {entry.id} au carnet")
    return 0
