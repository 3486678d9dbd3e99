"""`carnet booking ...`, `carnet ical token ...` and `carnet comfort`: bookings with heating notes,
their iCal feeds, and the comfort actually delivered.

The command line acts as the manager unless `--user LOGIN` names a user, whose role is then
checked by the services like on the pages.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from sqlalchemy import select

from carnet.bookings import (
    STATUS_LABELS_FR,
    Actor,
    BookingConflict,
    BookingError,
    booking_dict,
    cancel_booking,
    create_booking,
    create_series,
    list_bookings,
    localize,
    parse_local_datetime,
)
from carnet.db import get_engine, session_scope
from carnet.ical import IcalError, feed_path, set_contract_token, set_room_token
from carnet.models import BOOKING_STATUSES, User
from carnet.roles import MANAGER, can
from carnet.timeutil import TZ, fr_date, parse_local_date
from carnet_cli.main import CliError

EXIT_PARTIAL = 1  # a series created, some occurrences refused
EXIT_CONFLICT = 3  # refused: the slot is taken
CLI_ACTOR = Actor("cli", MANAGER)


def register(sub) -> None:
    booking = sub.add_parser("booking", help="réservations de salles et notes de chauffage")
    bsub = booking.add_subparsers(dest="booking_command", metavar="ACTION")

    add = bsub.add_parser("add", help="réserver une salle (ou une série hebdomadaire)")
    add.add_argument("--room", required=True, help="code de la salle")
    add.add_argument("--start", required=True, help="début, heure de Paris (AAAA-MM-JJTHH:MM)")
    add.add_argument("--end", required=True, help="fin, heure de Paris")
    add.add_argument("--setpoint", type=float, help="consigne de chauffage (°C)")
    add.add_argument("--preheat", type=int, help="préchauffage (minutes)")
    add.add_argument("--note", help="note de chauffage (texte libre)")
    add.add_argument("--title", default="Réservation", help="titre")
    add.add_argument("--organiser", help="organisateur")
    add.add_argument("--attendance", type=int, help="effectif attendu")
    add.add_argument("--status", default="confirmed", choices=BOOKING_STATUSES)
    add.add_argument("--weekly-until", help="répéter chaque semaine jusqu'à cette date incluse")
    add.add_argument(
        "--except",
        dest="except_dates",
        nargs="*",
        default=[],
        metavar="DATE",
        help="dates de la série à sauter",
    )
    _user_arg(add)
    add.set_defaults(handler=cmd_add)

    lst = bsub.add_parser("list", help="lister les réservations")
    lst.add_argument("--room", help="code de la salle")
    lst.add_argument("--from", dest="date_from", help="à partir de cette date (incluse)")
    lst.add_argument("--to", dest="date_to", help="jusqu'à cette date (incluse)")
    lst.add_argument("--json", action="store_true", help="sortie JSON")
    _user_arg(lst)
    lst.set_defaults(handler=cmd_list)

    cancel = bsub.add_parser("cancel", help="annuler une réservation")
    cancel.add_argument("id", type=int, help="numéro de la réservation")
    cancel.add_argument("--reason", help="motif")
    _user_arg(cancel)
    cancel.set_defaults(handler=cmd_cancel)
    booking.set_defaults(handler=lambda args: _help(booking))

    ical = sub.add_parser("ical", help="flux iCal du planning de chauffage")
    isub = ical.add_subparsers(dest="ical_command", metavar="ACTION")
    token = isub.add_parser("token", help="créer, renouveler ou révoquer le jeton secret d'un flux")
    which = token.add_mutually_exclusive_group(required=True)
    which.add_argument("--contract", help="code du contrat (toutes ses salles)")
    which.add_argument("--room", help="code de la salle")
    token.add_argument("--revoke", action="store_true", help="révoquer : l'URL ne répond plus")
    _user_arg(token)
    token.set_defaults(handler=cmd_token)
    ical.set_defaults(handler=lambda args: _help(ical))

    comfort = sub.add_parser("comfort", help="confort délivré pendant les réservations, par mois")
    comfort.add_argument("--month", help="mois AAAA-MM (par défaut : le dernier mois complet)")
    comfort.add_argument("--contract", help="les seuls bâtiments de ce contrat")
    comfort.add_argument(
        "--tolerance", type=float, default=1.0, help="tolérance sous la consigne (°C, défaut 1)"
    )
    comfort.add_argument("--json", action="store_true", help="sortie JSON")
    _user_arg(comfort)
    comfort.set_defaults(handler=cmd_comfort)


def _help(parser) -> int:
    parser.print_help()
    return 2


def _user_arg(parser) -> None:
    parser.add_argument("--user", help="agir en tant que cet utilisateur (rôle vérifié)")


def _actor(session, login: str | None) -> Actor:
    if not login:
        return CLI_ACTOR
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    if user is None:
        raise CliError(f"utilisateur inconnu ou inactif « {login} »")
    return Actor(user.login, user.role, user.contract_id)


def _date(text: str, what: str) -> dt.date:
    try:
        return parse_local_date(text)
    except ValueError as exc:
        raise CliError(f"{what} : {exc}") from exc


def cmd_add(args) -> int:
    engine = get_engine()
    try:
        start = parse_local_datetime(args.start)
        end = parse_local_datetime(args.end)
        fields = {
            "organiser": args.organiser,
            "attendance": args.attendance,
            "status": args.status,
            "setpoint_c": args.setpoint,
            "preheat_min": args.preheat,
            "heating_note": args.note,
        }
        with session_scope(engine) as session:
            actor = _actor(session, args.user)
            if args.weekly_until:
                until = _date(args.weekly_until, "--weekly-until")
                skip = {_date(d, "--except") for d in args.except_dates}
                report = create_series(
                    session, actor, args.room, args.title, start, end, until, skip, **fields
                )
                print(f"Série n° {report.series_id or '-'} ({args.room}) : {report.summary_fr()}")
                for b in report.created:
                    print(f"  n° {b.id} : {fr_date(b.starts_at)} – {fr_date(b.ends_at)}")
                if not report.created:
                    return EXIT_CONFLICT if report.conflicts else 1
                return EXIT_PARTIAL if report.conflicts else 0
            if args.except_dates:
                raise CliError("--except n'a de sens qu'avec --weekly-until")
            booking = create_booking(session, actor, args.room, args.title, start, end, **fields)
            print(
                f"Réservation n° {booking.id} créée : « {booking.title} », salle {args.room}, "
                f"du {fr_date(booking.starts_at)} au {fr_date(booking.ends_at)}"
                + _heating_text(booking)
            )
    except BookingConflict as exc:
        raise CliError(f"réservation refusée : {exc}", EXIT_CONFLICT) from exc
    except BookingError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _heating_text(booking) -> str:
    if booking.setpoint_c is None:
        return ""
    pre = f", préchauffage {booking.preheat_min} min" if booking.preheat_min else ""
    return f" ; chauffage {booking.setpoint_c:g} °C{pre}"


def cmd_list(args) -> int:
    engine = get_engine()
    start = end = None
    if args.date_from:
        start = localize(dt.datetime.combine(_date(args.date_from, "--from"), dt.time()))
    if args.date_to:
        day = _date(args.date_to, "--to") + dt.timedelta(days=1)
        end = localize(dt.datetime.combine(day, dt.time()))
    try:
        with session_scope(engine) as session:
            actor = _actor(session, args.user)
            rows = [
                booking_dict(b)
                for b in list_bookings(session, actor, room=args.room, start=start, end=end)
            ]
    except BookingError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("Aucune réservation.")
        return 0
    print("n°\tsalle\tdébut\tfin\tstatut\tconsigne\tpréchauffage\ttitre")
    for r in rows:
        s = dt.datetime.fromisoformat(r["start"]).astimezone(TZ)
        e = dt.datetime.fromisoformat(r["end"]).astimezone(TZ)
        setpoint = "" if r["setpoint_c"] is None else f"{r['setpoint_c']:g} °C"
        preheat = "" if r["preheat_min"] is None else f"{r['preheat_min']} min"
        print(
            f"{r['id']}\t{r['room']}\t{s:%d/%m/%Y %H:%M}\t{e:%d/%m/%Y %H:%M}\t{STATUS_LABELS_FR[r['status']]}"
            f"\t{setpoint}\t{preheat}\t{r['title']}"
        )
    return 0


def cmd_cancel(args) -> int:
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            booking = cancel_booking(session, _actor(session, args.user), args.id, args.reason)
            print(f"Réservation n° {booking.id} « {booking.title} » annulée.")
    except BookingError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_token(args) -> int:
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            actor = _actor(session, args.user)
            if args.contract:
                token = set_contract_token(session, actor, args.contract, args.revoke)
                what = f"du contrat {args.contract}"
            else:
                token = set_room_token(session, actor, args.room, args.revoke)
                what = f"de la salle {args.room}"
    except (BookingError, IcalError) as exc:
        raise CliError(str(exc)) from exc
    if token is None:
        print(f"Flux iCal {what} révoqué : l'ancienne adresse ne répond plus.")
    else:
        print(f"Nouveau flux iCal {what} (l'ancienne adresse ne répond plus) :")
        print(feed_path(token))
    return 0


def cmd_comfort(args) -> int:
    from carnet.access import scope_of
    from carnet.frames_comfort import comfort_frames, contract_building_ids
    from contract.calendar import month_bounds
    from contract.comfort import DEFAULT_MAX_GAP_S
    from contract.comfort_report import comfort_report
    from contract.default_periods import last_complete_month

    engine = get_engine()
    now = dt.datetime.now(dt.UTC)
    month = args.month or last_complete_month(now.astimezone(TZ).date())
    try:
        day_from, day_to = month_bounds(month)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    with session_scope(engine) as session:
        actor = _actor(session, args.user)
        if not can(actor.role, "comfort.view"):
            raise CliError(f"action refusée : le rôle « {actor.role} » ne voit pas le confort")
        scope = scope_of(session, actor).building_filter
    if args.contract:
        try:
            wanted = contract_building_ids(engine, args.contract)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        scope = wanted if scope is None else scope & wanted
    frames = comfort_frames(engine, day_from, day_to, scope, DEFAULT_MAX_GAP_S)
    report = comfort_report(frames, now, tolerance_below_c=args.tolerance)
    if args.json:
        out = {
            "month": month,
            "tolerance_c": args.tolerance,
            "rooms": _records(report.rooms),
            "buildings": _records(report.buildings),
            "bookings": _records(report.bookings),
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"Confort délivré, {month} (tolérance {args.tolerance:g} °C sous la consigne)")
    if not len(report.rooms) and not len(report.buildings):
        print("Aucune réservation passée avec consigne et sonde, ni consommation, sur ce mois.")
        return 0
    print("\nPar salle :")
    print(
        "salle\tréservations\theures\tdans la tolérance\tretards\tretard moyen (min)\técart max (°C)"
    )
    for r in report.rooms.itertuples():
        print(
            f"{r.room}\t{r.bookings}\t{_fr(r.booked_h, 1)}\t{_pct(r.share_ok)}\t{r.late_bookings}"
            f"\t{_fr(r.mean_minutes_late, 0)}\t{_fr(r.max_shortfall_c, 1)}"
        )
    print("\nPar bâtiment :")
    print(
        "bâtiment\tréservations\tdans la tolérance\tchauffage (kWh)\thors usage (kWh)\thors usage (%)"
    )
    for r in report.buildings.itertuples():
        print(
            f"{r.building}\t{r.bookings}\t{_pct(r.share_ok)}\t{_fr(r.energy_kwh, 0)}"
            f"\t{_fr(r.energy_outside_kwh, 0)}\t{_pct(r.share_outside)}"
        )
    return 0


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _fr(value, digits: int) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}".replace(".", ",")


def _pct(value) -> str:
    if value is None or value != value:
        return "-"
    return f"{100 * value:.0f} %".replace(".", ",")
