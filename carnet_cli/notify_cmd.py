"""`carnet notify run|list`: e-mail notifications, and the schedule `serve` and `poll` run.

This is where the record meets the contract engine: the events that need a settlement (a
building's month above its corrected target, a CUSUM that turns) are computed here, from the
frames `contract` reads, and go to the outbox with the record's own events
(`carnet.notifications`). `run_once` is what every caller runs: detect, then send what is due.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from carnet_cli.main import CliError

log = logging.getLogger("carnet.notify")


def register(sub) -> None:
    p = sub.add_parser("notify", help="avis par e-mail : détection, envoi, file d'envoi")
    nsub = p.add_subparsers(dest="notify_command", required=True)
    run = nsub.add_parser(
        "run",
        help="détecte les événements puis envoie les avis dus",
        description=(
            "Envoi par le serveur SMTP de CARNET_SMTP_URL (smtp://utilisateur:mot@hôte:port) ;"
            " sans elle, les avis restent dans la file d'envoi. Liens vers CARNET_BASE_URL."
        ),
    )
    run.add_argument("--json", action="store_true", help="bilan en JSON")
    run.add_argument(
        "--no-detect", action="store_true", help="envoie seulement ce qui attend (sans détecter)"
    )
    run.set_defaults(handler=_run)
    ls = nsub.add_parser("list", help="la file d'envoi (avis et leur état)")
    ls.add_argument("--state", choices=("pending", "sending", "sent", "failed"))
    ls.add_argument("--user", help="identifiant d'un utilisateur")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--json", action="store_true", help="sortie JSON")
    ls.set_defaults(handler=_list)


# ---------------------------------------------------------------- events needing `contract`


def contract_events(engine, now: dt.datetime, th) -> list:
    """Per contract, the season under way: a building whose month runs more than
    `th.drift_pct` above its corrected target, and a CUSUM of (target - consumption) whose
    trend turned in the last days."""
    from sqlalchemy import select

    from carnet.db import session_scope
    from carnet.frames import contract_terms
    from carnet.frames_settlement import settlement_frames
    from carnet.models import Building, Contract, ContractBuilding
    from carnet.timeutil import TZ
    from contract.inputs import settle_frames, settlement_plan
    from contract.terms import SEASON_START, ContractTerms, season_of_month

    as_of = now.astimezone(TZ).date() - dt.timedelta(days=1)
    month = as_of.strftime("%Y-%m")
    with session_scope(engine) as s:
        contracts = s.execute(select(Contract.id, Contract.code, Contract.season_start)).all()
        buildings = {
            (cid, code): (bid, name)
            for cid, code, bid, name in s.execute(
                select(
                    ContractBuilding.contract_id, Building.code, Building.id, Building.name
                ).join(Building, Building.id == ContractBuilding.building_id)
            ).all()
        }
    events = []
    for contract_id, code, season_start in contracts:
        try:
            terms = ContractTerms.from_record(contract_terms(engine, code))
            season = season_of_month(month, season_start or SEASON_START)
            data = settlement_frames(engine, settlement_plan(terms, season, as_of=as_of))
            report = settle_frames(terms, season, data, as_of=as_of)
        except (ValueError, LookupError) as exc:  # out of season, no terms yet
            log.debug("contrat %s : pas de décompte (%s)", code, exc)
            continue
        events += _drift_events(report, contract_id, code, month, as_of, th, buildings)
        events += _cusum_events(report, contract_id, code, as_of, th, buildings)
    return events


def _fr(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def _drift_events(report, contract_id, code, month, as_of, th, buildings) -> list:
    from carnet.notifications import Event

    months = report.months
    if not len(months):
        return []
    current = months[(months["month"] == month) & (months["reference_mwh_pci"] > 0)]
    current = current[current["days_missing"] < current["days"]]
    over_pct = (current["actual_mwh_pci"] / current["reference_mwh_pci"] - 1) * 100
    events = []
    for row, pct in zip(current.itertuples(), over_pct, strict=True):
        if not pct > th.drift_pct:
            continue
        building_id, name = buildings.get((contract_id, row.building_code), (None, ""))
        detail = (
            f"Contrat {code}, {name} ({row.building_code}), mois {month} au {as_of:%d/%m/%Y} :"
            f" consommation {_fr(row.actual_mwh_pci, 2)} MWh PCI pour une cible corrigée de"
            f" {_fr(row.reference_mwh_pci, 2)} MWh PCI, soit {_fr(pct, 1)} % au-dessus"
            f" (seuil {_fr(th.drift_pct, 0)} %)."
        )
        events.append(
            Event(
                "drift_month",
                f"drift_month:{contract_id}:{row.building_code}:{month}",
                f"{name} : {month} au-dessus de sa cible corrigée (+{pct:.0f} %)",
                (detail,),
                f"/batiments/{row.building_code}",
                building_id=building_id,
                contract_id=contract_id,
            )
        )
    return events


CUSUM_MIN_RUN_DAYS = 7  # a turn counts once the new trend has lasted a week


def _cusum_events(report, contract_id, code, as_of, th, buildings) -> list:
    import pandas as pd

    from carnet.notifications import Event
    from contract.cusum import cusum, turning_points

    ledger = report.ledger
    if not len(ledger):
        return []
    ledger = ledger.assign(
        actual=ledger["nc_mwh_pci"].where(~ledger["missing"]),
        building_code=ledger["building_code"].astype(str),
    )
    # a turn is seen `CUSUM_MIN_RUN_DAYS` after it happens: look that far back, and a margin
    recent = pd.Timestamp(
        as_of - dt.timedelta(days=CUSUM_MIN_RUN_DAYS + int(th.lookback_h // 24) + 1)
    )
    events = []
    for building_code, days in ledger.groupby("building_code", sort=True):
        series = cusum(days["reference_mwh_pci"], days["actual"])
        series.index = pd.DatetimeIndex(days["day"])
        turns = [t for t in turning_points(series, CUSUM_MIN_RUN_DAYS) if t >= recent]
        if not turns:
            continue
        turn = turns[-1]
        rising = series.iloc[-1] >= series.loc[turn]
        trend = "les économies reprennent" if rising else "la surconsommation commence"
        building_id, name = buildings.get((contract_id, building_code), (None, ""))
        events.append(
            Event(
                "cusum_turn",
                f"cusum_turn:{contract_id}:{building_code}:{turn:%Y-%m-%d}",
                f"{name} : le CUSUM se retourne le {turn:%d/%m/%Y}",
                (
                    f"Contrat {code}, {name} ({building_code}) : le cumul (cible corrigée"
                    f" - consommation) change de sens le {turn:%d/%m/%Y} : {trend}.",
                ),
                f"/batiments/{building_code}",
                building_id=building_id,
                contract_id=contract_id,
            )
        )
    return events


# ---------------------------------------------------------------- one run


@dataclass
class RunReport:
    detected: int = 0
    created: int = 0
    sent: int = 0  # e-mails
    failed: int = 0
    waiting: int = 0  # notices not sent yet, after the run
    smtp: str | None = None  # where mail went (no password), None = not configured


def run_once(engine, now: dt.datetime | None = None, thresholds=None, detect: bool = True):
    """Detect (record and contract events), write the outbox, send what is due."""
    from carnet import outbox
    from carnet.db import session_scope
    from carnet.mailer import Mailer, compose, smtp_settings
    from carnet.notifications import Thresholds, fan_out, record_events

    now = now or dt.datetime.now(dt.UTC)
    th = thresholds or Thresholds.from_env()
    report = RunReport()
    if detect:
        with session_scope(engine) as s:
            events = record_events(s, now, th)
        try:
            events += contract_events(engine, now, th)
        except Exception:  # the record's events still go out when a settlement fails
            log.exception("avis : détection sur les décomptes impossible")
        report.detected = len(events)
        with session_scope(engine) as s:
            report.created = outbox.enqueue(s, fan_out(s, events, now), now)
    settings = smtp_settings()
    if settings is not None:
        report.smtp = settings.describe()
        token, mails = outbox.claim(engine, now)
        with Mailer(settings) as mailer:
            for mail in mails:
                try:
                    if not mail.to:
                        raise ValueError("l'utilisateur n'a plus d'adresse e-mail")
                    mailer.send(
                        compose(
                            settings.sender,
                            mail.to,
                            mail.name,
                            mail.subject,
                            mail.body_text,
                            mail.body_html,
                            mail.message_id,
                        )
                    )
                except Exception as exc:  # server away, refused: the notice waits and retries
                    outbox.mark_failed(engine, token, mail, now, f"{type(exc).__name__}: {exc}")
                    report.failed += 1
                else:
                    outbox.mark_sent(engine, token, mail, now)
                    report.sent += 1
    with session_scope(engine) as s:
        report.waiting = outbox.waiting_count(s)
    return report


# ---------------------------------------------------------------- handlers


def _run(args) -> int:
    from carnet.db import get_engine

    try:
        report = run_once(get_engine(), detect=not args.no_detect)
    except ValueError as exc:  # an unreadable CARNET_SMTP_URL
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(asdict(report), ensure_ascii=False))
        return 0
    print(f"{report.detected} événement(s), {report.created} avis créé(s)")
    if report.smtp is None:
        print(
            f"CARNET_SMTP_URL non défini : rien n'est envoyé, {report.waiting} avis"
            " attendent dans la file d'envoi"
        )
    else:
        print(
            f"{report.sent} e-mail(s) envoyé(s) par {report.smtp}, {report.failed} échec(s)"
            f" (nouvel essai plus tard), {report.waiting} avis en attente"
        )
    return 0


def _list(args) -> int:
    from sqlalchemy import select

    from carnet import outbox
    from carnet.db import get_engine, session_scope
    from carnet.models import User

    with session_scope(get_engine()) as s:
        user_id = None
        if args.user:
            user_id = s.scalar(select(User.id).where(User.login == args.user))
            if user_id is None:
                raise CliError(f"utilisateur inconnu « {args.user} »")
        rows = outbox.list_notices(s, user_id=user_id, state=args.state, limit=args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("(file d'envoi vide)")
        return 0
    for r in rows:
        state = outbox.STATE_LABELS_FR.get(r["state"], r["state"])
        extra = (
            f" ; {r['attempts']} essai(s), dernière erreur : {r['last_error']}"
            if (r["state"] == "failed")
            else ""
        )
        print(f"{r['id']:>6}  {r['user']:<14} {r['kind']:<24} {state}{extra}  — {r['subject']}")
    return 0
