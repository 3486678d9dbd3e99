"""Scratch databases of the benchmarks: a new SQLite file, or a new database on the PostgreSQL
server of `--database-url` / `CARNET_TEST_DATABASE_URL`, dropped afterwards (never the server's
own databases: a benchmark must not touch data it did not create)."""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text


def add_database_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--database-url",
        default=None,
        help="serveur PostgreSQL (base de travail créée puis supprimée) ; défaut :"
        " CARNET_TEST_DATABASE_URL si --postgres, sinon SQLite",
    )
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL de CARNET_TEST_DATABASE_URL plutôt que SQLite",
    )


def server_url(args: argparse.Namespace) -> str | None:
    """The PostgreSQL server asked for, or None for SQLite."""
    url = args.database_url or (
        os.environ.get("CARNET_TEST_DATABASE_URL") if args.postgres else None
    )
    if args.postgres and not url:
        raise SystemExit("--postgres : CARNET_TEST_DATABASE_URL n'est pas défini")
    return url


def scratch(server: str | None, workdir: Path) -> tuple[str, Callable[[], None]]:
    """(URL of a new empty database, its cleanup)."""
    if not server:
        return f"sqlite:///{workdir / (uuid.uuid4().hex + '.sqlite')}", lambda: None
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"carnet_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from carnet import db

        db.reset_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{server.rpartition('/')[0]}/{name}", drop


def label(url: str) -> str:
    """The database as printed: its kind and version."""
    from carnet.db import get_engine

    engine = get_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "SQLite " + conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        version = conn.exec_driver_sql("SHOW server_version").scalar_one()
        return f"PostgreSQL {version.split()[0]}"
