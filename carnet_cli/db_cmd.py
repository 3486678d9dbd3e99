"""`carnet db upgrade|current`: the schema migrations."""

from __future__ import annotations

from carnet import db
from carnet.config import database_url


def register(sub) -> None:
    p = sub.add_parser("db", help="base de données : migrations")
    dsub = p.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="applique les migrations (jusqu'à la dernière)")
    up.add_argument("--revision", default="head")
    up.set_defaults(handler=_upgrade)
    cur = dsub.add_parser("current", help="affiche la révision du schéma")
    cur.set_defaults(handler=_current)


def _upgrade(args) -> int:
    engine = db.make_engine(database_url())
    db.upgrade(engine, args.revision)
    print(f"schéma à jour ({db.current_revision(engine)}) : {engine.url.render_as_string()}")
    return 0


def _current(args) -> int:
    engine = db.make_engine(database_url())
    print(db.current_revision(engine) or "(vide)")
    return 0
