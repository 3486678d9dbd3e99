"""`carnet log add|list` and `carnet obligations [apply]`: the carnet de santé from a shell.

Without `--author`, the command acts as the operator (full rights: whoever runs the CLI already
holds the database); with `--author LOGIN` it acts as that user, under that user's role rules.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from carnet import db
from carnet.access import CarnetPermissionError
from carnet.logbook import add_entry
from carnet.logbook_refs import LogbookError, resolve_building
from carnet.logbook_timeline import timeline
from carnet.models import LOG_KINDS, LOG_STATUSES, Building
from carnet.obligations import (
    TO_FILL_FR,
    apply_templates,
    edit_obligation,
    obligations_frame,
    to_fill_text,
)
from carnet.timeutil import TZ, fr_date, parse_local_date
from carnet_cli.acting import acting_user, operator
from carnet_cli.main import CliError


def register(sub) -> None:
    log = sub.add_parser("log", help="carnet de santé : journal des interventions et observations")
    lsub = log.add_subparsers(dest="log_command", required=True)
    add = lsub.add_parser("add", help="ajoute une entrée au carnet d'un bâtiment")
    add.add_argument("--building", required=True, metavar="CODE")
    add.add_argument("--kind", required=True, choices=LOG_KINDS)
    add.add_argument("--text", required=True)
    add.add_argument("--equipment", metavar="CODE")
    add.add_argument("--room", metavar="CODE")
    add.add_argument("--author", metavar="LOGIN", help="agit au nom de cet utilisateur")
    add.add_argument("--date", help="date locale AAAA-MM-JJ ou JJ/MM/AAAA[ HH:MM]")
    add.add_argument("--cost", help="coût en euros, ex. « 1 234,56 »")
    add.add_argument("--status", choices=LOG_STATUSES)
    add.add_argument("--obligation", type=int, metavar="ID", help="obligation accomplie")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_add)
    ls = lsub.add_parser("list", help="liste le carnet d'un bâtiment (plus récent d'abord)")
    ls.add_argument("--building", required=True, metavar="CODE")
    ls.add_argument("--kind", choices=LOG_KINDS)
    ls.add_argument("--equipment", metavar="CODE")
    ls.add_argument("--author", metavar="LOGIN")
    ls.add_argument("--from", dest="date_from", metavar="DATE")
    ls.add_argument("--to", dest="date_to", metavar="DATE")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    ob = sub.add_parser("obligations", help="obligations réglementaires (échéances, retards)")
    ob.add_argument("--overdue", action="store_true", help="seulement celles en retard")
    ob.add_argument("--building", metavar="CODE")
    ob.add_argument("--json", action="store_true")
    ob.set_defaults(handler=_obligations)
    osub = ob.add_subparsers(dest="obligations_command", required=False)
    ap = osub.add_parser("apply", help="dérive les obligations des équipements (idempotent)")
    ap.add_argument("--building", dest="apply_building", metavar="CODE")
    ap.add_argument("--json", dest="apply_json", action="store_true")
    ap.set_defaults(handler=_apply)
    st = osub.add_parser("set", help="adapte une obligation (périodicité, dernière réalisation…)")
    st.add_argument("id", type=int)
    period = st.add_mutually_exclusive_group()
    period.add_argument("--months", type=int)
    period.add_argument("--days", type=int)
    st.add_argument("--last-done", metavar="DATE")
    st.add_argument("--next-due", metavar="DATE")
    on_off = st.add_mutually_exclusive_group()
    on_off.add_argument("--active", dest="set_active", action="store_const", const=True)
    on_off.add_argument("--inactive", dest="set_active", action="store_const", const=False)
    st.add_argument("--notes")
    st.set_defaults(handler=_set)


def _parse_when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=TZ)
        except ValueError:
            continue
    try:
        day = parse_local_date(text)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=TZ)


def _add(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        actor = acting_user(session, args.author)
        try:
            entry = add_entry(
                session,
                actor,
                args.building,
                args.kind,
                args.text,
                equipment=args.equipment,
                room=args.room,
                occurred_at=_parse_when(args.date),
                cost=args.cost,
                status=args.status,
                obligation=args.obligation,
            )
        except CarnetPermissionError as exc:
            raise CliError(str(exc), 3) from exc
        except (LookupError, LogbookError) as exc:
            raise CliError(str(exc).strip("'\"")) from exc
        out = {
            "id": entry.id,
            "building": args.building,
            "kind": entry.kind,
            "status": entry.status,
            "author": entry.author_login,
            "occurred_at": entry.occurred_at.isoformat(),
        }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"entrée n° {out['id']} ajoutée au carnet de {args.building} ({out['kind']})")
    return 0


def _list(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        try:
            frame = timeline(
                session,
                operator(),
                args.building,
                kind=args.kind,
                equipment=args.equipment,
                author=args.author,
                date_from=parse_local_date(args.date_from) if args.date_from else None,
                date_to=parse_local_date(args.date_to) if args.date_to else None,
            )
        except LookupError as exc:
            raise CliError(str(exc).strip("'\"")) from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    if args.json:
        rows = []
        for r in frame.astype(object).to_dict("records"):
            rows.append(
                {
                    "id": int(r["id"]),
                    "occurred_at": r["occurred_at"].isoformat(),
                    "kind": r["kind"],
                    "status": r["status"],
                    "author": r["author_login"],
                    "equipment": _none(r["equipment_code"]),
                    "room": _none(r["room_code"]),
                    "title": _none(r["title"]),
                    "text": r["text"],
                    "cost_cents": _none(r["cost_cents"]),
                    "answer": _none(r["answer"]),
                    "merged_into_id": _none(r["merged_into_id"]),
                    "attachments": int(r["attachments"]),
                }
            )
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if frame.empty:
        print(f"carnet de {args.building} : aucune entrée")
        return 0
    for r in frame.itertuples():
        eq = f" [{r.equipment_code}]" if isinstance(r.equipment_code, str) else ""
        cost = f" {r.cost}" if r.cost else ""
        print(
            f"{r.date}  n°{r.id:<5} {r.kind_label:<24} {r.status_label:<9} {r.author_login}{eq}{cost}"
        )
        print(f"      {r.text}")
        if isinstance(r.answer, str) and r.answer:
            print(f"      réponse : {r.answer}")
    return 0


def _none(value):
    try:
        import pandas as pd

        if value is None or pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return int(value) if hasattr(value, "item") and not isinstance(value, str) else value


def _obligations(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        building = None
        if args.building:
            try:
                building = resolve_building(session, args.building)
            except LookupError as exc:
                raise CliError(str(exc).strip("'\"")) from exc
        frame = obligations_frame(session, operator(), building=building, overdue_only=args.overdue)
    if args.json:
        rows = [
            {
                "id": int(r["id"]),
                "building": r["building_code"],
                "equipment": _none(r["equipment_code"]),
                "template": _none(r["template"]),
                "label": r["label"],
                "periodicity_months": _none(r["periodicity_months"]),
                "periodicity_days": _none(r["periodicity_days"]),
                "last_done_on": r["last_done_on"].isoformat() if _none(r["last_done_on"]) else None,
                "next_due_on": r["next_due_on"].isoformat() if _none(r["next_due_on"]) else None,
                "days_overdue": _none(r["days_overdue"]),
                "overdue": bool(r["overdue"]),
                "to_fill": bool(r["to_fill"]),
                "reference": _none(r["reference"]),
            }
            for r in frame.astype(object).to_dict("records")
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if frame.empty:
        print("aucune obligation en retard" if args.overdue else "aucune obligation")
        return 0
    for r in frame.itertuples():
        if r.to_fill:  # never recorded done: ask for the date, not a count of days late
            ref = r.reference if isinstance(r.reference, str) else None
            print(f"{TO_FILL_FR:<10}  {r.building_code:<16} {r.label}  {to_fill_text(ref)}")
            continue
        late = f"  EN RETARD de {r.days_overdue} j" if r.overdue else ""
        print(f"{fr_date(r.next_due_on):<10}  {r.building_code:<16} {r.label}{late}")
    return 0


def _apply(args) -> int:
    with db.session_scope(db.get_engine()) as session:
        stmt = select(Building).order_by(Building.code)
        if args.apply_building:
            stmt = stmt.where(Building.code == args.apply_building)
        buildings = session.scalars(stmt).all()
        if args.apply_building and not buildings:
            raise CliError(f"bâtiment inconnu « {args.apply_building} »")
        report = {}
        for b in buildings:
            created = apply_templates(session, b, operator())
            report[b.code] = [o.label for o in created]
    if args.apply_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        total = sum(len(v) for v in report.values())
        for code, labels in report.items():
            for label in labels:
                print(f"{code:<16} + {label}")
        print(f"{total} obligation(s) créée(s) sur {len(report)} bâtiment(s)")
    return 0


def _set(args) -> int:
    changes: dict = {}
    try:
        if args.months:
            changes |= {"periodicity_months": args.months, "periodicity_days": None}
        if args.days:
            changes |= {"periodicity_days": args.days, "periodicity_months": None}
        if args.last_done:
            changes["last_done_on"] = parse_local_date(args.last_done)
        if args.next_due:
            changes["next_due_on"] = parse_local_date(args.next_due)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.set_active is not None:
        changes["active"] = args.set_active
    if args.notes is not None:
        changes["notes"] = args.notes
    if not changes:
        raise CliError("rien à modifier")
    with db.session_scope(db.get_engine()) as session:
        try:
            ob = edit_obligation(session, operator(), args.id, **changes)
        except LookupError as exc:
            raise CliError(str(exc).strip("'\"")) from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        print(f"obligation n° {ob.id} : prochaine échéance {fr_date(ob.next_due_on)}")
    return 0
