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

import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, text, update

from carnet import batches
from carnet.models import ConversionFactor, ImportBatch, Quality, RejectedRow
from carnet.quarantine import hold, reason_label
from carnet.store import duplicated_keys, refresh_rollups, upsert_readings
from carnet.timeutil import fr_date
from ingest import limits
from ingest.formats import EXPECTED, FORMATS, generic
from ingest.formats.base import FormatParser, Parsed
from ingest.limits import fr_int
from ingest.meters import mark_meter_changes, record_meter_changes
from ingest.plausibility import channel_limits, screen
from ingest.routing import Routing
from ingest.sniff import (
    SEPARATORS,
    Sniffed,
    UnreadableFile,
    detect_decimal,
    iter_tables,
    sniff,
)

CHUNK_LINES = 200_000
log = logging.getLogger(__name__)
KEEP_REJECTED_IN_REPORT = limits.MAX_REJECTED_KEPT  # rejected rows kept whole per batch
KNOWN_ROWS_MAX = 5_000_000  # readings kept in memory to spare the rollups a re-read


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


class _StrictAbort(Exception):
    """Raised inside the transaction to roll a strict batch back."""


def _separators(sn: Sniffed) -> list[Sniffed]:
    """The sniffed file, then the same with each other separator: the header decides when the
    data lines are ambiguous (a French file's decimal commas, a few corrupt lines)."""
    if sn.is_xlsx:
        return [sn]
    others = [s for s in SEPARATORS if s != sn.sep]
    return [sn] + [
        dataclasses.replace(sn, sep=s, decimal=detect_decimal(sn.head, s)) for s in others
    ]


def detect_format(sn: Sniffed, routing: Routing) -> tuple[str, Sniffed]:
    for candidate in _separators(sn):
        for name, (detect, _factory) in FORMATS.items():
            if detect(candidate, routing):
                return name, candidate
    expected = " ; ".join(f"{name} : {what}" for name, what in EXPECTED.items())
    raise UnreadableFile(
        f"{sn.path.name} : format non reconnu ; colonnes trouvées : "
        f"{generic.found_text(generic.header_fields(sn))} ; attendues pour {expected} ; "
        f"{generic.COLUMNS_HINT} (ou --format pour imposer un format)"
    )


def open_parser(
    sn: Sniffed, routing: Routing, fmt: str | None, columns=None
) -> tuple[FormatParser, Sniffed]:
    """The parser of the file (format detected unless `fmt`); `columns` (a `--columns` text
    or a role -> label dict) names the columns of a generic-long file."""
    if columns is not None:
        if fmt not in (None, "generic-long"):
            raise UnreadableFile(f"--columns ne s'applique qu'au format generic-long (pas à {fmt})")
        fmt = "generic-long"
    if fmt is None:
        fmt, sn = detect_format(sn, routing)
    if fmt not in FORMATS:
        raise UnreadableFile(f"format inconnu « {fmt} » (formats : {', '.join(FORMATS)})")
    error = None
    for candidate in _separators(sn):
        try:
            factory = FORMATS[fmt][1]
            if columns is not None:
                parser = factory(candidate, routing, columns=columns)
            else:
                parser = factory(candidate, routing)
        except ValueError as exc:
            error = error or exc
            continue
        parser.name = fmt
        return parser, candidate
    raise UnreadableFile(f"{sn.path.name} n'est pas au format {fmt} : {error}")


class _Run:
    """The state of one import inside its transaction."""

    def __init__(self, conn, report, routing, source, batch_id, strict, user, allowed):
        self.conn, self.report, self.routing = conn, report, routing
        self.source, self.batch_id, self.strict, self.user = source, batch_id, strict, user
        self.allowed = None if allowed is None else np.array(sorted(allowed), dtype="int64")
        self.touched: list[pd.DataFrame] = []
        self.pending_rejects: list[dict] = []
        self.failed = False
        self.changed_factors = 0
        self.valid_values = 0
        self.known: list[pd.DataFrame] | None = []
        self.known_rows = 0

    # -- one parsed piece -------------------------------------------------------------------
    def take(self, parsed: Parsed, table=None) -> None:
        self._table, self._parsed_raw = table, parsed.raw
        frame = parsed.readings
        rejects = [parsed.rejects] if len(parsed.rejects) else []
        self.report.notes.extend(parsed.notes)
        for note in parsed.batch_notes:
            if note not in self.report.batch_notes:
                self.report.batch_notes.append(note)
                self.report.notes.append(note)
        if self.allowed is not None and len(frame):
            outside = ~frame["channel_id"].isin(self.allowed).to_numpy()
            if outside.any():
                codes = frame["channel_id"][outside].map(self.routing.channels["code"])
                rejects.append(
                    pd.DataFrame(
                        {
                            "line_no": frame["line_no"][outside].to_numpy(),
                            "raw": None,
                            "reason": [
                                f"le point de mesure {c} n'appartient pas à votre contrat"
                                for c in codes
                            ],
                            "n_values": 1,
                        }
                    )
                )
                frame = frame[~outside]
        frame, dup_rejects, dup_same = self._dedupe(frame)
        if len(dup_rejects):
            rejects.append(dup_rejects)
        self.report.rows_unchanged += dup_same
        # physical plausibility: what the equipment cannot have done waits in quarantine
        t = time.perf_counter()
        if getattr(self, "_limits", None) is None:
            self._limits = channel_limits(self.conn)
        frame, held = screen(self.conn, frame, self._limits)
        if len(held):
            labels = held["reason_code"].map(reason_label)
            if self.strict:  # all or nothing: a held reading fails the file like a rejected one
                rejects.append(
                    pd.DataFrame(
                        {
                            "line_no": held["line_no"].to_numpy(),
                            "raw": None,
                            "reason": ("invraisemblable (" + labels + ") : " + held["reason"]),
                            "n_values": 1,
                        }
                    )
                )
            else:
                lines = held["line_no"].to_numpy()
                raw = np.full(len(held), None, dtype=object)
                if table is not None and len(table):
                    pos = np.minimum(np.searchsorted(table.line_no, lines), len(table) - 1)
                    found = table.line_no[pos] == lines
                    raw[found] = table.raw_at(pos[found])
                else:
                    raw[:] = self._raw_of(pd.DataFrame({"line_no": lines, "raw": None}))
                hold(self.conn, held.assign(raw=raw), batch_id=self.batch_id, file=self.source)
                self.report.rows_quarantined += len(held)
                tally = self.report.quarantine_reasons
                for code, n in held["reason_code"].value_counts().items():
                    tally[code] = tally.get(code, 0) + int(n)
                room = max(KEEP_REJECTED_IN_REPORT - len(self.report.quarantined), 0)
                codes = held["channel_id"].map(self.routing.channels["code"])
                self.report.quarantined.extend(
                    {"line_no": int(n), "channel": c, "reason_code": r, "reason": why}
                    for n, c, r, why in zip(
                        lines[:room],
                        codes.iloc[:room],
                        held["reason_code"].iloc[:room],
                        held["reason"].iloc[:room],
                        strict=True,
                    )
                )
        self._time("plausibilité", t)
        self._reject(rejects)
        if not len(frame):
            return
        frame, resets, notes = mark_meter_changes(frame, self.routing)
        self.report.notes.extend(notes)
        if self.strict and (self.failed or self.report.rows_rejected):
            self.failed = True
            self.valid_values += len(frame)
            return
        t = time.perf_counter()
        counts = upsert_readings(self.conn, frame, batch_id=self.batch_id, refresh=False)
        self._time("écriture", t)
        self._remember(frame, counts)
        self.report.rows_inserted += counts.inserted
        self.report.rows_updated += counts.updated
        self.report.rows_unchanged += counts.unchanged
        if counts.held:  # later data for a closed period waits: a pending regularisation
            self.report.rows_quarantined += counts.held
            tally = self.report.quarantine_reasons
            tally["closed_period"] = tally.get("closed_period", 0) + counts.held
            for ref in counts.held_periods:
                note = (
                    f"période arrêtée {ref.label} ({ref.marker}) : valeurs en attente de"
                    " régularisation, non appliquées (carnet settle pending)"
                )
                if note not in self.report.notes:
                    self.report.notes.append(note)
        if len(resets):
            self.report.meter_changes += record_meter_changes(
                self.conn, resets, self.routing, self.source, self.batch_id, self.user
            )
        if counts.inserted or counts.updated or len(resets):
            self.touched.append(frame.groupby("channel_id")["ts"].agg(["min", "max"]).reset_index())
        if parsed.factors is not None and len(parsed.factors):
            self._factors(parsed.factors)

    def _remember(self, frame: pd.DataFrame, counts) -> None:
        """Keep what was written while every value is a plain insert, so that the rollups
        need not read it back (bounded: a huge file falls back to reading the table)."""
        if self.known is None:
            return
        self.known_rows += len(frame)
        if counts.updated or counts.unchanged or counts.held or self.known_rows > KNOWN_ROWS_MAX:
            self.known = None
            return
        # as the store normalises it: a missing value is a gap whatever the flag said
        quality = frame["quality"].to_numpy(dtype="int64", copy=True)
        value = frame["value"].to_numpy(dtype=float)
        quality[np.isnan(value) & (quality < Quality.GAP)] = int(Quality.GAP)
        self.known.append(
            pd.DataFrame(
                {
                    "channel_id": frame["channel_id"].to_numpy(dtype="int64"),
                    "ts": frame["ts"].to_numpy(dtype="int64"),
                    "value": value,
                    "quality": quality,
                }
            )
        )

    def _dedupe(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """Same channel and instant twice in a piece: the last line wins; an earlier line with
        the same value is unchanged, one with another value is rejected and says which won."""
        dup = duplicated_keys(frame["channel_id"].to_numpy(), frame["ts"].to_numpy())
        if not dup.any():
            return frame, pd.DataFrame(), 0
        kept = frame[~dup]
        winner = frame[dup].merge(
            kept[["channel_id", "ts", "value", "quality", "line_no"]],
            on=["channel_id", "ts"],
            suffixes=("", "_kept"),
        )
        same = (
            (winner["value"] == winner["value_kept"])
            | (winner["value"].isna() & winner["value_kept"].isna())
        ) & (winner["quality"] == winner["quality_kept"])
        differ = winner[~same]
        rej = pd.DataFrame(
            {
                "line_no": differ["line_no"].to_numpy(),
                "raw": None,
                "reason": [
                    f"doublon : même point et même instant que la ligne {n}, dont la valeur"
                    " est retenue"
                    for n in differ["line_no_kept"]
                ],
                "n_values": 1,
            }
        )
        return kept, rej, int(same.sum())

    def _reject(self, parts: list[pd.DataFrame]) -> None:
        """Rejected values: all counted; the batch's first MAX_REJECTED_KEPT rows kept whole
        (raw text cut to MAX_RAW_CHARS, NUL made visible), the others only summarised by
        reason with one sample each (written by `finish_rejects`): a file of a million bad
        cells costs a thousand rows, not a million copies of its lines."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return
        rej = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if not rej["line_no"].is_monotonic_increasing:
            rej = rej.sort_values("line_no", kind="stable", ignore_index=True)
        self.report.rows_rejected += int(rej["n_values"].sum())
        if self.strict:
            self.failed = True
        kept_so_far = getattr(self, "_kept_rejects", 0)
        room = max(KEEP_REJECTED_IN_REPORT - kept_so_far, 0)
        kept, rest = rej.iloc[:room], rej.iloc[room:]
        if len(rest):
            self._summarise(rest)
        if not len(kept):
            return
        records = self._records(kept)
        self._kept_rejects = kept_so_far + len(records)
        self.report.rejected.extend(
            {k: r[k] for k in ("line_no", "raw", "reason")} for r in records
        )
        if self.strict:
            self.pending_rejects.extend(records)
        else:
            self.conn.execute(insert(RejectedRow.__table__), records)

    def _raw_of(self, frame: pd.DataFrame) -> list:
        """Raw text of rejected rows: given, else from the chunk's table by line number, else
        from the parser's lines (a dict, or `RawLines` read again in one pass)."""
        raw = frame["raw"].to_numpy(dtype=object).copy()
        missing = np.flatnonzero(pd.isna(raw))
        if len(missing):
            want = frame["line_no"].to_numpy()[missing].astype("int64")
            table = self._table
            if table is not None and len(table):
                pos = np.minimum(np.searchsorted(table.line_no, want), len(table) - 1)
                found = table.line_no[pos] == want
                raw[missing[found]] = table.raw_at(pos[found])
            elif self._parsed_raw is not None:
                lookup = self._parsed_raw
                if hasattr(lookup, "fetch"):
                    lookup = lookup.fetch(want.tolist())
                raw[missing] = [lookup.get(int(n)) for n in want]
        return [_stored_text(r, limits.MAX_RAW_CHARS) for r in raw]  # bounded, NUL-free

    def _records(self, frame: pd.DataFrame) -> list[dict]:
        return [
            {
                "batch_id": self.batch_id,
                "file": self.source[:500],
                "line_no": None if pd.isna(n) else int(n),
                "raw": _stored_text(r, limits.MAX_RAW_CHARS),
                "reason": _stored_text(str(why), limits.MAX_REASON_CHARS),
            }
            for n, r, why in zip(
                frame["line_no"], self._raw_of(frame), frame["reason"], strict=True
            )
        ]

    def _summarise(self, rest: pd.DataFrame) -> None:
        """Count the rows beyond the kept ones by reason (values quoted or counted in it
        blanked out), keeping the first of each as its sample; bounded in reasons too."""
        summary: dict = self.__dict__.setdefault("_reject_summary", {})
        codes, uniques = pd.factorize(rest["reason"].astype(str))  # few distinct reasons
        blank = pd.Series(uniques, dtype=object).str.replace(r"« [^»]*»", "« … »", regex=True)
        blank = blank.str.replace(r"\d[\d\u00a0\u202f ,.]*", "#", regex=True)
        keys = blank.to_numpy(dtype=object)[codes]
        groups = rest["n_values"].groupby(keys, sort=False)
        totals = groups.sum()
        rows = groups.size()
        first = pd.Series(np.arange(len(rest))).groupby(keys, sort=False).first()
        first = first[~first.index.isin(list(summary))]
        if len(first):
            samples = self._records(rest.iloc[first.to_numpy()])
            for key, sample in zip(first.index, samples, strict=True):
                if len(summary) >= limits.MAX_REASON_GROUPS:
                    key = "\x00autres"
                    sample = summary.get(key, {}).get("sample", sample)
                summary.setdefault(key, {"sample": sample, "values": 0, "rows": 0})
        for key in totals.index:
            entry = summary.get(key) or summary["\x00autres"]
            entry["values"] += int(totals[key])
            entry["rows"] += int(rows[key])

    def finish_rejects(self) -> None:
        """One row per summarised reason (its count and its sample), and a note."""
        summary: dict = self.__dict__.get("_reject_summary", {})
        if not summary:
            return
        records = []
        for key, entry in summary.items():
            sample = dict(entry["sample"])
            other = " (autres motifs)" if key == "\x00autres" else ""
            sample["reason"] = _stored_text(
                f"[résumé{other}] {fr_int(entry['rows'])} rejet(s) de plus pour ce motif "
                f"({fr_int(entry['values'])} valeur(s)), non détaillé(s) : au-delà de "
                f"{fr_int(KEEP_REJECTED_IN_REPORT)} rejets par lot, un exemple par motif ; "
                f"exemple, ligne {sample['line_no']} : {sample['reason']}",
                limits.MAX_REASON_CHARS,
            )
            records.append(sample)
        self.report.rejected.extend(
            {k: r[k] for k in ("line_no", "raw", "reason")} for r in records
        )
        rows = sum(e["rows"] for e in summary.values())
        self.report.notes.append(
            f"{fr_int(rows)} rejet(s) au-delà des {fr_int(KEEP_REJECTED_IN_REPORT)} premiers : "
            f"comptés et résumés par motif ({len(records)} motif(s), un exemple chacun)"
        )
        self._reject_summary = {}
        if self.strict:
            self.pending_rejects.extend(records)
        else:
            self.conn.execute(insert(RejectedRow.__table__), records)

    def _factors(self, factors: pd.DataFrame) -> None:
        """Conversion coefficients: keep a row where the coefficient changes (valid_from)."""
        for cid, grp in factors.sort_values(["channel_id", "valid_from"]).groupby("channel_id"):
            grp = grp.dropna(subset=["kwh_per_unit"])
            if not len(grp):
                continue
            first = grp["valid_from"].iloc[0]
            in_force = self.conn.execute(
                text(
                    "SELECT kwh_per_unit FROM conversion_factor WHERE channel_id = :c"
                    " AND valid_from <= :d ORDER BY valid_from DESC LIMIT 1"
                ),
                {"c": int(cid), "d": first},
            ).scalar()
            k = grp["kwh_per_unit"].to_numpy(dtype=float)
            prev = np.concatenate([[np.nan if in_force is None else float(in_force)], k[:-1]])
            change = ~np.isclose(k, prev, rtol=0, atol=1e-9)
            for day, value in zip(grp["valid_from"][change], k[change], strict=True):
                existing = self.conn.execute(
                    select(ConversionFactor.kwh_per_unit, ConversionFactor.batch_id).where(
                        ConversionFactor.channel_id == int(cid),
                        ConversionFactor.valid_from == day,
                    )
                ).first()
                batches.record_factor_change(  # what a revert of this batch restores
                    self.conn, cid, day, value, self.batch_id, existing, self.user
                )
                if existing is None:
                    self.conn.execute(
                        insert(ConversionFactor.__table__).values(
                            channel_id=int(cid),
                            valid_from=day,
                            kwh_per_unit=float(value),
                            batch_id=self.batch_id,
                        )
                    )
                else:
                    self.conn.execute(
                        update(ConversionFactor.__table__)
                        .where(
                            ConversionFactor.channel_id == int(cid),
                            ConversionFactor.valid_from == day,
                        )
                        .values(kwh_per_unit=float(value), batch_id=self.batch_id)
                    )
                self.changed_factors += 1
            # a day whose coefficient equals the one in force needs no row; a stale row there
            # (from an earlier, wrong file) would be corrected by the change rows above
            self.touched.append(
                pd.DataFrame(
                    {
                        "channel_id": [int(cid)],
                        "min": [int(pd.Timestamp(grp["valid_from"].min()).timestamp())],
                        "max": [int(pd.Timestamp(grp["valid_from"].max()).timestamp()) + 86400],
                    }
                )
            )

    def _time(self, label: str, start: float) -> None:
        self.report.timings[label] = self.report.timings.get(label, 0.0) + (
            time.perf_counter() - start
        )

    def refresh(self) -> None:
        if not self.touched:
            return
        t = time.perf_counter()
        spans = pd.concat(self.touched).groupby("channel_id").agg({"min": "min", "max": "max"})
        frame = pd.DataFrame(
            {
                "channel_id": np.repeat(spans.index.to_numpy(dtype="int64"), 2),
                "ts": np.column_stack([spans["min"], spans["max"]]).ravel().astype("int64"),
            }
        )
        known = pd.concat(self.known, ignore_index=True) if self.known else None
        refresh_rollups(self.conn, frame, known=known)
        self._time("cumuls journaliers", t)


def _stored_text(value, cap: int) -> str | None:
    """Text as the database can hold it: NUL (refused by PostgreSQL) shown as ␀, lone
    surrogates replaced, cut to `cap` characters with an ellipsis."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    if len(text) > cap:
        text = text[: cap - 1] + "…"
    if "\x00" in text:
        text = text.replace("\x00", "\u2400")
    return text.encode("utf-8", "replace").decode("utf-8")


def _new_batch(
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


class _BatchLost(Exception):
    """The batch was marked interrupted by another process while this one ran (its lock was
    lost): its transaction is rolled back, nothing of it is kept."""


def _write_finish(conn, report: BatchReport, pending: Iterable[dict] = ()) -> None:
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
        raise _BatchLost


def _finish_batch(engine: Engine, report: BatchReport, pending: Iterable[dict] = ()) -> None:
    """Counts and status in their own transaction: for a batch that wrote no reading."""
    with contextlib.suppress(_BatchLost), engine.begin() as conn:
        _write_finish(conn, report, pending)


def _nothing_written(report: BatchReport) -> None:
    """The batch's transaction was rolled back: it wrote nothing, and says so."""
    report.rows_inserted = report.rows_updated = report.rows_unchanged = 0
    report.rows_rejected = report.rows_quarantined = 0
    report.rejected, report.quarantined, report.quarantine_reasons = [], [], {}
    report.meter_changes = []
    report.resumed_batch_ids = []


def _previous(engine: Engine, sha: str, batch_id: int) -> tuple[int, dt.datetime] | None:
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


def _conclude(report: BatchReport, run, strict: bool, prev, t0: float) -> list[dict]:
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


def _in_progress(report: BatchReport, holder: batches.Holder, t0: float) -> BatchReport:
    report.status = "in_progress"
    report.running_batch_id = holder.batch_id
    report.message = holder.message
    report.seconds = time.perf_counter() - t0
    return report


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
    (`"channel=Capteur,timestamp=Quand,value=Mesure"`, see `ingest.formats.generic`).

    Crash consistency: the batch row is committed first (`running`, with its owner and its
    lock held); its readings, rejected and held rows, counts and status then commit in ONE
    transaction. A file whose content is being imported by another live process is not
    imported again: the report says `in_progress` and names that batch. Dead batches are
    marked `interrupted` first; one of the same file is taken over by this import.
    """
    path = Path(path)
    source = source_name or str(path)
    t0 = time.perf_counter()
    report = BatchReport(path=source, format=fmt or ("generic-long" if columns else None))
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
            report.batch_id = _new_batch(
                engine, Path(source), report.format, report.sha256, user, locks
            )
            report.status = "unreadable"
            report.message = str(error)
            report.seconds = time.perf_counter() - t0
            _finish_batch(engine, report)
        finally:
            locks.release()
        return report
    locks = batches.Locks(engine)
    try:
        holder = batches.claim_file(locks, sn.sha256)
        if holder is not None:
            return _in_progress(report, holder, t0)
        batches.mark_interrupted(engine)
        interrupted = batches.pending_interrupted(engine, sn.sha256)
        report.batch_id = _new_batch(
            engine, Path(source), report.format, report.sha256, user, locks
        )
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


def _run_batch(engine: Engine, report: BatchReport, job: _Job) -> None:
    """Read, write and account for the file in one transaction, counts included."""
    prev = _previous(engine, job.sn.sha256, report.batch_id)
    if prev is not None:
        report.previous_batch_id = prev[0]
    run = None
    pending: list[dict] = []
    try:
        with engine.begin() as conn:
            run = _Run(
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
            tables = iter_tables(job.sn, job.parser.header_line, job.chunk_lines)
            while True:
                t = time.perf_counter()
                table = next(tables, None)  # reading and splitting count as "lecture" too
                if table is None:
                    break
                parsed = job.parser.parse(table)
                run._time("lecture", t)
                report.lines_read += len(table)
                run.take(parsed, table)
                batches.checkpoint("mid_write")
                if job.progress is not None:
                    done += table.n_chars
                    job.progress(min(done, job.sn.size_bytes), job.sn.size_bytes)
            t = time.perf_counter()
            tail = job.parser.finish()
            run._time("lecture", t)
            if tail is not None:
                run.take(tail)
            run.finish_rejects()  # the rejected rows beyond the kept ones, by reason
            if job.strict and run.failed:
                raise _StrictAbort
            run.refresh()
            _take_over(conn, report, job.interrupted)
            _conclude(report, run, job.strict, prev, job.t0)
            _write_finish(conn, report)  # the counts commit with the readings, or neither
            batches.checkpoint("before_commit")
        return
    except _StrictAbort:
        pending = _conclude(report, run, job.strict, prev, job.t0)
    except UnreadableFile as exc:
        _nothing_written(report)
        report.status = "unreadable"
        report.message = str(exc)
        _conclude(report, run, job.strict, prev, job.t0)
    except _BatchLost:
        _nothing_written(report)
        report.status = "interrupted"
        report.message = (
            "interrompu : ce lot a été déclaré interrompu par un autre processus pendant"
            " l'import (verrou perdu) ; rien n'a été enregistré, réimportez le fichier"
        )
        _conclude(report, run, job.strict, prev, job.t0)
        return
    except (KeyboardInterrupt, SystemExit) as exc:  # SIGINT, SIGTERM (see carnet import)
        _nothing_written(report)
        report.status = "interrupted"
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "signal d'arrêt"
        report.message = (
            f"interrompu ({why}) avant la fin : rien de ce lot n'a été enregistré,"
            " réimportez le fichier"
        )
        _conclude(report, run, job.strict, prev, job.t0)
        _finish_batch(engine, report)
        raise
    except Exception as exc:  # a bug or a database refusal: the transaction is rolled back
        log.warning("import de %s : erreur inattendue : %s", job.source, exc)
        log.debug("détail de l'erreur", exc_info=True)  # the traceback, when asked for
        _nothing_written(report)  # the batch claims no row it did not write
        report.rejected = []
        report.status = "failed"
        report.message = _stored_text(
            f"erreur inattendue, rien n'a été importé : {type(exc).__name__}: {exc}", 1000
        )
        _conclude(report, run, job.strict, prev, job.t0)
    _finish_batch(engine, report, pending)


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


def contract_channel_ids(engine: Engine, contract_id: int | None) -> set[int]:
    """Channels a contractor may import into: those of its contract's buildings (and their
    rooms and equipment)."""
    if contract_id is None:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.id FROM channel c JOIN contract_building cb"
                " ON cb.building_id = c.building_id WHERE cb.contract_id = :k"
            ),
            {"k": int(contract_id)},
        )
        return {int(r[0]) for r in rows}
