"""`carnet serve [--host] [--port]`: the dashboards on waitress."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("serve", help="sert les tableaux de bord (waitress)")
    p.add_argument("--host", default="127.0.0.1", help="adresse d'écoute (défaut 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (défaut 8050)")
    p.set_defaults(handler=_serve)


def _serve(args) -> int:
    from dashboards.server import serve

    serve(args.host, args.port)
    return 0
