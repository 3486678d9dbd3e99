"""Putting a Carnet backup back in place (the archive is described in `carnet.backup`).

Nothing is replaced before the whole archive has been read into a staging area next to its
target and every member matched its size and SHA-256, and (SQLite) the copied database passed
`quick_check` and holds the manifest's row counts. Only then the database file is swapped in
(a stale `-wal` beside it removed first: it would be replayed into the new file), or
`pg_restore` loads the dump into the emptied PostgreSQL database; the attachments directory is
swapped whole, the secret key put back with mode 0600, and an older schema migrated to head.
A home that holds data is refused unless forced: a restore must never be the accident.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import MetaData, text

from carnet import db, versions
from carnet.backup import (
    ATTACHMENTS,
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PG_MEMBER,
    POLLER_CONFIG,
    SECRET_KEY,
    SQLITE_MEMBER,
    BackupError,
    database_counts,
    fr_int,
    fsync_dir,
    kind_of,
    libpq,
    pg_reachable,
    pg_tool,
    run_pg_tool,
    shown_url,
    sqlite_counts,
    sqlite_path,
    sqlite_ro,
)
from carnet.config import carnet_home, database_url


def _copy_hashing(src, dst) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK):
        sha.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return size, sha.hexdigest()


@dataclass
class RestoreResult:
    manifest: dict
    counts: dict[str, int]
    revision_before: str | None
    revision_after: str | None
    attachments: int
    secret_key: bool


# --- reading an archive ---------------------------------------------------------------------


def _open_archive(path: Path) -> tarfile.TarFile:
    if not path.is_file():
        raise BackupError(f"sauvegarde introuvable : {path}")
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{path} n'est pas une sauvegarde Carnet lisible ({exc})") from exc


def _read_manifest_member(tar: tarfile.TarFile, path: Path) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isreg():
        raise BackupError(f"{path} n'est pas une sauvegarde Carnet : pas de {MANIFEST} en tête")
    try:
        manifest = json.loads(tar.extractfile(first).read(16 * CHUNK).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} : {MANIFEST} illisible ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} n'est pas une sauvegarde Carnet (format inconnu)")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise BackupError(
            f"{path} vient d'une version plus récente de Carnet (format "
            f"{manifest.get('format_version')}) : mettez Carnet à jour avant de restaurer"
        )
    return manifest


def read_manifest(path: str | Path) -> dict:
    """The manifest of an archive (its first member), without reading the rest."""
    path = Path(path)
    with _open_archive(path) as tar:
        return _read_manifest_member(tar, path)


def _known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def _member_target(name: str, db_member: str, db_stage: Path, stage: Path) -> Path:
    if name == db_member:
        return db_stage
    pure = PurePosixPath(name)
    safe = not pure.is_absolute() and ".." not in pure.parts
    if safe and (pure.parts[0] == ATTACHMENTS and len(pure.parts) > 1
                 or name in (SECRET_KEY, POLLER_CONFIG)):  # fmt: skip
        return stage.joinpath(*pure.parts)
    raise BackupError(f"membre inattendu dans la sauvegarde : {name!r} ; rien n'a été restauré")


def _extract(tar: tarfile.TarFile, path: Path, manifest: dict, db_stage: Path, stage: Path):
    """Every member into the staging area, each checked against its size and SHA-256."""
    expected = manifest.get("members") or {}
    db_member = SQLITE_MEMBER if manifest["database_kind"] == "sqlite" else PG_MEMBER
    if db_member not in expected:
        raise BackupError(f"{path} : la base ({db_member}) manque au manifeste")
    seen: set[str] = set()
    try:
        for index, info in enumerate(tar):  # iterating starts again from the manifest
            if index == 0 and info.name == MANIFEST:
                continue
            if info.name not in expected or info.name in seen or not info.isreg():
                raise BackupError(
                    f"archive corrompue : membre {info.name!r} absent du manifeste ou en double ;"
                    " rien n'a été restauré"
                )
            target = _member_target(info.name, db_member, db_stage, stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(info) as src, open(target, "wb") as dst:
                size, sha = _copy_hashing(src, dst)
            want = expected[info.name]
            if size != want["size"] or sha != want["sha256"]:
                raise BackupError(
                    f"archive corrompue : {info.name} ne correspond pas à son empreinte SHA-256 "
                    f"(attendue {want['sha256'][:16]}…, lue {sha[:16]}…, {fr_int(size)} octets "
                    f"pour {fr_int(want['size'])}) ; rien n'a été restauré"
                )
            seen.add(info.name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # our side: disk full, rights
            raise BackupError(f"écriture impossible pendant la restauration : {exc}") from exc
        raise BackupError(
            f"archive illisible ou tronquée : {path} ({exc}) ; rien n'a été restauré"
        ) from exc
    absent = sorted(set(expected) - seen)
    if absent:
        raise BackupError(
            f"archive incomplète : {fr_int(len(absent))} membre(s) du manifeste manquant(s) "
            f"({', '.join(absent[:5])}) ; rien n'a été restauré"
        )


# --- what is in a home ----------------------------------------------------------------------


def home_contents(url: str | None = None, home: Path | None = None) -> list[str]:
    """What a restore would replace, in French; empty when there is nothing to lose (a
    migrated but empty schema counts as empty)."""
    url = url or database_url()
    home = (home or carnet_home()).resolve()
    found = []
    try:
        counts = database_counts(url)
    except sqlite3.Error as exc:
        counts = {}
        found.append(f"un fichier de base illisible {sqlite_path(url)} ({exc})")
    bookkeeping = ("alembic_version", "data_version")  # a migrated, empty schema has them
    filled = {t: n for t, n in counts.items() if n and t not in bookkeeping}
    if filled:
        details = [f"{fr_int(len(filled))} table(s) non vide(s)"]
        for table, label in (("reading", "relevés"), ("building", "bâtiments"),
                             ("logbook_entry", "entrées de carnet")):  # fmt: skip
            if filled.get(table):
                details.append(f"{fr_int(filled[table])} {label}")
        found.append(f"base de données {shown_url(url)} ({', '.join(details)})")
    folder = home / ATTACHMENTS
    if folder.is_dir():
        n = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if n:
            found.append(f"{fr_int(n)} pièce(s) jointe(s) dans {folder}")
    if (home / SECRET_KEY).exists():
        found.append(f"une clé secrète ({home / SECRET_KEY})")
    if (home / POLLER_CONFIG).exists():
        found.append(f"une configuration de relève ({home / POLLER_CONFIG})")
    return found


# --- restore --------------------------------------------------------------------------------


def _check_target(url: str, kind: str, manifest: dict, path: Path) -> None:
    source_kind = manifest.get("database_kind")
    if source_kind != kind:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BackupError(
            f"{path} contient une base {names.get(source_kind, source_kind)} et la base cible "
            f"{shown_url(url)} est {names[kind]} : restaurer d'un moteur vers l'autre n'est pas "
            f"pris en charge. Restaurez vers une base {names.get(source_kind, source_kind)} "
            f"(variable CARNET_DATABASE_URL)"
        )
    revision = manifest.get("schema_revision")
    if revision is not None and revision not in _known_revisions():
        raise BackupError(
            f"{path} a été faite avec une version plus récente de Carnet (schéma {revision}, "
            f"Carnet {manifest.get('carnet_version')}) : mettez Carnet à jour avant de restaurer"
        )
    if kind == "postgresql":
        pg_tool("pg_restore")


def _compare_counts(manifest: dict, counts: dict[str, int], where: str) -> None:
    expected = manifest.get("counts") or {}
    diff = [
        f"{t} : {fr_int(counts.get(t, 0))} au lieu de {fr_int(n)}"
        for t, n in sorted(expected.items())
        if counts.get(t, 0) != n
    ]
    if diff:
        raise BackupError(
            f"{where} : nombre de lignes différent du manifeste ({'; '.join(diff[:8])})"
        )


def _install_sqlite(url: str, staged: Path, manifest: dict) -> None:
    try:
        with sqlite_ro(staged) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            counts = sqlite_counts(conn)
    except sqlite3.Error as exc:
        raise BackupError(
            f"base de la sauvegarde illisible ({exc}) ; rien n'a été restauré"
        ) from exc
    if check != "ok":
        raise BackupError(f"base de la sauvegarde endommagée (quick_check : {check})")
    _compare_counts(manifest, counts, "base de la sauvegarde")
    target = sqlite_path(url)
    for suffix in ("-wal", "-shm", "-journal"):  # a stale WAL must never meet the new file
        with suppress(FileNotFoundError):
            Path(f"{target}{suffix}").unlink()
    os.replace(staged, target)
    fsync_dir(target.parent)


def _drop_all_tables(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            if conn.dialect.name != "postgresql":
                meta.drop_all(conn)
                return
            # a partitioned table takes its partitions with it (`reading`, carnet.partitions):
            # each table is dropped if it is still there, with what depends on it
            for table in reversed(meta.sorted_tables):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    finally:
        engine.dispose()


def _install_pg(url: str, staged: Path, manifest: dict) -> None:
    pg_restore = pg_tool("pg_restore")
    uri, env = libpq(url)
    _drop_all_tables(url)  # a newer schema's extra tables would stop the migration after
    run_pg_tool(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", f"--dbname={uri}", str(staged)],
        env, "pg_restore",
    )  # fmt: skip
    _compare_counts(manifest, database_counts(url), "base restaurée incomplète, ne l'utilisez pas")


def _install_home(home: Path, stage: Path) -> int:
    """Attachments swapped in whole; secret key (0600) and poller configuration replaced."""
    new = stage / ATTACHMENTS
    new.mkdir(exist_ok=True)
    current = home / ATTACHMENTS
    old = None
    if current.exists():
        old = home / f".attachments-avant-restauration-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(current, old)
    os.replace(new, current)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    key = stage / SECRET_KEY
    if key.exists():
        os.chmod(key, 0o600)
        os.replace(key, home / SECRET_KEY)
    if (stage / POLLER_CONFIG).exists():
        os.replace(stage / POLLER_CONFIG, home / POLLER_CONFIG)
    return sum(1 for p in current.rglob("*") if p.is_file())


def restore(
    archive: str | Path,
    url: str | None = None,
    home: Path | None = None,
    force: bool = False,
) -> RestoreResult:
    """Put a backup in place: refuses a home with data unless `force`, checks every checksum
    and the row counts before replacing anything, then migrates an older schema to head."""
    url = url or database_url()
    home = (home or carnet_home()).resolve()
    kind = kind_of(url)
    path = Path(archive).resolve()
    if kind == "postgresql":
        pg_reachable(url, " : créez d'abord la base vide (createdb)")
    found = home_contents(url, home)
    if found and not force:
        raise BackupError(
            f"restauration refusée : la cible n'est pas vide ({home}) : {' ; '.join(found)}. "
            "Relancez avec --force pour la remplacer par la sauvegarde (son contenu actuel sera "
            "perdu : sauvegardez-le d'abord)"
        )
    with _open_archive(path) as tar:
        manifest = _read_manifest_member(tar, path)
        _check_target(url, kind, manifest, path)
        stage = Path(tempfile.mkdtemp(prefix=".restauration-", dir=home))
        db_dir = sqlite_path(url).parent if kind == "sqlite" else stage
        db_dir.mkdir(parents=True, exist_ok=True)
        fd, staged_name = tempfile.mkstemp(prefix=".carnet-restauration-", dir=db_dir)
        os.close(fd)
        db_stage = Path(staged_name)
        try:
            _extract(tar, path, manifest, db_stage, stage)
            if kind == "sqlite":
                _install_sqlite(url, db_stage, manifest)
            else:
                _install_pg(url, db_stage, manifest)
            attachments = _install_home(home, stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            with suppress(FileNotFoundError):
                db_stage.unlink()
    engine = db.make_engine(url)
    try:
        before = db.current_revision(engine)
        counts = database_counts(url)
        db.upgrade(engine)
        versions.new_epoch(engine)  # the running apps' figures are of the data replaced
        after = db.current_revision(engine)
    finally:
        engine.dispose()
    return RestoreResult(
        manifest, counts, before, after, attachments, bool(manifest.get("secret_key"))
    )
