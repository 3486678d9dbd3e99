"""`carnet demo [--no-serve] [--no-live] [--force] [--seed N] [--host] [--port]`: the demo town.

Builds the demo database when it is empty (or from scratch with --force), prints the address
and the demo logins, then serves the dashboards while its boiler controllers keep reporting
(simulated gateways on loopback read by the real poller, `carnet_cli.demo.live`; --no-live
serves without them).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from carnet import db
from carnet.config import database_url
from carnet.roles import ROLE_LABELS_FR
from carnet_cli.main import CliError

# the live demo reads every minute and writes every 5 minutes (each write renews the figures'
# data version: not more often than needed), well within the devices page's 30 minutes
LIVE_POLL_S, LIVE_FLUSH_S = 60.0, 300.0


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="construit la commune de démonstration si la base est vide, puis la sert",
    )
    p.add_argument("--no-serve", action="store_true", help="construit sans servir")
    p.add_argument(
        "--no-live",
        action="store_true",
        help="sert sans les passerelles Modbus simulées (les équipements cessent de répondre)",
    )
    p.add_argument(
        "--force", action="store_true", help="efface la base et reconstruit la démonstration"
    )
    p.add_argument("--seed", type=int, default=42, help="graine du générateur (défaut 42)")
    p.add_argument("--host", default="127.0.0.1", help="adresse d'écoute (défaut 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (défaut 8050)")
    p.set_defaults(handler=_demo)


def _wipe(url: str) -> None:
    """Start from an empty database: the SQLite file is removed, a server database emptied."""
    db.reset_engines()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        return
    from carnet.models import Base

    engine = db.make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def _demo(args) -> int:
    from carnet_cli.demo.scenario import demo_passwords, load_demo_portfolio
    from carnet_cli.demo.town import build_demo, existing_demo, interrupted_demo

    url = database_url()
    if args.force:
        _wipe(url)
    engine = db.get_engine(url)
    portfolio = load_demo_portfolio()
    if existing_demo(engine):
        if interrupted_demo(engine):
            raise CliError(
                "une construction précédente de la démonstration a été interrompue :"
                " relancez avec --force",
                1,
            )
        print(
            "La base contient déjà des bâtiments : démonstration non reconstruite"
            " (--force pour repartir de zéro)."
        )
    else:
        print("Construction de la commune de démonstration…", flush=True)
        try:
            summary = build_demo(engine, seed=args.seed)
        except Exception as exc:  # the build is one operation for the user
            raise CliError(f"construction de la démonstration impossible : {exc}", 1) from exc
        seasons = ", ".join(f"{s} : {v:.0f}" for s, v in summary["dju_by_season"].items())
        readings = f"{summary['readings']:,}".replace(",", "\u202f")
        print(
            f"{summary['buildings']} bâtiments, {summary['channels']} points de mesure,"
            f" {readings} relevés, {summary['bookings']} réservations,"
            f" {summary['logbook_entries']} entrées de carnet, {summary['obligations']}"
            f" obligations en {summary['seconds']:.0f} s."
        )
        print(f"DJU (COSTIC, base 18 °C, Lille-Lesquin) par saison : {seasons}")
    print(f"Base : {engine.url.render_as_string()}")
    print(f"Adresse : http://{_display_host(args.host)}:{args.port}/")
    print("Comptes de démonstration (identifiant / mot de passe / rôle) :")
    passwords = demo_passwords(portfolio)
    for user in portfolio["users"]:
        role = ROLE_LABELS_FR.get(user["role"], user["role"])
        print(f"  {user['login']:<14} {passwords[user['login']]:<20} {role}")
    if args.no_serve:
        return 0
    try:
        from dashboards.server import serve
    except ImportError as exc:
        raise CliError(f"tableaux de bord indisponibles ({exc})", 1) from exc
    live = None if args.no_live else _start_live(engine, url)
    try:
        serve(args.host, args.port)
    finally:
        if live is not None:
            live.stop()
    return 0


def _start_live(engine, url: str):
    """The simulated gateways and the poller in the background; the demo is served without
    them (and says so) if they cannot start."""
    import logging

    from carnet_cli.demo.live import LiveDemo

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # we report silent devices ourselves
    try:
        live = LiveDemo(engine, url, poll_s=LIVE_POLL_S, flush_s=LIVE_FLUSH_S).start()
    except Exception as exc:
        print(f"Relève simulée indisponible ({exc}) : les équipements ne répondront plus.")
        return None
    print(
        f"Relève simulée : {len(live.controllers)} régulateur(s) de chaudière interrogé(s)"
        f" toutes les {LIVE_POLL_S:.0f} s (passerelles Modbus sur 127.0.0.1)."
    )
    return live


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
