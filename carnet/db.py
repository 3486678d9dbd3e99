"""Engine and sessions from one URL; the schema is brought up to date by Alembic on first use."""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from carnet import versions
from carnet.config import database_url, sqlite_write_wait_s

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_heads: frozenset[str] | None = None


def _sqlite_pragmas(wait_s: float):
    """The connect hook of a SQLite engine: WAL (readers never wait for the writer) and a busy
    timeout long enough for a whole import's transaction, on every connection."""

    def on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return on_connect


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        wait_s = sqlite_write_wait_s()
        engine = create_engine(url, connect_args={"timeout": wait_s, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(wait_s))
    else:
        engine = create_engine(url, pool_pre_ping=True)
    versions.install(engine)
    return engine


def _migrate(engine: Engine, step: str, revision: str) -> None:
    """Run Alembic's `upgrade` or `downgrade` to `revision` on `engine`.

    On SQLite, Alembic rebuilds a table to drop or alter a column, which foreign keys forbid:
    they are switched off meanwhile (only possible outside a transaction) and checked after.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with versions.suspended(conn), conn.begin():
                cfg.attributes["connection"] = conn
                getattr(command, step)(cfg, revision)
            if sqlite:
                problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"clés étrangères incohérentes après migration : {problems}")
        finally:
            versions.forget_schema(engine)  # the version table may have come or gone
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` on `engine`, then make the coming months'
    partitions of `reading` (PostgreSQL, see `carnet.partitions`)."""
    _migrate(engine, "upgrade", revision)
    if engine.dialect.name == "postgresql":
        from carnet import partitions

        with engine.begin() as conn:
            partitions.ensure_ahead(conn)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo the migrations after `revision` (tests and a tested way back; data kept where the
    older schema has a place for it)."""
    _migrate(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts, read once per process.

    Read from the scripts' `revision` / `down_revision` assignments rather than through Alembic,
    whose import alone costs more than a command that finds its database up to date
    (tests/test_cli_startup.py checks both readings agree)."""
    global _heads
    if _heads is None:
        revisions: set[str] = set()
        parents: set[str] = set()
        for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
            names = _revision_assignments(script.read_text(encoding="utf-8"))
            if "revision" not in names:
                continue
            revisions.add(ast.literal_eval(names["revision"]))
            down = ast.literal_eval(names["down_revision"]) if "down_revision" in names else None
            if isinstance(down, str):
                parents.add(down)
            elif down:
                parents.update(down)
        _heads = frozenset(revisions - parents)
    return _heads


def _revision_assignments(source: str) -> dict[str, ast.expr]:
    """The module-level assignments of a migration script, read from the part before its first
    function (where Alembic writes `revision` and `down_revision`), the whole script only if
    they are not there: parsing every script whole costs more than the rest of a short command."""
    names = _assignments(source.split("\ndef ", 1)[0])
    if names is None or not {"revision", "down_revision"} <= names.keys():
        names = _assignments(source) or {}
    return names


def _assignments(source: str) -> dict[str, ast.expr] | None:
    """name -> value of the top-level assignments of `source`; None if it does not parse (a part
    cut inside a string)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    names = {}
    for node in body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and node.value is not None:
                    names[target.id] = node.value
    return names


def _stamped_revisions(engine: Engine) -> frozenset[str] | None:
    """The revision(s) the database is at, in one query; None when it has no version table."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            return frozenset(rows)
    except DBAPIError:
        return None


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is not at the head revision (so `upgrade` has work, or an error, to give)."""
    return _stamped_revisions(engine) != head_revisions()


def get_engine(url: str | None = None, migrate: bool = True) -> Engine:
    """One engine per URL for the process; the schema is migrated the first time it is asked
    (Alembic runs only when the database's revision is not the head)."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            if migrate and needs_upgrade(engine):
                upgrade(engine)
            _engines[url] = engine
        return engine


def reset_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def no_jit(conn) -> None:
    """PostgreSQL: no JIT compilation in this transaction. A write's statements seek the key
    once per channel; once a month's partition has statistics, the planner costs thousands of
    such seeks above `jit_optimize_above_cost` and compiles them at every statement (about 1 s
    for a statement that then runs in 20 ms). `SET LOCAL` ends with the transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
