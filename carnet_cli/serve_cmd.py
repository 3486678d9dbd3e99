"""`carnet serve [--host] [--port] [--notify-every-min N]`: the dashboards on waitress, and
the e-mail notifications on a schedule beside them."""

from __future__ import annotations

from carnet_cli.notify_schedule import add_schedule_option, every_minutes, start_schedule


def register(sub) -> None:
    p = sub.add_parser("serve", help="sert les tableaux de bord (waitress)")
    p.add_argument("--host", default="127.0.0.1", help="adresse d'écoute (défaut 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (défaut 8050)")
    add_schedule_option(p)
    p.set_defaults(handler=_serve)


def _serve(args) -> int:
    from dashboards.server import serve

    minutes = every_minutes(args.notify_every_min)
    if minutes:
        from carnet.db import get_engine

        start_schedule(get_engine(), minutes)
    serve(args.host, args.port)
    return 0
