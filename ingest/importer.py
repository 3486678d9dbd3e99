"""One file, one import batch: read in chunks, route, upsert, account for every value.

Every file becomes an `import_batch` row (SHA-256, counts, timings, status) with its
rejected rows (file, line, raw text, reason). The readings, rejected rows, conversion
factors and meter changes of a file are written in ONE transaction: a crash leaves nothing
half-written. With `strict=True` the file is all-or-nothing: one rejected value and the whole
transaction is rolled back; every value is then counted as rejected and the rejected-rows list
names the lines at fault. Re-importing the same file changes nothing (the store compares each
value) and the summary says so and names the earlier batch with the same checksum.

Accounting is in values (a line of a wide file carries several):
read = inserted + updated + unchanged + rejected + quarantined (held by `ingest.plausibility`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from carnet import batches, db
from carnet.store import take_write_lock
from ingest.batch_report import BatchReport, conclude, in_progress, nothing_written
from ingest.batch_rows import BatchLost, finish_batch, new_batch, previous_batch, write_finish
from ingest.format_detection import open_parser
from ingest.formats.base import FormatParser, Parsed
from ingest.import_run import ImportRun
from ingest.profiles import ColumnProfile
from ingest.rejects import stored_text
from ingest.routing import Routing
from ingest.sniff import (
    Sniffed,
    Table,
    UnreadableFile,
    iter_tables,
    sniff,
)

CHUNK_LINES = 200_000
HALF_FIRST_MIN_LINES = 50_000  # a smaller file is one chunk: a chunk's own steps cost more
log = logging.getLogger(__name__)


class _StrictAbort(Exception):
    """Raised inside the transaction to roll a strict batch back."""


def _take_over(conn, report: BatchReport, interrupted) -> None:
    """Name the interrupted batches of the same file in this one, and account for any reading
    they left committed (moved from unchanged to inserted: this batch now holds them)."""
    if not interrupted:
        return
    report.resumed_batch_ids = [i for i, _ in interrupted]
    adopted = batches.take_over(conn, report.batch_id, interrupted)
    moved = min(adopted, report.rows_unchanged)
    report.rows_unchanged -= moved
    report.rows_inserted += moved


def import_file(
    engine: Engine,
    path: str | Path,
    fmt: str | None = None,
    strict: bool = False,
    user: str | None = None,
    allowed_channel_ids: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_lines: int = CHUNK_LINES,
    source_name: str | None = None,
    columns: str | dict | None = None,
) -> BatchReport:
    """Import one file as one batch and return its report (never raises for bad content).

    `allowed_channel_ids` restricts the import to these channels (a contractor's contract):
    values for any other channel are rejected with the reason. `source_name` is the name shown
    and stored for the file (an uploaded file's original name); `progress(done, total)` is
    called with bytes read so far. `columns` names the columns of a generic-long file
    (`"channel=Capteur,timestamp=Quand,value=Mesure"`, see `ingest.formats.generic`), or is
    a saved profile (`ingest.profiles.ColumnProfile`) saying how to read the whole file.

    Crash consistency: the batch row is committed first (`running`, with its owner and its
    lock held); its readings, rejected and held rows, counts and status then commit in ONE
    transaction. A file whose content is being imported by another live process is not
    imported again: the report says `in_progress` and names that batch. Dead batches are
    marked `interrupted` first; one of the same file is taken over by this import.
    """
    path = Path(path)
    source = source_name or str(path)
    t0 = time.perf_counter()
    guess = "profile" if isinstance(columns, ColumnProfile) else "generic-long"
    report = BatchReport(path=source, format=fmt or (guess if columns else None))
    try:
        sn = sniff(path)
        report.sha256 = sn.sha256
    except (UnreadableFile, OSError) as exc:
        sn = None
        error = exc
    with engine.connect() as conn:
        routing = Routing(conn)
    parser = None
    if sn is not None:
        try:
            parser, sn = open_parser(sn, routing, fmt, columns)
            report.format = parser.name
        except UnreadableFile as exc:
            error = exc
    report.timings["analyse"] = time.perf_counter() - t0
    if parser is None:
        batches.mark_interrupted(engine)
        locks = batches.Locks(engine)  # running for an instant, but never without its lock
        try:
            report.batch_id = new_batch(
                engine, Path(source), report.format, report.sha256, user, locks
            )
            report.status = "unreadable"
            report.message = str(error)
            report.seconds = time.perf_counter() - t0
            finish_batch(engine, report)
        finally:
            locks.release()
        return report
    locks = batches.Locks(engine)
    try:
        holder = batches.claim_file(locks, sn.sha256)
        if holder is not None:
            return in_progress(report, holder, t0)
        batches.mark_interrupted(engine)
        interrupted = batches.pending_interrupted(engine, sn.sha256)
        report.batch_id = new_batch(engine, Path(source), report.format, report.sha256, user, locks)
        batches.checkpoint("batch_created")
        job = _Job(
            sn,
            parser,
            routing,
            source,
            strict,
            user,
            allowed_channel_ids,
            progress,
            chunk_lines,
            interrupted,
            t0,
        )
        _run_batch(engine, report, job)
        batches.checkpoint("after_commit")
    finally:
        locks.release()
    return report


@dataclass
class _Job:
    """What `_run_batch` needs of `import_file`'s arguments and analysis."""

    sn: Sniffed
    parser: FormatParser
    routing: Routing
    source: str
    strict: bool
    user: str | None
    allowed: Iterable[int] | None
    progress: Callable[[int, int], None] | None
    chunk_lines: int
    interrupted: list
    t0: float


_END = object()


def balanced_chunk_lines(chunk_lines: int, lines: int) -> int:
    """Chunks of equal size, at most `chunk_lines`, for a file of about `lines` lines: the
    next chunk is parsed while this one is written, and a short last chunk left that overlap
    idle (240 000 lines: two of 120 000, not 200 000 and 40 000; 1.2 M: six of 200 000)."""
    if lines <= chunk_lines:
        return chunk_lines
    chunks = -(-lines // chunk_lines)
    return -(-lines // chunks)


def chunk_sizes(chunk_lines: int, lines: int) -> tuple[int, int]:
    """(first, then): the lines of the first chunk and of each one after it, for a file of
    about `lines` lines. The first is half the others: the writer waits for it alone, and
    the next, twice its size, is parsed in about the time its rows take to be written
    (240 000 lines: 60 000, then two of 90 000; 1.2 M: 100 000, then six of 183 334).
    Chunks of equal size after it (`balanced_chunk_lines`)."""
    whole = balanced_chunk_lines(chunk_lines, lines)
    if lines < max(HALF_FIRST_MIN_LINES, 2):
        return whole, whole
    whole = min(whole, lines)
    first = max(whole // 2, 1)
    return first, balanced_chunk_lines(whole, lines - first)


class _Reader:
    """The file's tables, each with its parse and the seconds reading, splitting and parsing
    it took, prepared one chunk ahead (never more: memory holds two chunks) by a worker
    thread, which reads the next chunk while the database takes this one's rows. It starts
    on a chunk when the writer says it is about to wait on the database (`ahead`, called
    just before the rows are sent) or asks for the next chunk, whichever comes first, not as
    soon as this chunk is handed over: splitting and parsing hold the interpreter, and the
    writer's own checks of the chunk (plausibility, typing, closed periods) ran several times
    slower beside them while the database sat idle. Only the worker touches the parser until
    the end of the file, and it never touches the database; its error is raised here, in
    the file's order. `close()` (an error, a signal) stops the worker after its current
    chunk."""

    def __init__(self, job: _Job) -> None:
        self._job = job
        self._pending: queue.Queue = queue.Queue()
        self._go = threading.Semaphore(0)  # one release per chunk handed over
        self._stop = threading.Event()
        self._owed = False  # a chunk was handed over and the worker not yet let go on
        self._worker = threading.Thread(target=self._work, name="carnet-import-lecture",
                                        daemon=True)  # fmt: skip
        self._worker.start()

    def _work(self) -> None:
        job = self._job
        first, size = chunk_sizes(job.chunk_lines, job.sn.newlines - job.parser.header_line)
        tables = iter_tables(job.sn, job.parser.header_line, size, first)
        try:
            while not self._stop.is_set():
                t = time.perf_counter()
                table = next(tables, None)
                if table is None:
                    break
                parsed = job.parser.parse(table)
                self._pending.put((table, parsed, time.perf_counter() - t))
                while not self._go.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
            self._pending.put(_END)
        except BaseException as exc:  # raised again by the reader, in the file's order
            self._pending.put(exc)
        finally:
            tables.close()

    def ahead(self) -> None:
        """The writer is about to wait on the database: the worker reads the next chunk."""
        if self._owed:
            self._owed = False
            self._go.release()

    def __iter__(self) -> Iterator[tuple[Table, Parsed, float]]:
        while True:
            self.ahead()  # at the latest when the next chunk is asked for
            item = self._pending.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            self._owed = True
            yield item

    def close(self) -> None:
        self._stop.set()
        self._worker.join()


def _run_batch(engine: Engine, report: BatchReport, job: _Job) -> None:
    """Read, write and account for the file in one transaction, counts included."""
    prev = previous_batch(engine, job.sn.sha256, report.batch_id)
    if prev is not None:
        report.previous_batch_id = prev[0]
    run = None
    pending: list[dict] = []
    try:
        with engine.begin() as conn:
            take_write_lock(conn)  # what the run reads before writing is read under the lock
            db.no_jit(conn)  # PostgreSQL: per-channel seeks compiled at every statement
            run = ImportRun(
                conn,
                report,
                job.routing,
                job.source,
                report.batch_id,
                job.strict,
                job.user,
                job.allowed,
            )
            done = 0
            with closing(_Reader(job)) as chunks:  # closed: the worker stops at once
                for table, parsed, seconds in chunks:
                    report.timings["lecture"] = report.timings.get("lecture", 0.0) + seconds
                    report.lines_read += len(table)
                    run.take(parsed, table, ahead=chunks.ahead)
                    batches.checkpoint("mid_write")
                    if job.progress is not None:
                        done += table.n_chars
                        job.progress(min(done, job.sn.size_bytes), job.sn.size_bytes)
            t = time.perf_counter()
            tail = job.parser.finish()
            run.add_time("lecture", t)
            if tail is not None:
                run.take(tail)
            run.finish_rejects()  # the rejected rows beyond the kept ones, by reason
            if job.strict and run.failed:
                raise _StrictAbort
            run.refresh()
            _take_over(conn, report, job.interrupted)
            conclude(report, run, job.strict, prev, job.t0)
            write_finish(conn, report)  # the counts commit with the readings, or neither
            batches.checkpoint("before_commit")
        return
    except _StrictAbort:
        pending = conclude(report, run, job.strict, prev, job.t0)
    except UnreadableFile as exc:
        nothing_written(report)
        report.status = "unreadable"
        report.message = str(exc)
        conclude(report, run, job.strict, prev, job.t0)
    except BatchLost:
        nothing_written(report)
        report.status = "interrupted"
        report.message = (
            "interrompu : ce lot a été déclaré interrompu par un autre processus pendant"
            " l'import (verrou perdu) ; rien n'a été enregistré, réimportez le fichier"
        )
        conclude(report, run, job.strict, prev, job.t0)
        return
    except (KeyboardInterrupt, SystemExit) as exc:  # SIGINT, SIGTERM (see carnet import)
        nothing_written(report)
        report.status = "interrupted"
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "signal d'arrêt"
        report.message = (
            f"interrompu ({why}) avant la fin : rien de ce lot n'a été enregistré,"
            " réimportez le fichier"
        )
        conclude(report, run, job.strict, prev, job.t0)
        finish_batch(engine, report)
        raise
    except Exception as exc:  # a bug or a database refusal: the transaction is rolled back
        log.warning("import de %s : erreur inattendue : %s", job.source, exc)
        log.debug("détail de l'erreur", exc_info=True)  # the traceback, when asked for
        nothing_written(report)  # the batch claims no row it did not write
        report.rejected = []
        report.status = "failed"
        report.message = stored_text(
            f"erreur inattendue, rien n'a été importé : {type(exc).__name__}: {exc}", 1000
        )
        conclude(report, run, job.strict, prev, job.t0)
    finish_batch(engine, report, pending)


# --- reading batches back ----------------------------------------------------------------------


def batch_rejected(engine: Engine, batch_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT line_no, raw, reason, file FROM rejected_row WHERE batch_id = :b"
                " ORDER BY line_no, id"
            ),
            conn,
            params={"b": int(batch_id)},
        )
