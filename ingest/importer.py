"""One file, one import batch: read in chunks, route, upsert, account for every value.

Every file becomes an `import_batch` row (SHA-256, counts, timings, status) with its
rejected rows (file, line, raw text, reason). The readings, rejected rows, conversion
factors and meter changes of a file are written in ONE transaction: a crash leaves nothing
half-written. With `strict=True` the file is all-or-nothing: one rejected value and the whole
transaction is rolled back; every value is then counted as rejected and the rejected-rows list
names the lines at fault. Re-importing the same file changes nothing (the store compares each
value) and the summary says so and names the earlier batch with the same checksum.

Accounting is in values (a line of a wide file carries several):
read = inserted + updated + unchanged + rejected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, text, update

from carnet.models import ConversionFactor, ImportBatch, Quality, RejectedRow
from carnet.store import duplicated_keys, refresh_rollups, upsert_readings
from carnet.timeutil import fr_date
from ingest.formats import FORMATS
from ingest.formats.base import FormatParser, Parsed
from ingest.meters import mark_meter_changes, record_meter_changes
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
KEEP_REJECTED_IN_REPORT = 1000
KNOWN_ROWS_MAX = 5_000_000  # readings kept in memory to spare the rollups a re-read


@dataclass
class BatchReport:
    """What happened to one file; `status` is ok, partial (rows rejected), failed or unreadable."""

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
    lines_read: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)  # first KEEP_REJECTED_IN_REPORT lines
    previous_batch_id: int | None = None
    meter_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def exit_status(self) -> int:
        if self.status in ("unreadable",):
            return 2
        return 1 if self.rows_rejected else 0

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
            "lines_read": self.lines_read,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "previous_batch_id": self.previous_batch_id,
            "meter_changes": self.meter_changes,
            "notes": self.notes,
            "message": self.message,
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
    raise UnreadableFile(
        f"{sn.path.name} : format non reconnu (formats connus : {', '.join(FORMATS)} ;"
        " --format pour en imposer un)"
    )


def open_parser(sn: Sniffed, routing: Routing, fmt: str | None) -> tuple[FormatParser, Sniffed]:
    if fmt is None:
        fmt, sn = detect_format(sn, routing)
    if fmt not in FORMATS:
        raise UnreadableFile(f"format inconnu « {fmt} » (formats : {', '.join(FORMATS)})")
    error = None
    for candidate in _separators(sn):
        try:
            parser = FORMATS[fmt][1](candidate, routing)
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
        self._reject(rejects)
        if not len(frame):
            return
        frame, resets, notes = mark_meter_changes(self.conn, frame, self.routing)
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
        if counts.updated or counts.unchanged or self.known_rows > KNOWN_ROWS_MAX:
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
        parts = [p for p in parts if len(p)]
        if not parts:
            return
        rej = pd.concat(parts, ignore_index=True).sort_values("line_no", kind="stable")
        lookup = self._parsed_raw
        if rej["raw"].isna().any() and self._table is not None:
            want = rej["line_no"][rej["raw"].isna()].to_numpy()
            pos = np.searchsorted(self._table.line_no, want)
            found = (pos < len(self._table)) & (
                self._table.line_no[np.minimum(pos, len(self._table) - 1)] == want
            )
            lookup = dict(zip(want[found].tolist(), self._table.raw_at(pos[found]), strict=True))
        self.report.rows_rejected += int(rej["n_values"].sum())
        records = [
            {
                "batch_id": self.batch_id,
                "file": self.source,
                "line_no": int(r.line_no) if r.line_no is not None else None,
                "raw": (
                    lookup.get(int(r.line_no)) if r.raw is None or pd.isna(r.raw) else str(r.raw)
                ),
                "reason": str(r.reason),
            }
            for r in rej.itertuples(index=False)
        ]
        room = KEEP_REJECTED_IN_REPORT - len(self.report.rejected)
        if room > 0:
            self.report.rejected.extend(
                {k: v for k, v in r.items() if k in ("line_no", "raw", "reason")}
                for r in records[:room]
            )
        if self.strict:
            self.failed = True
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
                    select(ConversionFactor.kwh_per_unit).where(
                        ConversionFactor.channel_id == int(cid),
                        ConversionFactor.valid_from == day,
                    )
                ).scalar()
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


def _new_batch(engine: Engine, path: Path, fmt: str | None, sha: str | None, user) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(ImportBatch.__table__)
            .values(
                source=str(path),
                origin="csv",
                format=fmt,
                sha256=sha,
                user_login=user,
                started_at=dt.datetime.now(dt.UTC),
                status="running",
            )
            .returning(ImportBatch.__table__.c.id)
        ).scalar_one()


def _finish_batch(engine: Engine, report: BatchReport, pending: Iterable[dict] = ()) -> None:
    with engine.begin() as conn:
        pending = list(pending)
        if pending:
            conn.execute(insert(RejectedRow.__table__), pending)
        conn.execute(
            update(ImportBatch.__table__)
            .where(ImportBatch.__table__.c.id == report.batch_id)
            .values(
                format=report.format,
                finished_at=dt.datetime.now(dt.UTC),
                rows_read=report.rows_read,
                rows_inserted=report.rows_inserted,
                rows_updated=report.rows_updated,
                rows_unchanged=report.rows_unchanged,
                rows_rejected=report.rows_rejected,
                status=report.status,
                message=report.message,
            )
        )


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
) -> BatchReport:
    """Import one file as one batch and return its report (never raises for bad content).

    `allowed_channel_ids` restricts the import to these channels (a contractor's contract):
    values for any other channel are rejected with the reason. `source_name` is the name shown
    and stored for the file (an uploaded file's original name); `progress(done, total)` is
    called with bytes read so far.
    """
    path = Path(path)
    source = source_name or str(path)
    t0 = time.perf_counter()
    report = BatchReport(path=source, format=fmt)
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
            parser, sn = open_parser(sn, routing, fmt)
            report.format = parser.name
        except UnreadableFile as exc:
            error = exc
    report.timings["analyse"] = time.perf_counter() - t0
    report.batch_id = _new_batch(engine, Path(source), report.format, report.sha256, user)
    if parser is None:
        report.status = "unreadable"
        report.message = str(error)
        report.seconds = time.perf_counter() - t0
        _finish_batch(engine, report)
        return report
    prev = _previous(engine, sn.sha256, report.batch_id)
    if prev is not None:
        report.previous_batch_id = prev[0]
    run = None
    try:
        with engine.begin() as conn:
            run = _Run(
                conn, report, routing, source, report.batch_id, strict, user, allowed_channel_ids
            )
            done = 0
            tables = iter_tables(sn, parser.header_line, chunk_lines)
            while True:
                t = time.perf_counter()
                table = next(tables, None)  # reading and splitting count as "lecture" too
                if table is None:
                    break
                parsed = parser.parse(table)
                run._time("lecture", t)
                report.lines_read += len(table)
                run.take(parsed, table)
                if progress is not None:
                    done += table.n_chars
                    progress(min(done, sn.size_bytes), sn.size_bytes)
            t = time.perf_counter()
            tail = parser.finish()
            run._time("lecture", t)
            if tail is not None:
                run.take(tail)
            if strict and run.failed:
                raise _StrictAbort
            run.refresh()
    except _StrictAbort:
        pass
    except UnreadableFile as exc:
        report.status = "unreadable"
        report.message = str(exc)
    except Exception as exc:
        report.status = "failed"
        report.message = f"erreur inattendue : {type(exc).__name__}: {exc}"
        _finish_batch(engine, report)
        raise
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
            report.status = "partial" if report.rows_rejected else "ok"
            report.message = summary_message(report)
    report.rows_read = (
        report.rows_inserted + report.rows_updated + report.rows_unchanged + report.rows_rejected
    )
    if prev is not None and report.status in ("ok", "partial"):
        report.message += f" Fichier identique au lot n° {prev[0]} du {fr_date(prev[1])}."
    report.seconds = time.perf_counter() - t0
    report.timings["total"] = report.seconds
    _finish_batch(engine, report, pending)
    return report


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
    return msg


# --- reading batches back ----------------------------------------------------------------------


def list_batches(engine: Engine, limit: int = 50, user: str | None = None) -> pd.DataFrame:
    query = (
        "SELECT id, source, format, status, user_login, started_at, finished_at, rows_read,"
        " rows_inserted, rows_updated, rows_unchanged, rows_rejected, sha256, message"
        " FROM import_batch WHERE origin = 'csv'"
    )
    params: dict = {"n": int(limit)}
    if user is not None:
        query += " AND user_login = :u"
        params["u"] = user
    query += " ORDER BY id DESC LIMIT :n"
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(query), conn, params=params)
    for col in ("started_at", "finished_at"):  # SQLite gives naive UTC text
        frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
    return frame


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
