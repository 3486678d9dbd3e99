"""The `import_batch` row of a file: created `running` with its lock, finished with its counts."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from carnet import batches
from carnet.models import ImportBatch, RejectedRow
from ingest.batch_report import BatchReport


def new_batch(
    engine: Engine,
    path: Path,
    fmt: str | None,
    sha: str | None,
    user,
    locks: batches.Locks | None = None,
) -> int:
    """The batch row, visible as `running` with its owner; its lock is taken before the row
    is committed, so that whoever sees it running can tell whether its process lives."""
    host, pid = batches.owner()
    with engine.begin() as conn:
        batch_id = conn.execute(
            insert(ImportBatch.__table__)
            .values(
                source=str(path),
                origin="csv",
                format=fmt,
                sha256=sha,
                user_login=user,
                started_at=dt.datetime.now(dt.UTC),
                status="running",
                host=host,
                pid=pid,
            )
            .returning(ImportBatch.__table__.c.id)
        ).scalar_one()
        if locks is not None and not locks.try_batch(batch_id):
            raise RuntimeError(f"verrou du lot n° {batch_id} déjà pris")  # ids are never reused
    return batch_id


class BatchLost(Exception):
    """The batch was marked interrupted by another process while this one ran (its lock was
    lost): its transaction is rolled back, nothing of it is kept."""


def write_finish(conn, report: BatchReport, pending: Iterable[dict] = ()) -> None:
    """Counts and status of a running batch, on `conn` (the readings' own transaction)."""
    pending = list(pending)
    if pending:
        conn.execute(insert(RejectedRow.__table__), pending)
    table = ImportBatch.__table__
    done = conn.execute(
        update(table)
        .where(table.c.id == report.batch_id, table.c.status == "running")
        .values(
            format=report.format,
            finished_at=dt.datetime.now(dt.UTC),
            rows_read=report.rows_read,
            rows_inserted=report.rows_inserted,
            rows_updated=report.rows_updated,
            rows_unchanged=report.rows_unchanged,
            rows_rejected=report.rows_rejected,
            rows_quarantined=report.rows_quarantined,
            status=report.status,
            message=report.message,
        )
    ).rowcount
    if not done:
        raise BatchLost


def finish_batch(engine: Engine, report: BatchReport, pending: Iterable[dict] = ()) -> None:
    """Counts and status in their own transaction: for a batch that wrote no reading."""
    with contextlib.suppress(BatchLost), engine.begin() as conn:
        write_finish(conn, report, pending)


def previous_batch(engine: Engine, sha: str, batch_id: int) -> tuple[int, dt.datetime] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportBatch.id, ImportBatch.started_at)
            .where(
                ImportBatch.sha256 == sha,
                ImportBatch.id != batch_id,
                ImportBatch.status.in_(("ok", "partial")),
            )
            .order_by(ImportBatch.id.desc())
            .limit(1)
        ).first()
    return None if row is None else (int(row[0]), row[1])
