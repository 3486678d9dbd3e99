"""What every format parser returns, and the small vectorised helpers they share.

A parser turns each `Table` chunk into candidate readings (channel_id, ts, value, quality,
line_no) and rejected values (line_no, raw, reason, n_values). Accounting is in values: a
line of a wide file carries one value per channel column, so that
read = inserted + updated + unchanged + rejected holds for every format.

`FormatParser.parse` is the entry: it hands the table's rows to the format (`parse_rows`) and
adds the lines the reader itself refused (too long, control characters...), each counted for
`values_per_line` values. Numbers are read with the file's decimal mark (`self.decimal`,
from `Sniffed.decimal`): never guessed (see `ingest.numbers`). Rejected rows carry no raw
text here (None): the importer looks it up by line number for the few rows it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carnet.kinds import Quality
from ingest import limits
from ingest.limits import fr_int
from ingest.numbers import read_numbers
from ingest.sniff import Sniffed, Table, UnreadableFile
from ingest.timestamps import LocalClock

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
    # published values of price indices (formats.indices): name, month, value, line_no
    indices: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    # what the file says about itself, kept in the batch's message too (the Enedis supplier
    # calendar: which register is HC or HP); also shown as notes
    batch_notes: list[str] = field(default_factory=list)
    # raw text by line number, for formats that return their readings at the end of the file:
    # a dict, or an `ingest.sniff.RawLines` that reads the lines again when asked
    raw: object = field(default_factory=dict)


class FormatParser:
    """One file being parsed; `header_line` is the 1-based line of the column header."""

    name = ""
    header_line = 0
    values_per_line = 1  # values a line carries (a wide file: one per channel column)

    def __init__(self, sn: Sniffed | None = None) -> None:
        self.clock = LocalClock()
        self.decimal = sn.decimal if sn is not None else ""

    def parse(self, table: Table) -> Parsed:
        """The table's rows, plus the lines the reader refused and its notes."""
        parsed = self.parse_rows(table) if len(table) else Parsed()
        if table.rejects is not None and len(table.rejects):
            refused = table.rejects.assign(n_values=int(self.values_per_line))
            parts = [p for p in (parsed.rejects, refused) if len(p)]
            parsed.rejects = pd.concat(parts, ignore_index=True)
        if table.notes:
            parsed.notes = list(table.notes) + list(parsed.notes)
        return parsed

    def parse_rows(self, table: Table) -> Parsed:
        raise NotImplementedError

    def finish(self) -> Parsed | None:
        return None

    def numbers(self, text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, empty, reason) of a column, read with the file's decimal mark."""
        return read_numbers(text, self.decimal)


class Deferred:
    """Rows a format keeps until the end of the file (to sort them), bounded in count."""

    def __init__(self, name: str):
        self.name, self.rows = name, 0

    def add(self, n: int) -> None:
        self.rows += int(n)
        if self.rows > limits.MAX_DEFERRED_ROWS:
            raise UnreadableFile(
                f"fichier trop long pour le format {self.name} : plus de "
                f"{fr_int(limits.MAX_DEFERRED_ROWS)} lignes (ce format trie ses lignes en fin "
                "de fichier) ; découpez-le en plusieurs fichiers"
            )


def find_header(sn: Sniffed, predicate) -> tuple[int, list[str]] | None:
    """(1-based line number, normalised labels) of the first head row the predicate accepts.
    A header wider than the column limit makes the file unreadable (no row could fit it)."""
    for i, labels in enumerate(sn.head_labels()):
        if predicate(labels):
            if len(labels) > limits.MAX_COLUMNS:
                raise UnreadableFile(  # head rows are cut after MAX_COLUMNS + 1 fields
                    f"{sn.path.name} : en-tête de plus de {fr_int(limits.MAX_COLUMNS)} "
                    f"colonnes ({fr_int(limits.MAX_COLUMNS)} au plus par ligne)"
                )
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
        if not has_reason(arr):
            continue
        todo = ~out.astype(bool) & arr.astype(bool)
        if todo.any():
            out[todo] = arr[todo]
    return out


def has_reason(reason: np.ndarray) -> bool:
    """Whether any element holds a reason (a non-empty string). `count_nonzero` tests each
    element's truth in one C loop, several times faster than `ndarray.any` on objects (a
    ufunc reduction), which was most of the cost of a clean chunk's reasons."""
    return bool(np.count_nonzero(reason))


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
    """Rejected-line frame for the rows with a reason (raw None: looked up when kept)."""
    bad = np.flatnonzero(reason.astype(bool)) if has_reason(reason) else np.array([], "int64")
    if not len(bad):
        return empty_rejects()
    nv = np.broadcast_to(np.asarray(n_values, dtype="int64"), (len(reason),))
    return pd.DataFrame(
        {
            "line_no": table.line_no[bad],
            "raw": None,
            "reason": pd.Series(reason[bad], dtype=object),
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
    decimal: str,
    quality: np.ndarray | None = None,
    scale: list[float] | None = None,
) -> Parsed:
    """Readings of value columns sharing one timestamp per line (wide, logger, weather).

    `cells` holds (label, text, channel ids per row); `decimal` is the file's decimal mark.
    A line-level reason rejects all its values at once; a bad cell rejects that value only;
    an empty cell is a gap. All columns are read at once (cells laid out column after
    column): a file of 500 columns costs one pass, not 500.
    """
    from ingest.routing import UNKNOWN

    n, ncols = len(table), len(cells)
    rejects = [rejects_of(table, line_reason, ncols)]
    if not ncols or not n:
        return Parsed(empty_readings(), rejects[0])
    ok_line = np.tile(line_reason == None, ncols)  # noqa: E711
    col = np.repeat(np.arange(ncols), n)
    row = np.tile(np.arange(n), ncols)
    text = pd.concat([c[1].reset_index(drop=True) for c in cells], ignore_index=True)
    num, empty, why = read_numbers(text, decimal)
    if scale is not None:
        num = num / np.repeat(np.asarray(scale, dtype=float), n)
    ids = np.concatenate([np.broadcast_to(np.asarray(c[2], dtype="int64"), (n,)) for c in cells])
    labels = [c[0] for c in cells]
    reason = np.full(n * ncols, None, dtype=object)
    unknown = ok_line & (ids == UNKNOWN)
    if unknown.any():  # one message per column, shared by its cells
        messages = np.array(
            [f"colonne « {lbl} » : point de mesure inconnu" for lbl in labels], dtype=object
        )
        reason[unknown] = messages[col[unknown]]
    bad = ok_line & ~unknown & (why != None)  # noqa: E711
    if bad.any():
        reason[bad] = [
            f"colonne « {labels[j]} » : {w}" for j, w in zip(col[bad], why[bad], strict=True)
        ]
    faulty = np.flatnonzero(reason != None)  # noqa: E711
    if len(faulty):
        rejects.append(
            pd.DataFrame(
                {
                    "line_no": table.line_no[row[faulty]],
                    "raw": None,
                    "reason": pd.Series(reason[faulty], dtype=object),
                    "n_values": 1,
                }
            )
        )
    keep = ok_line & (reason == None)  # noqa: E711
    q = np.zeros(n, "int64") if quality is None else np.asarray(quality, dtype="int64")
    q = np.where(empty, int(Quality.GAP), np.tile(q, ncols))
    readings = pd.DataFrame(
        {
            "channel_id": ids[keep],
            "ts": np.tile(ts, ncols)[keep],
            "value": num[keep],
            "quality": q[keep],
            "line_no": table.line_no[row[keep]],
        }
    )
    rej = [r for r in rejects if len(r)]
    return Parsed(readings, pd.concat(rej, ignore_index=True) if rej else empty_rejects())


def known_refs(routing, refs) -> np.ndarray:
    """Which distributor references (PRM, PCE) a channel declares (as `by_external_ref`
    matches them), for all rows at once: a file of invented references costs no loop."""
    declared = routing.channels["external_ref"].dropna().astype(str).str.strip().str.casefold()
    key = pd.Series(refs, dtype=object).astype(str).str.strip().str.casefold()
    return key.isin(set(declared)).to_numpy()
