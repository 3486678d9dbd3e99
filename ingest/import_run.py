"""The state of one import inside its transaction: each parsed piece deduplicated, screened,
written and accounted for.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from carnet.kinds import Quality
from carnet.price_indices import upsert_indices
from carnet.quarantine import hold, reason_label
from carnet.store import (
    Appends,
    duplicated_keys,
    forget_windows,
    refresh_rollups,
    upsert_readings,
)
from ingest.factors import record_factors
from ingest.formats.base import Parsed
from ingest.meters import mark_meter_changes, record_meter_changes
from ingest.plausibility import channel_limits, screen
from ingest.rejects import RejectedRows, room_left

KNOWN_ROWS_MAX = 5_000_000  # readings kept in memory to spare the rollups a re-read


class ImportRun(RejectedRows):
    """The state of one import inside its transaction."""

    def __init__(self, conn, report, routing, source, batch_id, strict, user, allowed):
        self.conn, self.report, self.routing = conn, report, routing
        self.source, self.batch_id, self.strict, self.user = source, batch_id, strict, user
        self.allowed = None if allowed is None else np.array(sorted(allowed), dtype="int64")
        self.touched: list[pd.DataFrame] = []
        self.pending_rejects: list[dict] = []
        self.failed = False
        self.valid_values = 0
        self.known: list[pd.DataFrame] | None = []
        self.known_rows = 0
        self.appends = Appends()

    # -- one parsed piece -------------------------------------------------------------------
    def take(self, parsed: Parsed, table=None, ahead=None) -> None:
        """`ahead` (optional): called just before the rows are sent to the database."""
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
                room = room_left(len(self.report.quarantined))
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
        self.add_time("plausibilité", t)
        if parsed.indices is not None and len(parsed.indices):
            rejects += self._indices(parsed.indices)
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
        counts = upsert_readings(
            self.conn,
            frame,
            batch_id=self.batch_id,
            refresh=False,
            appends=self.appends,
            before_send=ahead,
        )
        self.add_time("écriture", t)
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
            self.touched += record_factors(self.conn, parsed.factors, self.batch_id, self.user)

    def _indices(self, indices: pd.DataFrame) -> list[pd.DataFrame]:
        """Published index values: stored with this batch (the manager's files only: they
        revise every contract's prices); returns the lines refused."""
        if self.allowed is not None:
            return [
                pd.DataFrame(
                    {
                        "line_no": indices["line_no"].to_numpy(),
                        "raw": None,
                        "reason": "les indices de prix sont importés par le gestionnaire",
                        "n_values": 1,
                    }
                )
            ]
        if self.strict and (self.failed or self.report.rows_rejected):
            self.failed = True
            self.valid_values += len(indices)
            return []
        counts = upsert_indices(self.conn, indices, self.batch_id, self.user)
        self.report.rows_inserted += counts.inserted
        self.report.rows_updated += counts.updated
        self.report.rows_unchanged += counts.unchanged
        return []

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

    def add_time(self, label: str, start: float) -> None:
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
        appended = self.appends.answer(known) if known is not None else None
        forget_windows(self.conn)  # they hold the last piece's: the merge loads the file's
        refresh_rollups(self.conn, frame, known=known, appended=appended)
        self.add_time("cumuls journaliers", t)
