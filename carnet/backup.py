"""One-file backup of a Carnet home: database, attachments, secret key, and a manifest.

A plain copy of the SQLite file while the app runs misses what is still in the WAL, and a copy
of PostgreSQL's files is no backup at all. So the database is taken through its own consistent
snapshot: SQLite's online backup API (one read transaction: every committed row, WAL included,
none of a transaction still open), PostgreSQL's `pg_dump --format=custom` on a snapshot
exported by a transaction that also counts the rows, so the manifest's counts are those of the
dump. The database is taken first, the attachments after: attachment files are written before
their row commits and never change (content-addressed), so every row of the snapshot finds its
file.

The archive is a tar (gzip for SQLite; a custom dump is compressed already) whose first member
is `manifest.json`: Carnet version, schema revision, database kind, creation time, counts per
table and the size and SHA-256 of every other member. Everything is streamed in bounded chunks
whatever the database size. `carnet.restore` puts an archive back in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from carnet import db
from carnet.config import carnet_home, database_url
from carnet.timeutil import TZ

FORMAT = "carnet-sauvegarde"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/carnet.sqlite"
PG_MEMBER = "database/carnet.pgdump"
ATTACHMENTS = "attachments"
SECRET_KEY = "secret_key"
POLLER_CONFIG = "poller.yaml"
CHUNK = 1024 * 1024
NBSP = "\u00a0"


class BackupError(Exception):
    """A refusal or failure, with a French message for the operator and an exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    manifest: dict
    warnings: list[str] = field(default_factory=list)


def fr_int(n: int) -> str:
    return f"{n:,}".replace(",", NBSP)


def fr_size(n_bytes: int) -> str:
    if n_bytes < 1024 * 1024:
        return f"{fr_int(max(1, round(n_bytes / 1024)))}{NBSP}ko"
    return f"{n_bytes / (1024 * 1024):,.1f}".replace(",", NBSP).replace(".", ",") + f"{NBSP}Mo"


def shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def kind_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"base non prise en charge pour la sauvegarde : {shown_url(url)}")
    return name


def sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("une base SQLite en mémoire ne se sauvegarde ni ne se restaure")
    return Path(path).resolve()


def default_name(now: dt.datetime | None = None) -> str:
    """`carnet-AAAAMMJJ-HHMM.carnet`, in Paris time (what the operator's clock says)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(TZ)
    return f"carnet-{now:%Y%m%d-%H%M}.carnet"


# --- streaming helpers ----------------------------------------------------------------------


class _HashingReader:
    """A file wrapper hashing what is read through it (tarfile pulls the member through)."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(CHUNK if n is None or n < 0 else n)
        self.sha.update(chunk)
        self.size += len(chunk)
        return chunk


def file_digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


# --- what a database holds ------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    )
    return [r[0] for r in rows]


def sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _sqlite_tables(conn)
    }


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    if "alembic_version" not in _sqlite_tables(conn):
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _pg_tables(conn: Connection) -> list[str]:
    """The schema's tables as the record knows them: a partitioned `reading` counts once,
    its monthly partitions (carnet.partitions) are not tables of their own."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition ORDER BY c.relname"
        )
    )
    return [r[0] for r in rows]


def _pg_counts(conn: Connection) -> dict[str, int]:
    return {
        t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
        for t in _pg_tables(conn)
    }


def _pg_revision(conn: Connection, tables: list[str]) -> str | None:
    if "alembic_version" not in tables:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def database_counts(url: str) -> dict[str, int]:
    """Rows per table of the database at `url` (tables of the current schema)."""
    if kind_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists():
            return {}
        with sqlite_ro(path) as conn:
            return sqlite_counts(conn)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return _pg_counts(conn)
    finally:
        engine.dispose()


@contextmanager
def sqlite_ro(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


# --- PostgreSQL client tools ----------------------------------------------------------------


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} est introuvable (PATH) : installez le client PostgreSQL de la même version "
            f"majeure que le serveur (Debian : apt install postgresql-client-15) puis relancez"
        )
    return path


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment carrying it (kept out of `ps`)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None)
    return uri.render_as_string(hide_password=False), env


def run_pg_tool(args: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise BackupError(f"{what} a échoué (code {proc.returncode}) : {tail}")
    return proc.stdout


def _tool_version(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    return out


def pg_reachable(url: str, hint: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
        raise BackupError(
            f"base PostgreSQL injoignable : {shown_url(url)}{hint} ({' '.join(first)})"
        ) from exc
    finally:
        engine.dispose()


# --- backup ---------------------------------------------------------------------------------


def _snapshot_sqlite(url: str, work: Path) -> tuple[Path, dict[str, int], str | None, set[str]]:
    """Copy through the online backup API, in one step: one read transaction, WAL included."""
    path = sqlite_path(url)
    if not path.exists():
        raise BackupError(f"base SQLite introuvable : {path}")
    copy = work / "carnet.sqlite"
    src = sqlite3.connect(path, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")  # the copy stands alone, no -wal beside it
        counts = sqlite_counts(dst)
        revision = _sqlite_revision(dst)
        paths = set()
        if "attachment" in counts:
            paths = {r[0] for r in dst.execute("SELECT path FROM attachment")}
    finally:
        dst.close()
        src.close()
    return copy, counts, revision, paths


def _snapshot_pg(url: str, work: Path) -> tuple[Path, dict[str, int], str | None, set[str], dict]:
    """`pg_dump` on the snapshot of a transaction that counts the same rows meanwhile."""
    pg_dump = pg_tool("pg_dump")
    out = work / "carnet.pgdump"
    uri, env = libpq(url)
    engine = db.make_engine(url)
    try:
        conn = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with conn, conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = _pg_tables(conn)
            counts = _pg_counts(conn)
            revision = _pg_revision(conn, tables)
            paths = set()
            if "attachment" in tables:
                paths = set(conn.execute(text("SELECT path FROM attachment")).scalars())
            server = conn.execute(text("SHOW server_version")).scalar_one()
            # the dump runs while this transaction, whose snapshot it shares, stays open
            run_pg_tool(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={out}",
                 f"--dbname={uri}"],
                env, "pg_dump",
            )  # fmt: skip
    finally:
        engine.dispose()
    extra = {"pg_dump": _tool_version(pg_dump), "server_version": server}
    return out, counts, revision, paths, extra


def _home_members(home: Path) -> list[tuple[str, Path]]:
    """Attachments (finished files only), the secret key and the poller's configuration."""
    members = []
    folder = home / ATTACHMENTS
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(home)
            if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                members.append((rel.as_posix(), path))
    for name in (SECRET_KEY, POLLER_CONFIG):
        if (home / name).is_file():
            members.append((name, home / name))
    return members


def _carnet_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("carnet")
    except PackageNotFoundError:
        return "inconnue"


def _tarinfo(name: str, size: int, mtime: float, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def resolve_target(target: str | Path, now: dt.datetime | None = None) -> Path:
    """A directory (existing, or written with a trailing /) gets the dated default name."""
    raw = str(target)
    path = Path(raw).expanduser()
    if path.is_dir() or raw.endswith(("/", os.sep)):
        path = path / default_name(now)
    return path.resolve()


def backup(
    target: str | Path,
    url: str | None = None,
    home: Path | None = None,
    now: dt.datetime | None = None,
) -> BackupResult:
    """Write the whole home to one archive at `target` (atomically: `.part`, then renamed)."""
    url = url or database_url()
    home = (home or carnet_home()).resolve()
    kind = kind_of(url)
    dest = resolve_target(target, now)
    if kind == "sqlite" and dest == sqlite_path(url):
        raise BackupError(f"la sauvegarde ne peut pas remplacer la base elle-même : {dest}")
    if kind == "postgresql":
        pg_tool("pg_dump")
        pg_reachable(url, "")
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    part = dest.with_name(dest.name + ".part")
    work = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".carnet-sauvegarde-", dir=dest.parent))
        manifest, warnings = _backup_into(part, work, url, home, kind, created)
        os.replace(part, dest)
        fsync_dir(dest.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"lecture de la base SQLite impossible : {exc}") from exc
    except SQLAlchemyError as exc:
        raise BackupError(f"lecture de la base impossible : {getattr(exc, 'orig', exc)}") from exc
    except OSError as exc:
        raise BackupError(f"écriture de la sauvegarde impossible : {exc}") from exc
    finally:
        with suppress(FileNotFoundError):
            part.unlink()  # only left when something failed
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return BackupResult(dest, dest.stat().st_size, manifest, warnings)


def _backup_into(
    part: Path, work: Path, url: str, home: Path, kind: str, created: dt.datetime
) -> tuple[dict, list[str]]:
    """Snapshot the database into `work`, list the home's files, write the archive `part`."""
    extra: dict = {}
    if kind == "sqlite":
        db_file, counts, revision, paths = _snapshot_sqlite(url, work)
        db_member = SQLITE_MEMBER
    else:
        db_file, counts, revision, paths, extra = _snapshot_pg(url, work)
        db_member = PG_MEMBER
    files = [(db_member, db_file), *_home_members(home)]
    members = {}
    for name, path in files:
        size, sha = file_digest(path)
        members[name] = {"size": size, "sha256": sha}
    missing = sorted(p for p in paths if Path(p).as_posix() not in members)
    warnings = []
    if missing:
        warnings.append(
            f"{fr_int(len(missing))} pièce(s) jointe(s) inscrite(s) en base mais absente(s) "
            f"de {home / ATTACHMENTS} (non sauvegardée(s)) : {', '.join(missing[:5])}"
        )
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "carnet_version": _carnet_version(),
        "schema_revision": revision,
        "database_kind": kind,
        "created_at": created.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "source": {"database": shown_url(url), "home": str(home)},
        "counts": counts,
        "attachments": sum(1 for n in members if n.startswith(ATTACHMENTS + "/")),
        "secret_key": SECRET_KEY in members,
        "missing_attachments": missing,
        "members": members,
        **extra,
    }
    _write_archive(part, kind, manifest, files)
    return manifest, warnings


def _write_archive(part: Path, kind: str, manifest: dict, files: list[tuple[str, Path]]) -> None:
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the secret key
    with os.fdopen(fd, "wb") as raw:
        mode = "w:gz" if kind == "sqlite" else "w"
        options = {"compresslevel": 1} if kind == "sqlite" else {}
        with tarfile.open(fileobj=raw, mode=mode, format=tarfile.PAX_FORMAT, **options) as tar:
            blob = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            now = dt.datetime.now(dt.UTC).timestamp()
            tar.addfile(_tarinfo(MANIFEST, len(blob), now, 0o644), io.BytesIO(blob))
            for name, path in files:
                expected = manifest["members"][name]
                mode_bits = 0o600 if name == SECRET_KEY else 0o644
                info = _tarinfo(name, expected["size"], path.stat().st_mtime, mode_bits)
                with open(path, "rb") as fh:
                    reader = _HashingReader(fh)
                    tar.addfile(info, reader)
                if reader.sha.hexdigest() != expected["sha256"]:
                    raise BackupError(f"{name} a changé pendant la sauvegarde : relancez-la")
        raw.flush()
        os.fsync(raw.fileno())


def fsync_dir(path: Path) -> None:
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
