"""`carnet quarantine list|accept|reject|replace` and `carnet meter replace`.

Readings held by the plausibility checks (or waiting on a closed period) are reviewed here:
accepted, rejected, or recognised as the first index of a new meter. Each decision is signed
and audited. The command acts as the operator (`$CARNET_USER`, else the system login) with the
manager's rights unless that login is a Carnet user, whose role is then checked; `--user LOGIN`
acts as that user (capability `quarantine.review`: the manager only).
"""

from __future__ import annotations

import getpass
import json
import os
import re

import pandas as pd
from sqlalchemy import select

from carnet import db
from carnet.models import Channel, User
from carnet.quarantine import (
    STATUS_LABELS_FR,
    QuarantineError,
    declare_meter_replacement,
    fr_num,
    list_held,
    reason_label,
)
from carnet.timeutil import fr_date
from carnet_cli.main import CliError
from dashboards.fmt import fr_unit


def register(sub) -> None:
    q = sub.add_parser("quarantine", help="relevés en quarantaine : liste et décisions")
    qsub = q.add_subparsers(dest="quarantine_command", required=True)
    ls = qsub.add_parser("list", help="relevés en attente de décision (plus récents d'abord)")
    ls.add_argument("--all", action="store_true", help="aussi ceux déjà décidés")
    ls.add_argument("--limit", type=int, default=500)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)
    for name, help_ in (
        ("accept", "accepte le relevé : il est enregistré, les cumuls recalculés"),
        ("reject", "rejette le relevé : il ne sera jamais enregistré"),
        ("replace", "le relevé est le premier index d'un nouveau compteur"),
    ):
        p = qsub.add_parser(name, help=help_)
        p.add_argument("id", type=int, metavar="N", help="numéro du relevé en quarantaine")
        if name == "replace":
            _replacement_args(p)
        p.add_argument("--why", required=True, metavar="TEXTE", help="motif de la décision")
        _user_arg(p)
        p.set_defaults(handler=_decide, decision=name)

    meter = sub.add_parser("meter", help="compteurs : déclarer un changement de compteur")
    msub = meter.add_subparsers(dest="meter_command", required=True)
    rp = msub.add_parser(
        "replace",
        help="déclare un changement de compteur avant l'import du fichier qui le montre",
    )
    rp.add_argument("--channel", required=True, metavar="CODE", help="point de mesure (index)")
    rp.add_argument("--at", required=True, help="instant du changement, JJ/MM/AAAA HH:MM (Paris)")
    _replacement_args(rp)
    rp.add_argument("--why", default="changement de compteur", metavar="TEXTE")
    _user_arg(rp)
    rp.set_defaults(handler=_meter_replace)


def _replacement_args(p) -> None:
    p.add_argument("--old-final", required=True, metavar="X", help="dernier index de l'ancien")
    p.add_argument("--new-start", required=True, metavar="Y", help="index de départ du nouveau")


def _user_arg(p) -> None:
    p.add_argument("--user", metavar="LOGIN", help="agit au nom de cet utilisateur")


def _actor(login: str | None) -> str:
    """The login the decision is signed with; an explicit `--user` must exist."""
    if not login:
        return os.environ.get("CARNET_USER") or getpass.getuser()
    with db.session_scope(db.get_engine()) as session:
        if session.scalar(select(User.id).where(User.login == login)) is None:
            raise CliError(f"utilisateur inconnu « {login} »")
    return login


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def _number(text: str, what: str) -> float:
    """« 12 041,5 », « 12041.5 »: spaces group thousands, one comma or point is decimal."""
    compact = re.sub(r"[\s\u00a0\u202f]", "", text)
    if not _NUMBER.match(compact):
        raise CliError(f"{what} : nombre illisible « {text} » (ex. 12041,5)")
    return float(compact.replace(",", "."))


def _refused(exc: QuarantineError) -> CliError:
    rights = "n'a pas le droit" in str(exc)
    return CliError(str(exc), 3 if rights else 2)


def _list(args) -> int:
    frame = list_held(db.get_engine(), status=None if args.all else "held", limit=args.limit)
    if args.json:
        records = [
            {
                "id": int(r.id),
                "batch_id": _int(r.batch_id),
                "channel": r.channel_code,
                "building": r.building_code,
                "ts": int(r.ts),
                "at": r.at.isoformat(),
                "value": None if pd.isna(r.value) else float(r.value),
                "unit": r.unit,
                "file": r.file,
                "line_no": _int(r.line_no),
                "raw": r.raw,
                "reason_code": r.reason_code,
                "reason": r.reason,
                "status": r.status,
                "decided_at": None if r.decided_at is None else r.decided_at.isoformat(),
                "decided_by": r.decided_by,
                "decision_note": r.decision_note,
            }
            for r in frame.itertuples(index=False)
        ]
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return 0
    if not len(frame):
        print("aucun relevé en quarantaine" + ("" if args.all else " en attente de décision"))
        return 0
    for r in frame.itertuples(index=False):
        where = f"{r.file}, ligne {r.line_no}" if r.file and not pd.isna(r.line_no) else r.file
        status = f" [{STATUS_LABELS_FR.get(r.status, r.status)}]" if args.all else ""
        print(
            f"n° {r.id:<5} {r.channel_code:<20} {fr_date(r.at)}  {fr_num(r.value)} {fr_unit(r.unit)}"
            f"  {reason_label(r.reason_code)}{status}"
        )
        print(f"         {r.reason}")
        if where:
            print(f"         {where}")
        if args.all and r.decided_by:
            print(
                f"         décidé par {r.decided_by} le {fr_date(r.decided_at)} : {r.decision_note}"
            )
    held = int((frame["status"] == "held").sum())
    print(f"{held} relevé(s) en attente : carnet quarantine accept|reject|replace N --why TEXTE")
    return 0


def _decide(args) -> int:
    from ingest.plausibility import decide

    engine = db.get_engine()
    actor = _actor(args.user)
    try:
        replace = args.decision == "replace"
        lines = decide(
            engine,
            args.decision,
            args.id,
            actor=actor,
            why=args.why,
            old_final_value=_number(args.old_final, "--old-final") if replace else None,
            new_start_value=_number(args.new_start, "--new-start") if replace else None,
        )
    except QuarantineError as exc:
        raise _refused(exc) from exc
    print("\n".join(lines))
    return 0


def _meter_replace(args) -> int:
    from carnet.bookings import parse_local_datetime
    from ingest.plausibility import recheck_held

    engine = db.get_engine()
    actor = _actor(args.user)
    try:
        at = parse_local_datetime(args.at)
        summary = declare_meter_replacement(
            engine,
            args.channel,
            at,
            actor=actor,
            old_final_value=_number(args.old_final, "--old-final"),
            new_start_value=_number(args.new_start, "--new-start"),
            why=args.why,
        )
    except QuarantineError as exc:
        raise _refused(exc) from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(summary + " : le prochain import compare les relevés du nouveau compteur à son index.")
    # readings of that channel already held for the drop it explains
    channel = _channel_id(args.channel)
    for line in recheck_held(
        engine,
        channel,
        actor=actor,
        after_ts=int(at.timestamp()) - 1,
        why=f"plausible après le changement de compteur déclaré le {fr_date(at)}",
    ):
        print(line)
    return 0


def _channel_id(code: str) -> int:
    with db.session_scope(db.get_engine()) as session:
        return int(session.scalar(select(Channel.id).where(Channel.code == code)))


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
