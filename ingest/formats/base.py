"""What every format parser returns, and the small vectorised helpers they share.

A parser turns each `Table` chunk into candidate readings (channel_id, ts, value, quality,
line_no) and rejected values (line_no, raw, reason, n_values). Accounting is in values: a
line of a wide file carries one value per channel column, so that
read = inserted + updated + unchanged + rejected holds for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carnet.models import Quality
from ingest.sniff import Sniffed, Table, norm
from ingest.timestamps import NAT, LocalClock

READING_COLS = ["channel_id", "ts", "value", "quality", "line_no"]
REJECT_COLS = ["line_no", "raw", "reason", "n_values"]


def empty_readings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": np.array([], "int64"),
            "ts": np.array([], "int64"),
            "value": np.array([], "float64"),
            "quality": np.array([], "int64"),
            "line_no": np.array([], "int64"),
        }
    )


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in REJECT_COLS}).astype(
        {"line_no": "int64", "n_values": "int64"}
    )


@dataclass
class Parsed:
    readings: pd.DataFrame = field(default_factory=empty_readings)
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    # conversion coefficients per period: channel_id, valid_from (date), kwh_per_unit
    factors: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    # raw text by line number, for formats that return their readings at the end of the file
    raw: dict[int, str] = field(default_factory=dict)


class FormatParser:
    """One file being parsed; `header_line` is the 1-based line of the column header."""

    name = ""
    header_line = 0

    def __init__(self) -> None:
        self.clock = LocalClock()

    def parse(self, table: Table) -> Parsed:
        raise NotImplementedError

    def finish(self) -> Parsed | None:
        return None


def find_header(sn: Sniffed, predicate) -> tuple[int, list[str]] | None:
    """(1-based line number, normalised labels) of the first head row the predicate accepts."""
    for i, row in enumerate(sn.head_rows()):
        labels = [norm(c) for c in row]
        if predicate(labels):
            return i + 1, labels
    return None


def column(labels: list[str], *aliases: str, contains: bool = False) -> int | None:
    for alias in aliases:
        for i, label in enumerate(labels):
            if label == alias or (contains and alias in label):
                return i
    return None


def merge_reasons(*arrays) -> np.ndarray:
    """Element-wise first non-None reason."""
    out = np.array(arrays[0], dtype=object, copy=True)
    for arr in arrays[1:]:
        arr = np.asarray(arr, dtype=object)
        if not arr.any():  # reasons are non-empty strings: truthiness is a cheap test
            continue
        todo = ~out.astype(bool) & arr.astype(bool)
        if todo.any():
            out[todo] = arr[todo]
    return out


def where_reason(mask: np.ndarray, message, n: int | None = None) -> np.ndarray:
    """An object array holding `message` where mask is true: a str, a per-row sequence, or a
    callable given the positions (so that messages are only formatted for the rows at fault)."""
    mask = np.asarray(mask, dtype=bool)
    out = np.full(len(mask), None, dtype=object)
    if mask.any():
        if isinstance(message, str):
            out[mask] = message
        elif callable(message):
            out[mask] = list(message(np.flatnonzero(mask)))
        else:
            out[mask] = np.asarray(message, dtype=object)[mask]
    return out


def rejects_of(table: Table, reason: np.ndarray, n_values) -> pd.DataFrame:
    """Rejected-line frame for the rows with a reason."""
    bad = np.flatnonzero(reason.astype(bool)) if reason.any() else np.array([], "int64")
    if not len(bad):
        return empty_rejects()
    nv = np.broadcast_to(np.asarray(n_values, dtype="int64"), (len(reason),))
    return pd.DataFrame(
        {
            "line_no": table.line_no[bad],
            "raw": table.raw_at(bad),
            "reason": reason[bad].astype(str),
            "n_values": nv[bad],
        }
    )


def field_count_reason(table: Table, needed: int, width: int | None = None) -> np.ndarray:
    nf = table.nfields
    out = where_reason(
        nf < needed,
        lambda i: [f"ligne incomplète : {n} champ(s) au lieu de {needed}" for n in nf[i]],
    )
    if width is not None:
        too_many = where_reason(
            nf > width, lambda i: [f"trop de champs : {n} au lieu de {width}" for n in nf[i]]
        )
        out = merge_reasons(out, too_many)
    return out


def cells_to_readings(
    table: Table,
    ts: np.ndarray,
    line_reason: np.ndarray,
    cells: list[tuple[str, pd.Series, np.ndarray]],
    quality: np.ndarray | None = None,
    scale: list[float] | None = None,
) -> Parsed:
    """Readings of value columns sharing one timestamp per line (wide, logger, weather).

    `cells` holds (label, text, channel ids per row). A line-level reason rejects all its
    values at once; a bad cell rejects that value only; an empty cell is a gap.
    """
    ncols = len(cells)
    rejects = [rejects_of(table, line_reason, ncols)]
    ok_line = line_reason == None  # noqa: E711
    parts = []
    from ingest.routing import UNKNOWN
    from ingest.sniff import to_float

    for j, (label, text, ids) in enumerate(cells):
        num, empty, bad = to_float(text)
        if scale is not None:
            num = num / scale[j]
        ids = np.broadcast_to(np.asarray(ids, dtype="int64"), (len(table),))
        raw_cells = text.to_numpy()
        cell_reason = merge_reasons(
            where_reason(
                ok_line & (ids == UNKNOWN),
                f"colonne « {label} » : point de mesure inconnu",
            ),
            where_reason(
                ok_line & bad,
                lambda i, label=label, raw_cells=raw_cells: [
                    f"colonne « {label} » : valeur illisible « {v} »" for v in raw_cells[i]
                ],
            ),
        )
        rejects.append(rejects_of(table, cell_reason, 1))
        keep = ok_line & (cell_reason == None)  # noqa: E711
        q = np.zeros(len(table), "int64") if quality is None else np.asarray(quality, dtype="int64")
        q = np.where(empty, int(Quality.GAP), q)
        parts.append(
            pd.DataFrame(
                {
                    "channel_id": ids[keep],
                    "ts": ts[keep],
                    "value": num[keep],
                    "quality": q[keep],
                    "line_no": table.line_no[keep],
                }
            )
        )
    readings = pd.concat(parts, ignore_index=True) if parts else empty_readings()
    rej = (
        pd.concat([r for r in rejects if len(r)], ignore_index=True)
        if any(len(r) for r in rejects)
        else empty_rejects()
    )
    return Parsed(readings, rej)


def valid_ts(ts: np.ndarray) -> np.ndarray:
    return ts != NAT
