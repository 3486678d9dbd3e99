"""What one file's import reports: its counts, its status and its French summary.

Accounting is in values (a line of a wide file carries several):
read = inserted + updated + unchanged + rejected + quarantined (held by `ingest.plausibility`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from carnet import batches
from carnet.quarantine import reason_label
from carnet.timeutil import fr_date


@dataclass
class BatchReport:
    """What happened to one file; `status` is ok, partial (rows rejected), failed, unreadable,
    interrupted (stopped by a signal: nothing written) or in_progress (the same file is being
    imported by another live process, batch `running_batch_id`: nothing done here)."""

    path: str
    batch_id: int | None = None
    format: str | None = None
    sha256: str | None = None
    status: str = "running"
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rows_quarantined: int = 0
    lines_read: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)  # first KEEP_REJECTED_IN_REPORT lines
    previous_batch_id: int | None = None
    meter_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batch_notes: list[str] = field(default_factory=list)  # also in `message` (stored)
    message: str = ""
    running_batch_id: int | None = None  # in_progress: the batch doing the work
    quarantined: list[dict] = field(default_factory=list)  # first KEEP_REJECTED_IN_REPORT held
    quarantine_reasons: dict[str, int] = field(default_factory=dict)  # reason_code -> count
    resumed_batch_ids: list[int] = field(default_factory=list)  # interrupted ones taken over

    @property
    def exit_status(self) -> int:
        if self.status == "in_progress":
            return 3
        if self.status in ("unreadable",):
            return 2
        failed = self.status == "failed"  # a refused strict file, or an unexpected error
        return 1 if self.rows_rejected or self.rows_quarantined or failed else 0

    @property
    def nothing_changed(self) -> bool:
        return self.status == "ok" and self.rows_inserted == 0 and self.rows_updated == 0

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "batch_id": self.batch_id,
            "format": self.format,
            "sha256": self.sha256,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
            "rows_unchanged": self.rows_unchanged,
            "rows_rejected": self.rows_rejected,
            "rows_quarantined": self.rows_quarantined,
            "lines_read": self.lines_read,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "previous_batch_id": self.previous_batch_id,
            "meter_changes": self.meter_changes,
            "notes": self.notes,
            "message": self.message,
            "running_batch_id": self.running_batch_id,
            "resumed_batch_ids": self.resumed_batch_ids,
            "quarantined": self.quarantined,
            "quarantine_reasons": self.quarantine_reasons,
        }


def summary_message(report: BatchReport) -> str:
    if report.nothing_changed:
        msg = f"rien de nouveau : les {report.rows_unchanged} valeurs sont déjà en base."
    else:
        msg = (
            f"{report.rows_inserted} nouvelle(s), {report.rows_updated} mise(s) à jour, "
            f"{report.rows_unchanged} inchangée(s), {report.rows_rejected} rejetée(s)."
        )
    if report.meter_changes:
        msg += " " + " ; ".join(report.meter_changes) + "."
    if report.batch_notes:
        msg += " " + " ; ".join(report.batch_notes) + "."
    if report.rows_quarantined:
        why = ", ".join(
            f"{n} {reason_label(c)}" if len(report.quarantine_reasons) > 1 else reason_label(c)
            for c, n in sorted(report.quarantine_reasons.items(), key=lambda x: -x[1])
        )
        n = report.rows_quarantined
        msg += (
            f" {n} relevé{'s' if n > 1 else ''} mis en quarantaine ({why}) :"
            " voir carnet quarantine list."
        )
    return msg


def nothing_written(report: BatchReport) -> None:
    """The batch's transaction was rolled back: it wrote nothing, and says so."""
    report.rows_inserted = report.rows_updated = report.rows_unchanged = 0
    report.rows_rejected = report.rows_quarantined = 0
    report.rejected, report.quarantined, report.quarantine_reasons = [], [], {}
    report.meter_changes = []
    report.resumed_batch_ids = []


def conclude(report: BatchReport, run, strict: bool, prev, t0: float) -> list[dict]:
    """Status, message and totals of a batch once its rows are through; returns the rejected
    rows of a refused strict file, still to write."""
    pending: list[dict] = []
    if report.status == "running":
        if strict and run is not None and run.failed:
            written = report.rows_inserted + report.rows_updated + report.rows_unchanged
            faulty = report.rows_rejected
            report.rows_rejected += written + run.valid_values
            report.rows_inserted = report.rows_updated = report.rows_unchanged = 0
            report.status = "failed"
            report.meter_changes = []
            report.message = (
                f"mode strict : {faulty} valeur(s) en erreur, rien n'a été importé "
                f"({report.rows_rejected} valeurs écartées)"
            )
            pending = run.pending_rejects
        else:
            report.status = "partial" if report.rows_rejected or report.rows_quarantined else "ok"
            report.message = summary_message(report)
    report.rows_read = (
        report.rows_inserted
        + report.rows_updated
        + report.rows_unchanged
        + report.rows_rejected
        + report.rows_quarantined
    )
    if prev is not None and report.status in ("ok", "partial"):
        report.message += f" Fichier identique au lot n° {prev[0]} du {fr_date(prev[1])}."
    if report.resumed_batch_ids and report.status in ("ok", "partial"):
        names = ", ".join(f"n° {i}" for i in report.resumed_batch_ids)
        report.message += f" Reprend le lot interrompu {names}."
    report.seconds = time.perf_counter() - t0
    report.timings["total"] = report.seconds
    return pending


def in_progress(report: BatchReport, holder: batches.Holder, t0: float) -> BatchReport:
    report.status = "in_progress"
    report.running_batch_id = holder.batch_id
    report.message = holder.message
    report.seconds = time.perf_counter() - t0
    return report
