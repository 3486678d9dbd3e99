"""`carnet rex add|list|show|account|lessons|decision|done|close`: the retours d'expérience
from a shell.

As with `carnet log`, without `--author` the command acts as the operator (full rights);
with `--author LOGIN` it acts, and sees, as that user under its role and scope.
"""

from __future__ import annotations

import json

from carnet import db
from carnet.access import CarnetPermissionError
from carnet.rex import (
    RexError,
    add_decision,
    close_rex,
    complete_decision,
    decision_to_obligation,
    decision_to_work,
    link,
    open_rex,
    record_lessons,
    rex_detail,
    rex_frame,
    write_account,
)
from carnet_cli.acting import acting_user, cli_date
from carnet_cli.main import CliError

AUTHOR_HELP = "agit (et voit) au nom de cet utilisateur"


def register(sub) -> None:
    rex = sub.add_parser("rex", help="retours d'expérience sur les incidents")
    rsub = rex.add_subparsers(dest="rex_command", required=True)

    add = rsub.add_parser("add", help="ouvre un retour d'expérience sur un incident")
    add.add_argument("--building", required=True, metavar="CODE")
    add.add_argument("--title", required=True)
    add.add_argument("--text", required=True, help="ce qui s'est passé, en quelques lignes")
    add.add_argument(
        "--date", help="date de l'incident AAAA-MM-JJ ou JJ/MM/AAAA (défaut : ce jour)"
    )
    add.add_argument(
        "--entry",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="entrée du carnet liée (alarme, signalement, intervention) ; répétable",
    )
    add.add_argument("--booking", type=int, action="append", default=[], metavar="ID",
                     help="réservation liée (celle restée froide) ; répétable")  # fmt: skip
    add.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_add)

    ls = rsub.add_parser("list", help="liste les retours d'expérience (incident récent d'abord)")
    ls.add_argument("--building", metavar="CODE")
    ls.add_argument("--open", action="store_true", help="ouverts, ou avec une décision à faire")
    ls.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    show = rsub.add_parser("show", help="un retour d'expérience : liens, récits, décisions")
    show.add_argument("id", type=int)
    show.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    lk = rsub.add_parser("link", help="relie d'autres entrées ou réservations de l'incident")
    lk.add_argument("id", type=int)
    lk.add_argument("--entry", type=int, action="append", default=[], metavar="ID")
    lk.add_argument("--booking", type=int, action="append", default=[], metavar="ID")
    lk.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    lk.set_defaults(handler=_link)

    acc = rsub.add_parser("account", help="écrit (ou réécrit) son récit de l'incident")
    acc.add_argument("id", type=int)
    acc.add_argument("--text", required=True)
    acc.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    acc.set_defaults(handler=_account)

    les = rsub.add_parser("lessons", help="consigne ce qui a été appris")
    les.add_argument("id", type=int)
    les.add_argument("--text", required=True)
    les.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    les.set_defaults(handler=_lessons)

    dec = rsub.add_parser("decision", help="consigne une décision : qui, pour quand")
    dec.add_argument("id", type=int)
    dec.add_argument("--text", required=True)
    dec.add_argument("--owner", required=True, help="qui la porte (identifiant ou service)")
    dec.add_argument("--due", metavar="DATE", help="pour quand")
    follow = dec.add_mutually_exclusive_group()
    follow.add_argument(
        "--obligation-months",
        type=int,
        metavar="N",
        help="en fait une obligation du bâtiment, tous les N mois",
    )
    follow.add_argument("--work", action="store_true",
                        help="en fait un ordre de travail du bâtiment")  # fmt: skip
    dec.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    dec.add_argument("--json", action="store_true")
    dec.set_defaults(handler=_decision)

    done = rsub.add_parser("done", help="une décision est faite")
    done.add_argument("decision_id", type=int)
    done.add_argument("--date", help="faite le (défaut : ce jour)")
    done.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    done.set_defaults(handler=_done)

    close = rsub.add_parser("close", help="clôt un retour d'expérience dont tout est fait")
    close.add_argument("id", type=int)
    close.add_argument("--author", metavar="LOGIN", help=AUTHOR_HELP)
    close.set_defaults(handler=_close)


def _run(args, action):
    """`action(session, actor)` in one transaction, the service's errors as CLI errors (3 for
    a refusal, as `carnet log`)."""
    with db.session_scope(db.get_engine()) as session:
        try:
            return action(session, acting_user(session, args.author))
        except CarnetPermissionError as exc:
            raise CliError(str(exc), 3) from exc
        except (LookupError, RexError, ValueError) as exc:
            raise CliError(str(exc).strip("'\"")) from exc


def _add(args) -> int:
    def action(session, actor):
        rex = open_rex(
            session, actor, args.building, args.title, args.text, occurred_on=cli_date(args.date),
            entries=args.entry, bookings=args.booking,
        )  # fmt: skip
        return {"id": rex.id, "building": args.building, "title": rex.title,
                "occurred_on": rex.occurred_on.isoformat(), "status": rex.status,
                "author": rex.author_login}  # fmt: skip

    out = _run(args, action)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"retour d'expérience n° {out['id']} ouvert sur {args.building} : {out['title']}")
    return 0


def _list(args) -> int:
    frame = _run(
        args, lambda s, actor: rex_frame(s, actor, args.building or None, open_only=args.open)
    )
    if args.json:
        rows = [
            {
                "id": int(r["id"]),
                "building": r["building_code"],
                "title": r["title"],
                "occurred_on": r["occurred_on"].isoformat(),
                "status": r["status"],
                "author": r["author_login"],
                "summary": r["summary"],
                "lessons": r["lessons"],
                "links": int(r["links"]),
                "accounts": int(r["accounts"]),
                "decisions_open": int(r["decisions_open"]),
                "decisions_done": int(r["decisions_done"]),
            }
            for r in frame.astype(object).to_dict("records")
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if frame.empty:
        print("aucun retour d'expérience")
        return 0
    for r in frame.itertuples():
        print(
            f"{r.date}  n°{r.id:<4} {r.building_code:<10} {r.status_label:<7} {r.title}"
            f"  ({r.accounts} récit(s), {r.decisions_open} décision(s) à faire)"
        )
    return 0


def _show(args) -> int:
    detail = _run(args, lambda s, actor: rex_detail(s, actor, args.id))
    if args.json:
        print(json.dumps(detail, ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"Retour d'expérience n° {detail['id']} — {detail['building_code']} — {detail['date']}")
    print(f"{detail['title']} ({detail['status_label']})\n{detail['summary']}")
    for item in detail["links"]:
        print(f"  lié : {item['date']} {item['label']} n° {item['id']} : {item['text']}")
    for a in detail["accounts"]:
        print(f"  récit de {a['author_name']} ({a['role_label']}) : {a['text']}")
    if detail["lessons"]:
        print(f"  appris : {detail['lessons']}")
    for d in detail["decisions"]:
        print(f"  décision n° {d['id']} [{d['status_label']}] {d['text']} — {d['owner']}"
              + (f", pour le {d['due']}" if d["due"] else ""))  # fmt: skip
    return 0


def _link(args) -> int:
    made = _run(args, lambda s, actor: link(s, actor, args.id, entries=args.entry,
                                            bookings=args.booking))  # fmt: skip
    print(f"{len(made)} lien(s) ajouté(s) au retour d'expérience n° {args.id}")
    return 0


def _account(args) -> int:
    account = _run(args, lambda s, actor: write_account(s, actor, args.id, args.text).author_login)
    print(f"récit de {account} enregistré (retour d'expérience n° {args.id})")
    return 0


def _lessons(args) -> int:
    _run(args, lambda s, actor: record_lessons(s, actor, args.id, args.text))
    print(f"enseignements enregistrés (retour d'expérience n° {args.id})")
    return 0


def _decision(args) -> int:
    def action(session, actor):
        decision = add_decision(session, actor, args.id, args.text, args.owner, cli_date(args.due))
        if args.obligation_months:
            decision_to_obligation(session, actor, decision.id, months=args.obligation_months)
        if args.work:
            decision_to_work(session, actor, decision.id)
        return {"id": decision.id, "rex_id": decision.rex_id, "status": decision.status,
                "owner": decision.owner,
                "due_on": decision.due_on.isoformat() if decision.due_on else None,
                "obligation_id": decision.obligation_id,
                "work_order_id": decision.work_order_id}  # fmt: skip

    out = _run(args, action)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"décision n° {out['id']} consignée (retour d'expérience n° {args.id})")
    return 0


def _done(args) -> int:
    _run(args, lambda s, actor: complete_decision(s, actor, args.decision_id, cli_date(args.date)))
    print(f"décision n° {args.decision_id} faite")
    return 0


def _close(args) -> int:
    _run(args, lambda s, actor: close_rex(s, actor, args.id))
    print(f"retour d'expérience n° {args.id} clos")
    return 0
