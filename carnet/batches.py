"""Import batches: which process runs one, what became of a dead one, and undoing one exactly.

Liveness is a lock, never a timer: the process that runs a file import holds, for the whole
import, a lock on its batch (and one on the file's SHA-256, "same file in progress").
PostgreSQL: session-level advisory locks on a dedicated connection kept open meanwhile;
SQLite: `flock` on small files in `locks/` beside the database file. The kernel or the server
drops them when the process dies, so a `running` batch whose lock can be taken is dead:
`mark_interrupted` marks it `interrupted`. A batch's readings and its counts commit in one
transaction (`ingest.importer`), so a dead batch wrote nothing and the next import of the file
accounts for every row.

`revert_batch` undoes a batch from what it kept (`reading_overwrite`: the readings it replaced):
the readings it inserted are deleted, those it replaced are restored exactly, with their
conversion factors and meter changes, and the rollups refreshed. It refuses when a later batch
built on it or when a closed period would change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carnet import audit, closing
from carnet.access import Actor
from carnet.config import carnet_home
from carnet.kinds import Quality
from carnet.logbook import cancel_entry
from carnet.models import AuditEvent, ImportBatch, QuarantinedReading, User
from carnet.price_indices import revert_indices
from carnet.roles import MANAGER, ROLE_LABELS_FR, can
from carnet.store import refresh_rollups, take_write_lock
from carnet.timeutil import fr_date, local_day_bounds

# batch status codes (import_batch.status) as users read them
STATUS_FR = {
    "running": "en cours",
    "ok": "ok",
    "partial": "partiel",
    "failed": "échec",
    "unreadable": "illisible",
    "interrupted": "interrompu",
    "reverted": "annulé",
    "in_progress": "déjà en cours",  # a report only: the same file was being imported
}
REVERTIBLE = ("ok", "partial", "interrupted")  # the statuses of a batch that may hold readings
LOCK_CLASS_BATCH = 0x43424154  # advisory lock key space of batches (two-int4 form: class, id)
FILE_WAIT_S = 2.0  # how long to wait for the holder of a file's lock to show its batch


def status_fr(code: str | None) -> str:
    return STATUS_FR.get(code or "", code or "")


def list_batches(engine: Engine, limit: int = 50, user: str | None = None) -> pd.DataFrame:
    """File batches, most recent first, with their owner and how they were reverted."""
    query = (
        "SELECT id, source, format, status, user_login, started_at, finished_at, rows_read,"
        " rows_inserted, rows_updated, rows_unchanged, rows_rejected, sha256, message,"
        " rows_quarantined, host, pid, reverted_at, reverted_by, revert_reason"
        " FROM import_batch WHERE origin = 'csv'"
    )
    params: dict = {"n": int(limit)}
    if user is not None:
        query += " AND user_login = :u"
        params["u"] = user
    query += " ORDER BY id DESC LIMIT :n"
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(query), conn, params=params)
    for col in ("started_at", "finished_at", "reverted_at"):  # SQLite gives naive UTC text
        frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
    return frame


def owner() -> tuple[str, int]:
    """(host, pid) of this process, recorded in the batches it runs."""
    return socket.gethostname()[:100], os.getpid()


def checkpoint(stage: str) -> None:
    """Test hook of the crash tests, inert unless asked: `CARNET_TEST_KILL_AT=<stage>` sends
    this process SIGKILL (or `CARNET_TEST_KILL_SIGNAL`, e.g. TERM) at that stage;
    `CARNET_TEST_PAUSE_AT=<stage>` with `CARNET_TEST_PAUSE_FILE=F` creates `F.reached` there
    and waits until `F` exists. Stages: batch_created, mid_write, before_commit, after_commit."""
    if os.environ.get("CARNET_TEST_PAUSE_AT") == stage:
        gate = Path(os.environ["CARNET_TEST_PAUSE_FILE"])
        Path(f"{gate}.reached").write_text(str(os.getpid()))
        while not gate.exists():
            time.sleep(0.02)
    if os.environ.get("CARNET_TEST_KILL_AT") == stage:
        name = os.environ.get("CARNET_TEST_KILL_SIGNAL", "KILL").upper().removeprefix("SIG")
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))


# --- locks ---------------------------------------------------------------------------------


def lock_dir(engine: Engine) -> tuple[Path, str]:
    """(directory, file prefix) of a SQLite database's lock files: `locks/` beside it."""
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).resolve()
        folder, prefix = path.parent / "locks", path.name
    else:
        folder, prefix = carnet_home() / "locks", "memoire"
    folder.mkdir(parents=True, exist_ok=True)
    return folder, prefix


def _file_key(sha256: str) -> int:
    """A file's advisory lock key (single bigint form, a key space apart from the batches')."""
    return int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)


class Locks:
    """The locks one process holds: a file's and its batches'. Non-blocking; `release` (or
    the process's death) drops them all."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._fds: dict[str, int] = {}

    # PostgreSQL: one AUTOCOMMIT connection, open while any lock is held
    def _pg(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _pg_try(self, sql: str, params: dict) -> bool:
        return bool(self._pg().execute(text(sql), params).scalar())

    # SQLite: flock on a file; a lock taken on a file since unlinked is retried
    def _path(self, name: str) -> Path:
        folder, prefix = lock_dir(self.engine)
        return folder / f"{prefix}.{name}.lock"

    def _flock(self, name: str) -> bool:
        if name in self._fds:
            return True
        path = self._path(name)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return False
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                host, pid = owner()
                os.ftruncate(fd, 0)
                os.write(fd, f"{pid} {host}\n".encode())
                self._fds[name] = fd
                return True
            os.close(fd)  # its holder unlinked it as we opened it: take the new file

    def _unflock(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))  # unlinked while still held: see `_flock`
        os.close(fd)

    def try_file(self, sha256: str) -> bool:
        if self.pg:
            return self._pg_try("SELECT pg_try_advisory_lock(:k)", {"k": _file_key(sha256)})
        return self._flock(f"fichier-{sha256}")

    def try_batch(self, batch_id: int) -> bool:
        if self.pg:
            return self._pg_try(
                "SELECT pg_try_advisory_lock(:c, :b)", {"c": LOCK_CLASS_BATCH, "b": int(batch_id)}
            )
        return self._flock(f"lot-{int(batch_id)}")

    def release_batch(self, batch_id: int) -> None:
        if self.pg:
            if self._conn is not None:
                self._pg_try(
                    "SELECT pg_advisory_unlock(:c, :b)", {"c": LOCK_CLASS_BATCH, "b": int(batch_id)}
                )
            return
        self._unflock(f"lot-{int(batch_id)}")

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            except Exception:  # the session is unusable: drop it, its locks go with it
                self._conn.invalidate()
            finally:
                self._conn.close()
                self._conn = None
        for name in list(self._fds):
            self._unflock(name)


@dataclass(frozen=True)
class Holder:
    """The live batch importing a file (fields None while it is not yet visible)."""

    batch_id: int | None
    pid: int | None
    host: str | None

    @property
    def message(self) -> str:
        if self.batch_id is None:
            return "import déjà en cours par un autre processus : réessayez quand il aura fini"
        return (
            f"import déjà en cours (lot n° {self.batch_id}, processus {self.pid} sur "
            f"{self.host}) : réessayez quand il aura fini"
        )


def _running(engine: Engine, sha256: str | None = None) -> list:
    # on the table, not the mapped class: `carnet batches` then never configures the mappers
    table = ImportBatch.__table__
    query = select(table.c.id, table.c.host, table.c.pid, table.c.sha256).where(
        table.c.status == "running", table.c.origin == "csv"
    )
    if sha256 is not None:
        query = query.where(table.c.sha256 == sha256)
    with engine.connect() as conn:
        return conn.execute(query.order_by(table.c.id)).all()


def file_holder(engine: Engine, sha256: str) -> Holder | None:
    """The live batch of this file, if one is running (its lock cannot be taken)."""
    probe = Locks(engine)
    try:
        for row in _running(engine, sha256):
            if probe.try_batch(row.id):
                probe.release_batch(row.id)  # dead: `mark_interrupted` will say so
                continue
            return Holder(row.id, row.pid, row.host)
    finally:
        probe.release()
    return None


def claim_file(locks: Locks, sha256: str, wait_s: float = FILE_WAIT_S) -> Holder | None:
    """Take the lock of this file's content; None when taken, else who holds it (waits up to
    `wait_s` for the holder's batch to be visible)."""
    deadline = time.monotonic() + wait_s
    while True:
        if locks.try_file(sha256):
            return None
        holder = file_holder(locks.engine, sha256)
        if holder is not None:
            return holder
        if time.monotonic() > deadline:
            return Holder(None, None, None)
        time.sleep(0.05)


# --- dead batches --------------------------------------------------------------------------


def _interrupted_message(host: str | None, pid: int | None) -> str:
    when = fr_date(dt.datetime.now(dt.UTC))
    if host is None:
        return (
            "interrompu : le processus qui l'importait s'est arrêté avant la fin (constaté le "
            f"{when}) ; le prochain import du même fichier reprend ses relevés"
        )
    return (
        f"interrompu : le processus {pid} sur {host} s'est arrêté avant la fin (constaté le "
        f"{when}) ; rien de ce lot n'a été enregistré, réimportez le fichier"
    )


def mark_interrupted(engine: Engine) -> list[int]:
    """Mark `interrupted` every running file batch whose process is dead (its lock can be
    taken); returns their ids. A batch whose process lives is left alone, however old."""
    rows = _running(engine)
    if not rows:
        return []
    dead: list[int] = []
    probe = Locks(engine)
    try:
        for row in rows:
            if not probe.try_batch(row.id):
                continue  # alive
            try:
                if _mark_one(engine, row):
                    dead.append(int(row.id))
            finally:
                probe.release_batch(row.id)
    finally:
        probe.release()
    return dead


def _mark_one(engine: Engine, row) -> bool:
    stmt = (
        update(ImportBatch.__table__)
        .where(ImportBatch.__table__.c.id == row.id, ImportBatch.__table__.c.status == "running")
        .values(
            status="interrupted",
            finished_at=dt.datetime.now(dt.UTC),
            message=_interrupted_message(row.host, row.pid),
        )
    )
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)
    # SQLite has one writer: do not wait behind a long import, the next command will do it
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout = 2000")
        conn.commit()
        try:
            done = bool(conn.execute(stmt).rowcount)
            conn.commit()
            return done
        except OperationalError:
            conn.rollback()
            return False
        finally:
            conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
            conn.commit()


def pending_interrupted(engine: Engine, sha256: str) -> list[tuple[int, str | None]]:
    """(id, host) of the interrupted batches of this file since its last complete import:
    the ones the next import of the file takes over."""
    with engine.connect() as conn:
        last_done = conn.execute(
            select(ImportBatch.id)
            .where(ImportBatch.sha256 == sha256, ImportBatch.status.in_(("ok", "partial")))
            .order_by(ImportBatch.id.desc())
            .limit(1)
        ).scalar()
        rows = conn.execute(
            select(ImportBatch.id, ImportBatch.host)
            .where(
                ImportBatch.sha256 == sha256,
                ImportBatch.status == "interrupted",
                ImportBatch.origin == "csv",
                ImportBatch.id > (last_done or 0),
            )
            .order_by(ImportBatch.id)
        ).all()
    return [(int(r[0]), r[1]) for r in rows]


def take_over(conn: Connection, batch_id: int, interrupted: list[tuple[int, str | None]]) -> int:
    """Inside the new batch's transaction: name it in the interrupted batches, and give it the
    readings an interrupted batch without owner (written before batches were crash-consistent)
    left committed. Returns how many readings it took over."""
    if not interrupted:
        return 0
    ids = [i for i, _ in interrupted]
    table = ImportBatch.__table__
    for i in ids:
        message = conn.execute(select(table.c.message).where(table.c.id == i)).scalar() or ""
        conn.execute(
            update(table)
            .where(table.c.id == i)
            .values(message=f"{message.rstrip('. ')} ; repris par le lot n° {batch_id}.")
        )
    legacy = [i for i, host in interrupted if host is None]
    if not legacy:
        return 0  # a batch with an owner committed nothing: no reading carries its id
    marks = ",".join(str(int(i)) for i in legacy)
    return int(
        conn.execute(
            text(f"UPDATE reading SET batch_id = :b WHERE batch_id IN ({marks})"),
            {"b": int(batch_id)},
        ).rowcount
    )


# --- revert --------------------------------------------------------------------------------


class BatchRevertRefused(ValueError):
    """A revert that would be wrong; the message (French) says why and what to do first."""


def _check_actor(session: Session, actor: str) -> None:
    if not actor or not str(actor).strip():
        raise BatchRevertRefused("annulation refusée : son auteur n'est pas nommé")
    user = session.scalar(select(User).where(User.login == actor))
    # a login unknown to the users table is the command line's operator, who acts as manager
    if user is not None and (not user.active or not can(user.role, "batch.revert")):
        raise BatchRevertRefused(
            f"annulation refusée : {actor} ({ROLE_LABELS_FR.get(user.role, user.role)}) n'a pas"
            " le droit d'annuler un lot d'import (gestionnaire seulement)"
        )


def _frame(conn: Connection, sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    rows = conn.execute(text(sql), params).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def _inserted(conn: Connection, n: int) -> pd.DataFrame:
    """Readings the batch inserted: they carry its id and it kept no earlier image of them."""
    return _frame(
        conn,
        "SELECT r.channel_id, r.ts, r.quality FROM reading r WHERE r.batch_id = :n AND NOT EXISTS"
        " (SELECT 1 FROM reading_overwrite o WHERE o.batch_id = :n"
        " AND o.channel_id = r.channel_id AND o.ts = r.ts)",
        {"n": n},
        ["channel_id", "ts", "quality"],
    )


def _overwrites(conn: Connection, n: int) -> pd.DataFrame:
    """Readings the batch replaced, as they were, and who holds each of them now."""
    frame = _frame(
        conn,
        "SELECT o.channel_id, o.ts, o.old_quality, r.batch_id, r.quality,"
        " CASE WHEN r.channel_id IS NULL THEN 0 ELSE 1 END"
        " FROM reading_overwrite o LEFT JOIN reading r"
        " ON r.channel_id = o.channel_id AND r.ts = o.ts WHERE o.batch_id = :n",
        {"n": n},
        ["channel_id", "ts", "old_quality", "now_batch", "quality", "present"],
    )
    frame["now_batch"] = frame["now_batch"].astype("Int64")
    return frame


def _later_batches(conn: Connection, n: int, overwrites: pd.DataFrame) -> str | None:
    """Why a later batch (or a later change) built on this one, or None."""
    rows = conn.execute(
        text(
            "SELECT o.batch_id, COUNT(*) FROM reading_overwrite o"
            " LEFT JOIN import_batch b ON b.id = o.batch_id"
            " WHERE o.old_batch_id = :n AND o.batch_id <> :n"
            " AND (b.status IS NULL OR b.status <> 'reverted') GROUP BY o.batch_id"
        ),
        {"n": n},
    ).all()
    later = {int(b): int(c) for b, c in rows}
    moved = overwrites[(overwrites["now_batch"] != n).fillna(True).astype(bool)]
    gone = int((moved["present"] == 0).sum())
    by_none = int((moved["now_batch"].isna() & (moved["present"] == 1)).sum())
    for b, c in moved["now_batch"].dropna().astype(int).value_counts().items():
        later[int(b)] = max(later.get(int(b), 0), int(c))
    later.pop(n, None)
    if not later and not by_none and not gone:
        return None
    parts = [f"le lot n° {b} a remplacé {c} de ses relevés" for b, c in sorted(later.items())]
    if by_none:
        parts.append(f"{by_none} de ses relevés ont été modifiés depuis hors lot d'import")
    if gone:
        parts.append(f"{gone} de ses relevés ont été supprimés depuis")
    hint = f" ; annulez d'abord le lot n° {max(later)}" if later else ""
    return f"un lot postérieur s'appuie sur lui : {', '.join(parts)}{hint}"


def _factor_changes(conn: Connection, n: int) -> tuple[list[dict], str | None]:
    """The conversion factors the batch wrote, each with what to do: delete (it created the
    row) or restore the earlier coefficient (it replaced it); and a later batch built on one."""
    mine = conn.execute(
        text("SELECT channel_id, valid_from FROM conversion_factor WHERE batch_id = :n"),
        {"n": n},
    ).all()
    events = conn.execute(
        select(
            AuditEvent.id,
            AuditEvent.action,
            AuditEvent.entity_id,
            AuditEvent.before,
            AuditEvent.after,
        )
        .where(AuditEvent.entity == "conversion_factor")
        .order_by(AuditEvent.id)
    ).all()
    by_key: dict[str, list] = {}
    later = set()
    for e in events:
        after, before = e.after or {}, e.before or {}
        if after.get("batch_id") == n:
            by_key.setdefault(e.entity_id, []).append(e)
        elif before.get("batch_id") == n and after.get("batch_id") is not None:
            later.add(int(after["batch_id"]))
    plan = []
    for cid, day in mine:
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
        key = f"{int(cid)}:{day.isoformat()}"
        first = by_key.get(key, [None])[0]
        if first is None:
            plan.append({"channel_id": int(cid), "valid_from": day, "do": "keep"})
        elif first.action == "create":
            plan.append({"channel_id": int(cid), "valid_from": day, "do": "delete"})
        else:
            plan.append(
                {
                    "channel_id": int(cid),
                    "valid_from": day,
                    "do": "restore",
                    "kwh_per_unit": first.before.get("kwh_per_unit"),
                    "batch_id": first.before.get("batch_id"),
                }
            )
    reverted = set()
    if later:
        marks = ",".join(str(b) for b in later)
        reverted = {
            int(r[0])
            for r in conn.execute(
                text(f"SELECT id FROM import_batch WHERE id IN ({marks}) AND status = 'reverted'")
            )
        }
    later -= reverted
    why = None
    if later:
        why = (
            "un lot postérieur s'appuie sur lui : le lot n° "
            f"{min(later)} a remplacé un coefficient de conversion qu'il avait écrit"
        )
    return plan, why


def _resets(conn: Connection, inserted: pd.DataFrame, overwrites: pd.DataFrame) -> pd.DataFrame:
    """The meter changes the batch recorded: an index_reset at a reading it made a reset
    (inserted as one, or replaced a reading that was not one)."""
    made = pd.concat(
        [
            inserted.loc[inserted["quality"] == int(Quality.RESET), ["channel_id", "ts"]],
            overwrites.loc[
                (overwrites["quality"] == int(Quality.RESET))
                & (overwrites["old_quality"] != int(Quality.RESET)),
                ["channel_id", "ts"],
            ],
        ],
        ignore_index=True,
    )
    empty = pd.DataFrame({"channel_id": [], "ts": [], "logbook_entry_id": []})
    if not len(made):
        return empty
    marks = ",".join(str(int(c)) for c in made["channel_id"].unique())
    resets = _frame(
        conn,
        f"SELECT channel_id, ts, logbook_entry_id FROM index_reset WHERE channel_id IN ({marks})",
        {},
        ["channel_id", "ts", "logbook_entry_id"],
    )
    if not len(resets):
        return empty
    return resets.merge(made.astype("int64"), on=["channel_id", "ts"])


def _touched(conn: Connection, keys: pd.DataFrame, factors: list[dict]) -> pd.DataFrame:
    """(channel_id, ts) of everything the revert changes: readings, and for a conversion
    factor, its first day up to the channel's last reading."""
    parts = [keys[["channel_id", "ts"]].astype("int64")]
    for f in factors:
        if f["do"] == "keep":
            continue
        start = local_day_bounds(f["valid_from"], f["valid_from"])[0]
        last = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c"), {"c": f["channel_id"]}
        ).scalar()
        stamps = [start] + ([int(last)] if last is not None and int(last) > start else [])
        parts.append(pd.DataFrame({"channel_id": f["channel_id"], "ts": stamps}, dtype="int64"))
    return pd.concat(parts, ignore_index=True)


def _with_index_neighbours(conn: Connection, touched: pd.DataFrame) -> pd.DataFrame:
    """An index reading removed or restored changes the intervals on each side of it: the
    readings just around the touched span of an index channel count too (their days)."""
    if not len(touched):
        return touched
    span = touched.groupby("channel_id")["ts"].agg(["min", "max"])
    marks = ",".join(str(int(c)) for c in span.index)
    index_ids = [
        int(r[0])
        for r in conn.execute(
            text(f"SELECT id FROM channel WHERE id IN ({marks}) AND kind = 'index'")
        )
    ]
    extra = []
    for cid in index_ids:  # two indexed probes per index channel touched (a few)
        lo, hi = int(span.at[cid, "min"]), int(span.at[cid, "max"])
        for sql, t in (
            ("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t", lo),
            ("SELECT MIN(ts) FROM reading WHERE channel_id = :c AND ts > :t", hi),
        ):
            near = conn.execute(text(sql), {"c": cid, "t": t}).scalar()
            if near is not None:
                extra.append((cid, int(near)))
    if not extra:
        return touched
    more = pd.DataFrame(extra, columns=["channel_id", "ts"], dtype="int64")
    return pd.concat([touched, more], ignore_index=True)


def _refuse_closed(conn: Connection, n: int, touched: pd.DataFrame) -> None:
    if not len(touched):
        return
    refs = closing.periods_touched(conn, _with_index_neighbours(conn, touched))
    if refs:
        names = ", ".join(f"{r.label} ({r.marker})" for r in refs)
        first = refs[0]
        what = "--month" if first.period_kind == "month" else "--season"
        raise BatchRevertRefused(
            f"annulation refusée : le lot n° {n} changerait une période arrêtée : {names} ;"
            f" rouvrez-la d'abord (carnet settle reopen --contract {first.contract_code}"
            f" {what} {first.period} --why …)"
        )


def _apply_factors(conn: Connection, factors: list[dict]) -> int:
    done = 0
    for f in factors:
        where = {"c": f["channel_id"], "d": f["valid_from"]}
        if f["do"] == "delete":
            conn.execute(
                text("DELETE FROM conversion_factor WHERE channel_id = :c AND valid_from = :d"),
                where,
            )
        elif f["do"] == "restore":
            conn.execute(
                text(
                    "UPDATE conversion_factor SET kwh_per_unit = :k, batch_id = :b"
                    " WHERE channel_id = :c AND valid_from = :d"
                ),
                where | {"k": f["kwh_per_unit"], "b": f["batch_id"]},
            )
        else:
            continue
        done += 1
    return done


def revert_batch(engine: Engine, batch_id: int, *, actor: str, why: str) -> str:
    """Undo batch `batch_id` exactly and return what was done (French). Raises
    `BatchRevertRefused` with the reason; reverting a reverted batch changes nothing."""
    n = int(batch_id)
    why = (why or "").strip()
    if not why:
        raise BatchRevertRefused("annulation refusée : dites pourquoi (--why)")
    now = dt.datetime.now(dt.UTC)
    table = ImportBatch.__table__
    with Session(engine) as session, session.begin():
        _check_actor(session, actor)
        conn = session.connection()
        take_write_lock(conn)  # the readings' lock before any row's: see carnet.store
        # claim it first: a second revert waits here, then finds it reverted
        claimed = conn.execute(
            update(table)
            .where(table.c.id == n, table.c.status.in_(REVERTIBLE))
            .values(status="reverted", reverted_at=now, reverted_by=actor, revert_reason=why)
        ).rowcount
        batch = conn.execute(select(table).where(table.c.id == n)).first()
        if batch is None:
            raise BatchRevertRefused(f"lot d'import n° {n} inconnu")
        if not claimed:
            if batch.status == "reverted":
                return (
                    f"rien à faire : le lot n° {n} est déjà annulé (le "
                    f"{fr_date(_aware(batch.reverted_at))} par {batch.reverted_by})."
                )
            raise BatchRevertRefused(
                f"annulation refusée : le lot n° {n} est « {status_fr(batch.status)} »"
                + (
                    " : il n'a rien enregistré"
                    if batch.status in ("failed", "unreadable")
                    else " : attendez qu'il finisse"
                )
            )
        inserted = _inserted(conn, n)
        overwrites = _overwrites(conn, n)
        built_on = _later_batches(conn, n, overwrites)
        factors, factor_built_on = _factor_changes(conn, n)
        n_indices, indices_built_on = revert_indices(conn, n)
        refused = [r for r in (built_on, factor_built_on, indices_built_on) if r]
        if refused:
            raise BatchRevertRefused(f"annulation refusée : {' ; '.join(refused)}")
        resets = _resets(conn, inserted, overwrites)
        keys = pd.concat([inserted[["channel_id", "ts"]], overwrites[["channel_id", "ts"]]])
        touched = _touched(conn, keys, factors)
        _refuse_closed(conn, n, touched)

        deleted = conn.execute(
            text(
                "DELETE FROM reading WHERE batch_id = :n AND NOT EXISTS (SELECT 1 FROM"
                " reading_overwrite o WHERE o.batch_id = :n AND o.channel_id = reading.channel_id"
                " AND o.ts = reading.ts)"
            ),
            {"n": n},
        ).rowcount
        restored = conn.execute(
            text(
                "UPDATE reading SET value = o.old_value, quality = o.old_quality,"
                " batch_id = o.old_batch_id FROM reading_overwrite o WHERE o.batch_id = :n"
                " AND reading.channel_id = o.channel_id AND reading.ts = o.ts"
                " AND reading.batch_id = :n"
            ),
            {"n": n},
        ).rowcount
        n_factors = _apply_factors(conn, factors)
        for r in resets.itertuples(index=False):
            conn.execute(
                text("DELETE FROM index_reset WHERE channel_id = :c AND ts = :t"),
                {"c": int(r.channel_id), "t": int(r.ts)},
            )
        entries = sorted({int(e) for e in resets["logbook_entry_id"].dropna()})
        for entry_id in entries:
            cancel_entry(
                session,
                Actor(actor, MANAGER),
                entry_id,
                f"Lot d'import n° {n} annulé par {actor} : {why}",
            )
        quarantine = QuarantinedReading.__table__
        released = conn.execute(
            update(quarantine)
            .where(quarantine.c.batch_id == n, quarantine.c.status == "held")
            .values(
                status="rejected",
                decided_at=now,
                decided_by=actor,
                decision_note=f"lot d'import n° {n} annulé : {why}",
            )
        ).rowcount
        touched = pd.concat(
            [touched, resets[["channel_id", "ts"]].astype("int64")], ignore_index=True
        )
        if len(touched):
            refresh_rollups(conn, touched)
        counts = {
            "readings_deleted": int(deleted),
            "readings_restored": int(restored),
            "conversion_factors": int(n_factors),
            "price_indices": int(n_indices),
            "meter_changes": len(resets),
            "quarantine_released": int(released),
        }
        audit.record(
            session,
            actor,
            "revert",
            "import_batch",
            n,
            {"status": batch.status, "source": batch.source},
            {"status": "reverted", "reverted_at": now, "revert_reason": why} | counts,
        )
    return _revert_message(n, counts, batch.source)


def _aware(value) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _revert_message(n: int, counts: dict, source: str) -> str:
    parts = [
        f"{counts['readings_deleted']} relevé(s) supprimé(s)",
        f"{counts['readings_restored']} rétabli(s) à leur valeur précédente",
    ]
    if counts["conversion_factors"]:
        parts.append(f"{counts['conversion_factors']} coefficient(s) de conversion rétabli(s)")
    if counts["price_indices"]:
        parts.append(f"{counts['price_indices']} valeur(s) d'indice de prix annulée(s)")
    if counts["meter_changes"]:
        parts.append(f"{counts['meter_changes']} changement(s) de compteur annulé(s)")
    if counts["quarantine_released"]:
        parts.append(f"{counts['quarantine_released']} relevé(s) en quarantaine écarté(s)")
    name = Path(str(source)).name
    return f"lot n° {n} ({name}) annulé : {', '.join(parts)} ; cumuls recalculés."


def record_factor_change(
    conn: Connection,
    channel_id: int,
    valid_from,
    kwh_per_unit: float,
    batch_id: int | None,
    before: tuple[float, int | None] | None,
    actor: str | None,
) -> None:
    """Audit one conversion factor written by a batch (with the coefficient it replaced), so
    that `revert_batch` can restore it exactly."""
    conn.execute(
        insert(AuditEvent.__table__).values(
            at=dt.datetime.now(dt.UTC),
            actor=actor or "import",
            action="create" if before is None else "update",
            entity="conversion_factor",
            entity_id=f"{int(channel_id)}:{pd.Timestamp(valid_from).date().isoformat()}",
            before=None
            if before is None
            else {"kwh_per_unit": float(before[0]), "batch_id": before[1]},
            after={"kwh_per_unit": float(kwh_per_unit), "batch_id": batch_id},
        )
    )
