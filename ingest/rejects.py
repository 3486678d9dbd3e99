"""Rejected values of a batch: every one counted, the first ones kept whole, the rest
summarised by reason, all bounded so that a hostile file cannot bloat the record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import insert

from carnet.models import RejectedRow
from ingest import limits
from ingest.limits import fr_int

KEEP_REJECTED_IN_REPORT = limits.MAX_REJECTED_KEPT  # rejected rows kept whole per batch


def room_left(kept: int) -> int:
    """How many more rows a batch's report keeps whole, `kept` being kept already."""
    return max(KEEP_REJECTED_IN_REPORT - kept, 0)


class RejectedRows:
    """The rejects half of an import run (`ingest.import_run.ImportRun`): it expects the run's
    `conn`, `report`, `strict`, `failed`, `pending_rejects`, `batch_id`, `source`, `_table`
    and `_parsed_raw`."""

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
        room = room_left(kept_so_far)
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
        return [stored_text(r, limits.MAX_RAW_CHARS) for r in raw]  # bounded, NUL-free

    def _records(self, frame: pd.DataFrame) -> list[dict]:
        return [
            {
                "batch_id": self.batch_id,
                "file": self.source[:500],
                "line_no": None if pd.isna(n) else int(n),
                "raw": stored_text(r, limits.MAX_RAW_CHARS),
                "reason": stored_text(str(why), limits.MAX_REASON_CHARS),
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
            sample["reason"] = stored_text(
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


def stored_text(value, cap: int) -> str | None:
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
