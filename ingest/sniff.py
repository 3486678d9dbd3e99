"""What a file is before we read it: encoding, separator, decimal mark, where its header is.

Files are read as text lines in chunks (never whole) so that every value keeps its physical
line number and raw text for the rejected-rows report. Each chunk is split by pandas' C parser
when it holds no quote, by the `csv` module otherwise (quoted fields may hold the separator).
XLSX workbooks go through the same `Table` shape so that the formats do not care.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HEAD_LINES = 60
SEPARATORS = (";", "\t", ",", "|")
_BLOCK = 1 << 20


class UnreadableFile(Exception):
    """The file cannot be read at all (missing, binary, empty, unknown format)."""


class Table:
    """A chunk of rows: fields as strings ("" where absent), line numbers, raw text.

    `raw` (the lines without their ends) is built only when asked: a clean chunk never needs it.
    `clean` says that no field has blanks or quotes around it, so columns need no stripping.
    """

    def __init__(self, line_no, lines, fields, nfields, clean=False, n_chars=None):
        self.line_no = line_no
        self._lines = lines
        self._raw = None
        self.fields = fields
        self.nfields = nfields
        self.clean = clean
        self.n_chars = n_chars if n_chars is not None else sum(len(x) + 1 for x in lines)

    @property
    def raw(self) -> list[str]:
        if self._raw is None:
            self._raw = [ln.rstrip("\r\n") for ln in self._lines]
        return self._raw

    def raw_at(self, positions) -> list[str]:
        return [self._lines[i].rstrip("\r\n") for i in positions]

    def __len__(self) -> int:
        return len(self._lines)

    def col(self, i: int) -> pd.Series:
        """Column `i` stripped of blanks and surrounding quotes ("" where the row is short)."""
        if i >= self.fields.shape[1]:
            return pd.Series([""] * len(self), dtype=object)
        s = self.fields[i]
        if self.clean:
            return s
        return s.str.strip().str.strip('"').str.strip()


@dataclass
class Sniffed:
    path: Path
    sha256: str
    size_bytes: int
    encoding: str
    sep: str
    decimal: str
    head: list[str]  # first lines, decoded, without line ends (blank lines kept)
    is_xlsx: bool = False
    xlsx_rows: list[list[str]] = field(default_factory=list)

    def head_rows(self) -> list[list[str]]:
        """The head lines split into stripped fields."""
        if self.is_xlsx:
            return self.xlsx_rows[:HEAD_LINES]
        return [split_line(line, self.sep) for line in self.head]


def split_line(line: str, sep: str) -> list[str]:
    row = next(csv.reader([line], delimiter=sep), [])
    return [c.strip() for c in row]


def norm(label: str) -> str:
    """Header label for matching: lower case, no accents, units and punctuation dropped."""
    text = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode()
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text.lower())
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def hash_and_encoding(path: Path) -> tuple[str, int, str]:
    """SHA-256, size and encoding in one streaming pass (UTF-8 is checked on every byte)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    size = 0
    first = b""
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            if not first:
                first = block[:4]
            size += len(block)
            digest.update(block)
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if first.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif utf8:
        encoding = "utf-8"
    else:
        encoding = "cp1252"
    return digest.hexdigest(), size, encoding


def detect_separator(lines: list[str]) -> str:
    """The separator whose most common non-zero count is shared by most non-blank lines.

    Preamble lines (titles, "PCE;GI000123") count against every candidate alike; `;` wins a
    tie over `,` because a French file with decimal commas is consistent in both.
    """
    sample = [ln for ln in lines if ln.strip()]
    best, best_score = ";", 0.0
    for sep in SEPARATORS:
        counts = [ln.count(sep) for ln in sample]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=nonzero.count)
        score = nonzero.count(mode) / len(counts)
        if score >= 0.5 and score > best_score + 0.05:
            best, best_score = sep, score
    return best


_DEC_COMMA = re.compile(r"(?:^|[;\t|])\s*-?\d+,\d+\s*(?:$|[;\t|])")


def detect_decimal(lines: list[str], sep: str) -> str:
    if sep == ",":
        return "."
    return "," if any(_DEC_COMMA.search(ln) for ln in lines) else "."


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as f:
        magic = f.read(4)
    return magic == b"PK\x03\x04" and path.suffix.lower() in {".xlsx", ".xlsm"}


def sniff(path: str | Path) -> Sniffed:
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(f"fichier introuvable : {path}")
    sha, size, encoding = hash_and_encoding(path)
    if size == 0:
        raise UnreadableFile(f"fichier vide : {path.name}")
    if is_xlsx(path):
        rows = list(itertools.islice(iter_xlsx_rows(path), HEAD_LINES))
        return Sniffed(path, sha, size, "xlsx", ";", ",", [], True, rows)
    with open(path, encoding=encoding, errors="replace") as f:
        head = [ln.rstrip("\r\n") for ln in itertools.islice(f, HEAD_LINES)]
    if sum(ln.count("\x00") for ln in head) > 0:
        raise UnreadableFile(f"fichier binaire ou illisible : {path.name}")
    sep = detect_separator(head)
    return Sniffed(path, sha, size, encoding, sep, detect_decimal(head, sep), head)


# --- chunked reading ---------------------------------------------------------------------------


def _has_blank_or_padded_line(text: str) -> bool:
    """Cheap substring tests (C speed) that rule out blank lines and blanks at line starts."""
    if "\n\n" in text or text[:1] in ("\n", " ", "\t"):
        return True
    return (" " in text and "\n " in text) or ("\t" in text and "\n\t" in text)


def _is_clean(text: str, sep: str) -> bool:
    """No quote and no blank next to a separator or a line end: fields need no stripping.
    Single-character searches first (memchr): a machine file has no blank at all."""
    if '"' in text or (sep != "\t" and "\t" in text):
        return False
    if " " not in text:
        return True
    tokens = [" \n", "\n ", sep + " ", " " + sep]
    return not any(t in text for t in tokens) and text[:1] != " " and not text.endswith(" ")


def _split_chunk(lines: list[str], text: str, sep: str) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """Fields of each line, their count, and whether no field needs stripping.

    Fast path (no quote): pandas' C parser; when the chunk holds exactly (width - 1) separators
    per line and the parser accepts `width` columns, every line has `width` fields and they
    need not be counted one by one.
    """
    if '"' in text:
        rows = [split_line(ln.rstrip("\r\n"), sep) for ln in lines]
        width = max((len(r) for r in rows), default=1) or 1
        nfields = np.fromiter((len(r) for r in rows), dtype="int64", count=len(rows))
        frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=range(width))
        return frame.astype(object), nfields, False
    clean = _is_clean(text, sep)
    n = len(lines)
    width = lines[0].count(sep) + 1
    nfields = None
    if text.count(sep) != (width - 1) * n:
        nfields = pd.Series(lines, dtype=object).str.count(re.escape(sep)).to_numpy("int64") + 1
        width = int(nfields.max())
    try:
        frame = _read(text, sep, width)
    except pd.errors.ParserError:
        nfields = pd.Series(lines, dtype=object).str.count(re.escape(sep)).to_numpy("int64") + 1
        width = int(nfields.max())
        frame = _read(text, sep, width)
    if nfields is None:
        nfields = np.full(n, width, dtype="int64")
    return frame, nfields, clean


def _read(text: str, sep: str, width: int) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep=sep,
        header=None,
        names=list(range(width)),
        dtype=object,
        na_filter=False,
        skip_blank_lines=False,
        quoting=csv.QUOTE_NONE,
        engine="c",
    )


def iter_tables(sn: Sniffed, start_line: int, chunk_lines: int = 200_000) -> Iterator[Table]:
    """Tables of the non-blank lines after physical line `start_line` (1-based, excluded)."""
    if sn.is_xlsx:
        yield from _iter_xlsx_tables(sn.path, start_line, chunk_lines)
        return
    with open(sn.path, encoding=sn.encoding, errors="replace", newline=None) as f:
        for _ in range(start_line):
            if not f.readline():
                return
        line_no = start_line
        while True:
            block = list(itertools.islice(f, chunk_lines))
            if not block:
                return
            numbers = np.arange(line_no + 1, line_no + 1 + len(block), dtype="int64")
            line_no += len(block)
            text = "".join(block)
            n_chars = len(text)
            if _has_blank_or_padded_line(text):
                keep = np.fromiter((bool(ln.strip()) for ln in block), bool, count=len(block))
                block = [ln for ln, k in zip(block, keep, strict=True) if k]
                numbers = numbers[keep]
                if not block:
                    continue
                text = "".join(block)
            frame, nfields, clean = _split_chunk(block, text.removesuffix("\n"), sn.sep)
            yield Table(numbers, block, frame, nfields, clean, n_chars)


# --- XLSX ------------------------------------------------------------------------------------


def _cell_text(value) -> str:
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def iter_xlsx_rows(path: Path) -> Iterator[list[str]]:
    """Rows of the first worksheet as text (dates as dd/mm/yyyy, numbers with a dot)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip or XML damage: the file cannot be read at all
        raise UnreadableFile(f"classeur XLSX illisible : {path.name} ({exc})") from exc
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield [_cell_text(v) for v in row]
    finally:
        wb.close()


def _iter_xlsx_tables(path: Path, start_line: int, chunk_lines: int) -> Iterator[Table]:
    rows = enumerate(iter_xlsx_rows(path), start=1)
    while True:
        block = [
            (n, r) for n, r in itertools.islice(rows, chunk_lines) if n > start_line and any(r)
        ]
        if not block:
            # islice may have consumed only skipped rows: stop only when exhausted
            peek = next(rows, None)
            if peek is None:
                return
            rows = itertools.chain([peek], rows)
            continue
        width = max(len(r) for _, r in block)
        frame = pd.DataFrame([r + [""] * (width - len(r)) for _, r in block], dtype=object)
        nfields = np.array([len(r) - _trailing_blanks(r) for _, r in block], dtype="int64")
        raw = [";".join(r).rstrip(";") for _, r in block]
        yield Table(np.array([n for n, _ in block], dtype="int64"), raw, frame, nfields, False)


def _trailing_blanks(row: list[str]) -> int:
    n = 0
    for v in reversed(row):
        if v:
            break
        n += 1
    return n


# --- numbers -----------------------------------------------------------------------------------


def to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers with a decimal dot or comma and optional blanks as thousands separators.

    Returns (value, empty, bad): empty cells are gaps, never zeros; bad cells are rejected.
    The common case (plain numbers) is one C-level conversion; only the cells it cannot read
    go through the cleaning.
    """
    values = values.astype(object)
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", copy=True)
    n = len(num)
    empty = np.zeros(n, bool)
    bad = np.zeros(n, bool)
    todo = np.flatnonzero(np.isnan(num))
    if len(todo):
        s = values.iloc[todo].fillna("").astype(str)
        s = s.str.replace("\u00a0", "", regex=False).str.replace("\u202f", "", regex=False)
        s = s.str.strip().str.strip('"').str.strip()
        is_empty = (s == "").to_numpy()
        s = s.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
        again = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", copy=True)
        # "nan" is not a number here: only a cleaned digit string is
        again[s.str.lower().str.contains("nan|inf", regex=True).to_numpy()] = np.nan
        num[todo] = again
        empty[todo] = is_empty
        bad[todo] = np.isnan(again) & ~is_empty
    inf = np.isinf(num)
    bad |= inf
    num[bad] = np.nan
    return num, empty, bad
