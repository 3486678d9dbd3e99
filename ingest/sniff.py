"""What a file is before we read it: encoding, separator, decimal mark, where its header is;
then its rows, chunk by chunk, at a bounded cost whatever the file holds.

The encoding is decided once per file from its bytes: a BOM (UTF-8, UTF-16 LE/BE) decides;
otherwise a file that is valid UTF-8, or mostly so (more valid non-ASCII sequences than stray
bytes), is UTF-8 and each stray byte is read as Windows-1252 on its own line only (the report
says which lines); anything else is Windows-1252.

Files are read as text lines in chunks (never whole) so that every value keeps its physical
line number and raw text for the rejected-rows report. A chunk is bounded in lines,
characters and fields (`ingest.limits`); a line longer than the limit is never held whole.
Each chunk is split by pandas' C parser when it holds no quote, by the `csv` module otherwise
(quoted fields may hold the separator or span lines: such a record is read whole, numbered by
its first physical line, or rejected when its quote never closes within the limits).
Lines the reader itself refuses (too long, too many columns, a field too long, a NUL or other
control character) become rejected rows with their reason and never reach the formats.
XLSX workbooks go through the same `Table` shape (see `ingest.xlsx`) so that the formats do
not care.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ingest import limits
from ingest.limits import fr_int

HEAD_LINES = limits.HEAD_LINES
SEPARATORS = (";", "\t", ",", "|")
_BLOCK = 1 << 20
_SURROGATE = re.compile("[\udc80-\udcff]")
# C0 controls but tab, DEL and the C1 controls (a line break never reaches here)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# bytes.translate table: 0 for an ASCII control character (not tab, not line feed), 1 else
_ASCII_CONTROL = bytes(
    0 if (b < 0x20 and b not in (0x09, 0x0A)) or b == 0x7F else 1 for b in range(256)
)
_CP1252_OF_STRAY = {
    0xDC00 + b: bytes([b]).decode("cp1252", errors="replace") for b in range(0x80, 0x100)
}
ENCODING_FR = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (avec BOM)",
    "utf-16": "UTF-16 (avec BOM)",
    "cp1252": "Windows-1252",
    "xlsx": "XLSX",
}


class UnreadableFile(Exception):
    """The file cannot be read at all (missing, binary, empty, unknown format, over a limit)."""


def _empty_reader_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {"line_no": np.array([], "int64"), "raw": np.array([], object), "reason": []}
    )


class Table:
    """A chunk of rows: fields as strings ("" where absent), line numbers, raw text.

    `raw` (the lines without their ends) is built only when asked: a clean chunk never needs it.
    `clean` says that no field has blanks or quotes around it, so columns need no stripping.
    `rejects` holds the lines the reader refused (line_no, raw, reason): they are not rows of
    the table; `notes` what the reader has to say about this chunk (stray bytes...).
    """

    def __init__(
        self, line_no, lines, fields, nfields, clean=False, n_chars=None, rejects=None, notes=()
    ):
        self.line_no = line_no
        self._lines = lines
        self._raw = None
        self.fields = fields
        self.nfields = nfields
        self.clean = clean
        self.n_chars = n_chars if n_chars is not None else sum(len(x) + 1 for x in lines)
        self.rejects = rejects if rejects is not None else _empty_reader_rejects()
        self.notes = list(notes)

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
    decimal: str  # ",", "." or "" when the head shows neither (see ingest.numbers)
    head: list[str]  # first lines, decoded, without line ends (blank lines kept)
    is_xlsx: bool = False
    xlsx_rows: list[list[str]] = field(default_factory=list)
    # b"\n" bytes in the file: a hint of its line count for the chunk sizes (0: unknown,
    # lines ended by "\r" alone; UTF-16 may count a few more)
    newlines: int = 0
    _rows: dict = field(default_factory=dict, repr=False, compare=False)

    def head_rows(self) -> list[list[str]]:
        """The head lines split into stripped fields (computed once per separator). A row
        is cut after MAX_COLUMNS + 1 fields: enough to tell that it is too wide."""
        if self.is_xlsx:
            return self.xlsx_rows[:HEAD_LINES]
        if self.sep not in self._rows:
            cap = limits.MAX_COLUMNS + 1
            self._rows[self.sep] = [split_line(line, self.sep, cap) for line in self.head]
        return self._rows[self.sep]

    def head_labels(self) -> list[list[str]]:
        """`head_rows` normalised for header matching (`norm`), computed once per separator."""
        key = ("labels", self.sep if not self.is_xlsx else "xlsx")
        if key not in self._rows:
            self._rows[key] = [[norm(c) for c in row] for row in self.head_rows()]
        return self._rows[key]


def split_line(line: str, sep: str, cap: int | None = None) -> list[str]:
    """Stripped fields of one line (the first `cap` of them)."""
    row = next(csv.reader([line], delimiter=sep), [])
    return [c.strip() for c in row[:cap]]


def norm(label: str) -> str:
    """Header label for matching: lower case, no accents, units and punctuation dropped."""
    text = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode()
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text.lower())
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


# --- encoding ----------------------------------------------------------------------------------


def hash_and_encoding(path: Path) -> tuple[str, int, str, int]:
    """SHA-256, size, encoding and newline bytes in one streaming pass.

    Without a BOM, UTF-8 is checked on every byte: the valid non-ASCII characters and the
    stray (invalid) bytes are counted; a file with more of the first than of the second is
    UTF-8 (its stray bytes are read one by one as Windows-1252, see `_LineSource`).
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    good = bad = size = newlines = 0
    first = b""
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            if not first:
                first = block[:4]
            size += len(block)
            digest.update(block)
            newlines += block.count(b"\n")
            if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                continue
            if block.isascii() and not decoder.getstate()[0]:
                continue
            text = decoder.decode(block)
            stray = len(_SURROGATE.findall(text))
            bad += stray
            good += len(text) - len(text.encode("ascii", "ignore")) - stray
    bad += len(_SURROGATE.findall(decoder.decode(b"", final=True)))
    if first.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif bad == 0 or good >= bad:
        encoding = "utf-8"
    else:
        encoding = "cp1252"
    return digest.hexdigest(), size, encoding, newlines


def open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """The file as text, universal newlines; UTF-8 keeps its stray bytes as surrogates (fixed
    line by line by `_LineSource`), the others replace what they cannot decode."""
    errors = "surrogateescape" if encoding.startswith("utf-8") else "replace"
    return io.TextIOWrapper(open(path, "rb"), encoding=encoding, errors=errors, newline=None)


class _LineSource:
    """Physical lines of a text stream, numbered from 1, each at most MAX_LINE_CHARS.

    A longer line is never held whole: it is handed out as its first MAX_RAW_CHARS characters
    and its number is in `overlong`. Lines holding stray bytes (UTF-8 files) are decoded with
    Windows-1252 for those bytes only; their numbers are in `stray`.
    """

    def __init__(self, f, fix_stray: bool):
        self.f = f
        self.fix_stray = fix_stray
        self.pending: list[str] = []
        self.pos = 0  # next line of `pending` to hand out
        self.first_no = 1  # number of pending[0]
        self.tail = ""  # incomplete last line
        self.skipping = False  # inside an overlong line, until its end
        self.eof = False
        self.overlong: set[int] = set()
        self.stray: list[int] = []  # numbers of the lines with stray bytes, not yet reported

    @property
    def next_no(self) -> int:
        return self.first_no + self.pos

    def _fill(self) -> bool:
        """Read one block into `pending`; False at the end of the file."""
        if self.eof:
            return False
        block = self.f.read(limits.READ_BLOCK_CHARS)
        if not block:
            self.eof = True
            if self.tail or self.skipping:
                if not self.skipping:
                    self._append([self.tail])
                self.tail, self.skipping = "", False
                return True
            return False
        joined = self.tail + block
        plain = joined.isascii()  # O(1) in CPython: no stray byte to look for
        parts = joined.split("\n")
        self.tail = parts.pop()
        if self.skipping:
            if parts:  # the rest of the overlong line ends here
                parts.pop(0)
                self.skipping = False
            else:
                self.tail = ""
        if len(self.tail) > limits.MAX_LINE_CHARS:
            parts.append(self.tail)  # flagged as overlong by _append
            self.tail, self.skipping = "", True
        self._append(parts, plain)
        return True

    def _append(self, parts: list[str], plain: bool = False) -> None:
        base = self.first_no + len(self.pending)
        if parts and max(map(len, parts)) > limits.MAX_LINE_CHARS:
            for i, p in enumerate(parts):
                if len(p) > limits.MAX_LINE_CHARS:
                    parts[i] = p[: limits.MAX_RAW_CHARS]
                    self.overlong.add(base + i)
        if self.fix_stray and not plain and _SURROGATE.search("\n".join(parts)):
            for i, p in enumerate(parts):
                if _SURROGATE.search(p):
                    parts[i] = p.translate(_CP1252_OF_STRAY)
                    self.stray.append(base + i)
        self.pending.extend(parts)

    def skip(self, n: int) -> bool:
        """Skip the first `n` lines; False when the file has fewer."""
        while n:
            if self.pos >= len(self.pending) and not self._fill():
                return False
            k = min(n, len(self.pending) - self.pos)
            self.pos += k
            n -= k
        return True

    def take(self, max_lines: int, max_chars: int) -> tuple[list[str], int]:
        """Up to `max_lines` lines (about `max_chars` characters), and the first one's number.
        Until the next call, `pos` may be moved back to hand the last ones out again."""
        if self.pos:  # what was handed out before is gone
            self.first_no += self.pos
            del self.pending[: self.pos]
            self.pos = 0
        out: list[str] = []
        start = self.next_no
        chars = 0
        while len(out) < max_lines and chars < max_chars:
            if self.pos >= len(self.pending) and not self._fill():
                break
            avail = self.pending[self.pos : self.pos + (max_lines - len(out))]
            if not avail:
                continue
            out.extend(avail)
            self.pos += len(avail)
            chars += sum(map(len, avail)) + len(avail)
        return out, start

    def next_line(self) -> str | None:
        """One more line (a quoted field's continuation), None at the end of the file."""
        while self.pos >= len(self.pending):
            if not self._fill():
                return None
        line = self.pending[self.pos]
        self.pos += 1
        return line


def read_head(path: Path, encoding: str) -> list[str]:
    with open_text(path, encoding) as f:
        src = _LineSource(f, encoding.startswith("utf-8"))
        lines, _ = src.take(limits.HEAD_LINES, limits.HEAD_CHARS)
    return lines


# --- separator and decimal mark ------------------------------------------------------------


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


def _evidence(mark: str) -> re.Pattern:
    """Fields whose `mark` can only be a decimal mark (not a thousands separator)."""
    m = re.escape(mark)
    o = re.escape("." if mark == "," else ",")
    return re.compile(
        rf"[+-]?(?:\d+{m}(?:\d{{1,2}}|\d{{4,}})|\d{{4,}}{m}\d+|\d{{1,3}}(?:[ \u00a0\u202f]\d{{3}})+{m}\d+"
        rf"|\d{{1,3}}(?:{o}\d{{3}})+{m}\d+)"
    )


_EVIDENCE = {",": _evidence(","), ".": _evidence(".")}


def detect_decimal(lines: list[str], sep: str) -> str:
    """The file's decimal mark from its head: the fields whose mark can only be a decimal
    mark (19,5; 1280,25; 1.234,5) are counted for each mark, and a mark is the file's when it
    has more than twice the other's count; "" when neither shows or neither wins (then every
    value must read alone: see ingest.numbers). A comma-separated file has the decimal point."""
    if sep == ",":
        return "."
    votes = {",": 0, ".": 0}
    for ln in lines:
        for cell in ln.split(sep, limits.MAX_COLUMNS):  # a wider line is rejected anyway
            cell = cell.strip().strip('"').strip()
            if not cell or not cell[-1:].isdigit():
                continue
            for mark, pattern in _EVIDENCE.items():
                if mark in cell and pattern.fullmatch(cell):
                    votes[mark] += 1
    if votes[","] > 2 * votes["."]:
        return ","
    if votes["."] > 2 * votes[","]:
        return "."
    return ""


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as f:
        magic = f.read(4)
    return magic == b"PK\x03\x04" and path.suffix.lower() in {".xlsx", ".xlsm"}


def sniff(path: str | Path) -> Sniffed:
    from ingest.xlsx import check_xlsx, iter_xlsx_rows

    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(f"fichier introuvable : {path}")
    sha, size, encoding, newlines = hash_and_encoding(path)
    if size == 0:
        raise UnreadableFile(f"fichier vide : {path.name}")
    if is_xlsx(path):
        check_xlsx(path)
        rows = []
        stream = iter_xlsx_rows(path)
        try:
            for _, row, _why in stream:
                rows.append(row)
                if len(rows) >= HEAD_LINES:
                    break
        finally:
            stream.close()
        return Sniffed(path, sha, size, "xlsx", ";", ",", [], True, rows)
    head = read_head(path, encoding)
    n_chars = sum(len(ln) for ln in head) or 1
    if sum(ln.count("\x00") for ln in head) > max(8, n_chars // 100):
        raise UnreadableFile(
            f"fichier binaire ou illisible : {path.name} (octets nuls ; un fichier UTF-16 doit "
            "commencer par sa marque d'ordre des octets, BOM)"
        )
    sep = detect_separator(head)
    return Sniffed(
        path, sha, size, encoding, sep, detect_decimal(head, sep), head, newlines=newlines
    )


# --- chunked reading ---------------------------------------------------------------------------


def _is_clean(text: str, sep: str) -> bool:
    """No quote and no blank next to a separator or a line end: fields need no stripping.
    Single-character searches first (memchr): a machine file has no blank at all."""
    if '"' in text or (sep != "\t" and "\t" in text):
        return False
    if " " not in text:
        return True
    tokens = [" \n", "\n ", sep + " ", " " + sep]
    return not any(t in text for t in tokens) and text[:1] != " " and not text.endswith(" ")


def _may_hold_blank_line(text: str) -> bool:
    """Cheap substring tests (C speed) that rule out blank lines."""
    if "\n\n" in text or text[:1] in ("\n", " ", "\t", "") or text[-1:] in (" ", "\t", "\n"):
        return True
    return (" " in text and "\n " in text) or ("\t" in text and "\n\t" in text)


def _control_reason(text: str) -> str:
    ch = _CONTROL.search(text).group()
    name = {"\x00": " (NUL)", "\x1a": " (fin de fichier DOS)", "\x7f": " (DEL)"}.get(ch, "")
    return f"caractère de contrôle U+{ord(ch):04X}{name} dans la ligne"


def _too_many_columns(n: int) -> str:
    return f"trop de colonnes : {fr_int(n)} ({fr_int(limits.MAX_COLUMNS)} au plus par ligne)"


def _too_long_field(n: int) -> str:
    return (
        f"champ trop long : {fr_int(n)} caractères ({fr_int(limits.MAX_FIELD_CHARS)} au plus "
        "par champ)"
    )


OVERLONG = (
    f"ligne trop longue : plus de {fr_int(limits.MAX_LINE_CHARS)} caractères (limite par ligne ; "
    "seul le début est gardé)"
)


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (C speed for ASCII text: one translate)."""
    if text.isascii():
        return 0 in text.encode("ascii").translate(_ASCII_CONTROL)
    return _CONTROL.search(text) is not None


def _line_checks(
    lines: list[str], text: str, numbers: np.ndarray, overlong: set, sep: str, n_sep: int
) -> np.ndarray:
    """Reason per line (None: fine) for what the reader refuses, without quotes considered:
    too long, control characters, too many separators, a field too long. `text` is the
    lines joined by line feeds."""
    n = len(lines)
    reason = np.full(n, None, dtype=object)
    if overlong:
        for i in np.flatnonzero(np.isin(numbers, list(overlong))):
            reason[i] = OVERLONG
    if has_control(text):
        for i, ln in enumerate(lines):
            if reason[i] is None and _CONTROL.search(ln):
                reason[i] = _control_reason(ln)
    width = (lines[0].count(sep) + 1) if n else 0
    if n_sep != (width - 1) * n or width > limits.MAX_COLUMNS:
        counts = pd.Series(lines, dtype=object).str.count(re.escape(sep)).to_numpy("int64") + 1
        for i in np.flatnonzero(counts > limits.MAX_COLUMNS):
            if reason[i] is None:
                reason[i] = _too_many_columns(int(counts[i]))
    if len(text) > limits.MAX_FIELD_CHARS:
        lengths = np.fromiter(map(len, lines), dtype="int64", count=n)
        for i in np.flatnonzero(lengths > limits.MAX_FIELD_CHARS):
            if reason[i] is None:
                longest = max(map(len, lines[i].split(sep)))
                if longest > limits.MAX_FIELD_CHARS:
                    reason[i] = _too_long_field(longest)
    return reason


def _reader_rejects(numbers, raws, reasons) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line_no": np.asarray(numbers, dtype="int64"),
            "raw": np.array([r[: limits.MAX_RAW_CHARS] for r in raws], dtype=object),
            "reason": list(reasons),
        }
    )


def _split_plain(
    lines: list[str], text: str, sep: str, n_sep: int
) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """Fields of lines without any quote (`text`: them joined by line feeds): pandas' C
    parser; when the chunk holds exactly (width - 1) separators per line, every line has
    `width` fields and they need not be counted one by one."""
    clean = _is_clean(text, sep)
    n = len(lines)
    width = lines[0].count(sep) + 1
    nfields = None
    if n_sep != (width - 1) * n:
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


class _RecordTooLong(Exception):
    """A quoted field still open past MAX_RECORD_LINES lines or MAX_LINE_CHARS characters."""


UNCLOSED = (
    "guillemet ouvert jamais refermé : le champ dépasserait "
    f"{limits.MAX_RECORD_LINES} lignes ou {fr_int(limits.MAX_LINE_CHARS)} caractères "
    "(ligne rejetée, la lecture reprend à la ligne suivante)"
)
UNCLOSED_EOF = "guillemet ouvert jamais refermé avant la fin du fichier (ligne rejetée)"


def _csv_records(lines: list[str], start: int, src: _LineSource, sep: str):
    """Records of a chunk holding quotes, with csv semantics: a quoted field may span lines
    (continuation lines are pulled from `src` past the chunk's end). Returns (records, bad):
    records as (line_no, raw, fields), bad as (line_no, raw, reason)."""
    buf = list(lines)
    records, bad = [], []
    state = {"pos": 0, "rec": 0, "chars": 0, "eof": False}

    def feed():
        while True:
            pos = state["pos"]
            if pos >= len(buf):
                if pos == state["rec"]:
                    return  # at a record boundary: the chunk is done
                more = src.next_line()
                if more is None:
                    state["eof"] = True
                    return
                buf.append(more)
            line = buf[pos]
            state["chars"] += len(line) + 1
            if pos - state["rec"] >= limits.MAX_RECORD_LINES or (
                state["chars"] > limits.MAX_LINE_CHARS and pos > state["rec"]
            ):
                raise _RecordTooLong
            state["pos"] = pos + 1
            yield line + "\n"

    def restart(at: int) -> Iterator[list[str]]:
        state["pos"] = state["rec"] = at
        state["chars"] = 0
        return csv.reader(feed(), delimiter=sep)

    reader = restart(0)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except _RecordTooLong:
            first = state["rec"]
            bad.append((start + first, buf[first], UNCLOSED))
            reader = restart(first + 1)
            continue
        except csv.Error as exc:  # e.g. a NUL inside a quoted field
            first, end = state["rec"], state["pos"]
            raw = "\n".join(buf[first:end])
            bad.append((start + first, raw, f"ligne illisible ({exc})"))
            reader = restart(end)
            continue
        first, end = state["rec"], state["pos"]
        if state["eof"]:
            bad.append((start + first, buf[first], UNCLOSED_EOF))
            reader = restart(first + 1)
            state["eof"] = False
            continue
        state["rec"], state["chars"] = end, 0
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        records.append((start + first, start + end - 1, "\n".join(buf[first:end]), row))
    return records, bad


def _record_reason(raw: str, row: list[str]) -> str | None:
    if len(raw) > limits.MAX_LINE_CHARS:
        return OVERLONG
    if has_control(raw):
        return _control_reason(raw)
    if len(row) > limits.MAX_COLUMNS:
        return _too_many_columns(len(row))
    longest = max(map(len, row), default=0)
    if longest > limits.MAX_FIELD_CHARS:
        return _too_long_field(longest)
    return None


def _stray_note(src: _LineSource, first: int, end: int) -> list[str]:
    """A note for this chunk's lines (numbers first..end-1) that held stray bytes."""
    if not src.stray:
        return []
    mine = [n for n in src.stray if first <= n < end]
    src.stray = [n for n in src.stray if n >= end]
    if not mine:
        return []
    shown = ", ".join(str(n) for n in mine[:10]) + (" …" if len(mine) > 10 else "")
    return [
        f"{len(mine)} ligne(s) contenant des octets hors UTF-8 (fichier lu en UTF-8) : ces "
        f"octets ont été lus en Windows-1252 sur ces lignes seulement (lignes {shown})"
    ]


def iter_tables(
    sn: Sniffed, start_line: int, chunk_lines: int = 200_000, first_lines: int | None = None
) -> Iterator[Table]:
    """Tables of the non-blank lines after physical line `start_line` (1-based, excluded),
    `chunk_lines` at a time (`first_lines` for the first, when given; CSV only)."""
    if sn.is_xlsx:
        from ingest.xlsx import iter_xlsx_tables

        yield from iter_xlsx_tables(sn.path, start_line, chunk_lines)
        return
    sep = sn.sep
    with open_text(sn.path, sn.encoding) as f:
        src = _LineSource(f, sn.encoding.startswith("utf-8"))
        if not src.skip(start_line):
            return
        size = first_lines or chunk_lines
        while True:
            lines, first = src.take(size, limits.CHUNK_CHARS)
            size = chunk_lines
            if not lines:
                return
            # a chunk of many short fields is cut earlier (the fields are Python strings)
            text = "\n".join(lines)
            n_sep = text.count(sep)
            if n_sep + len(lines) > limits.CHUNK_CELLS and len(lines) > 1:
                keep = max(1, int(len(lines) * limits.CHUNK_CELLS / (n_sep + len(lines))))
                src.pos -= len(lines) - keep
                lines = lines[:keep]
                text = "\n".join(lines)
                n_sep = text.count(sep)
            n_chars = len(text) + 1
            notes = _stray_note(src, first, first + len(lines))
            if '"' in text:
                yield _quoted_table(lines, first, src, sep, n_chars, notes)
            else:
                table = _plain_table(lines, text, n_sep, first, src, sep, n_chars, notes)
                if table is not None:
                    yield table
            src.overlong = {n for n in src.overlong if n >= src.next_no}


def _plain_table(lines, text, n_sep, first, src, sep, n_chars, notes) -> Table | None:
    numbers = np.arange(first, first + len(lines), dtype="int64")
    if _may_hold_blank_line(text):
        keep = np.fromiter((bool(ln.strip()) for ln in lines), bool, count=len(lines))
        if not keep.all():
            lines = [ln for ln, k in zip(lines, keep, strict=True) if k]
            numbers = numbers[keep]
            text = "\n".join(lines)
            n_sep = text.count(sep)
    if not lines:
        return None
    reason = _line_checks(lines, text, numbers, src.overlong, sep, n_sep)
    bad = reason != None  # noqa: E711
    rejects = None
    if bad.any():
        pos = np.flatnonzero(bad)
        rejects = _reader_rejects(numbers[pos], [lines[i] for i in pos], reason[pos])
        lines = [ln for ln, b in zip(lines, bad, strict=True) if not b]
        numbers = numbers[~bad]
        text = "\n".join(lines)
        n_sep = text.count(sep)
    if not lines:
        return Table(
            numbers, [], pd.DataFrame(), np.array([], "int64"), False, n_chars, rejects, notes
        )
    frame, nfields, clean = _split_plain(lines, text, sep, n_sep)
    return Table(numbers, lines, frame, nfields, clean, n_chars, rejects, notes)


def _quoted_table(lines, first, src, sep, n_chars, notes) -> Table:
    records, bad = _csv_records(lines, first, src, sep)
    kept, numbers, rows = [], [], []
    for no, last, raw, row in records:
        if src.overlong and any(n in src.overlong for n in range(no, last + 1)):
            bad.append((no, raw, OVERLONG))
            continue
        why = _record_reason(raw, row)
        if why is not None:
            bad.append((no, raw, why))
            continue
        numbers.append(no)
        kept.append(raw)
        rows.append([c.strip() for c in row])
    rejects = _reader_rejects(*zip(*bad, strict=True)) if bad else None
    width = max((len(r) for r in rows), default=1) or 1
    nfields = np.fromiter((len(r) for r in rows), dtype="int64", count=len(rows))
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=range(width))
    return Table(
        np.array(numbers, dtype="int64"),
        kept,
        frame.astype(object),
        nfields,
        False,
        n_chars,
        rejects,
        notes,
    )


class RawLines:
    """Raw text of lines by number, read again from the file when asked.

    Formats that hold their rows until the end of the file (to sort them) keep numbers, not
    text: the few rejected rows whose text is kept are looked up here in one more pass.
    """

    def __init__(self, sn: Sniffed, start_line: int):
        self.sn, self.start_line = sn, start_line

    def fetch(self, numbers) -> dict[int, str]:
        want = {int(n) for n in numbers}
        out: dict[int, str] = {}
        if not want:
            return out
        last = max(want)
        wanted = np.array(sorted(want), dtype="int64")
        for table in iter_tables(self.sn, self.start_line):
            if len(table):
                pos = np.flatnonzero(np.isin(table.line_no, wanted))
                out.update(zip(table.line_no[pos].tolist(), table.raw_at(pos), strict=True))
            if len(out) == len(want) or (len(table) and table.line_no[-1] >= last):
                break
        return out

    def get(self, line_no: int, default=None):
        return self.fetch([line_no]).get(int(line_no), default)
