"""XLSX workbooks: refused from the zip directory before anything is expanded, then read
row by row (openpyxl, read-only) into the same `Table` shape as text files.

A workbook is a zip of XML parts: a small file can declare gigabytes once inflated (a "zip
bomb"), and openpyxl loads the shared strings and the styles whole. So the sizes the zip
directory declares are checked first (zipfile never inflates a part past its declared size):
their sum, each part's compression ratio, the sheets' XML, the shared strings' XML and their
count (counted by streaming the part, never building them), and every other XML part. The
dimension a sheet claims is not trusted (`reset_dimensions`): rows are as long as their cells.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ingest import limits
from ingest.limits import fr_int, fr_size
from ingest.sniff import (
    _CONTROL,
    Table,
    UnreadableFile,
    _control_reason,
    _reader_rejects,
    _too_long_field,
    _too_many_columns,
)

_SI = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?si[\s/>]")
BOMB = "archive piégée (« bombe zip ») ou classeur trop gros : enregistrez-le en CSV"


def _refuse(path: Path, why: str) -> UnreadableFile:
    return UnreadableFile(f"classeur XLSX refusé : {path.name} : {why}")


def check_xlsx(path: Path) -> None:
    """Raise UnreadableFile when the workbook would cost more than the limits once expanded."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.XLSX_MAX_PARTS:
                raise _refuse(
                    path, f"{fr_int(len(infos))} parties ({fr_int(limits.XLSX_MAX_PARTS)} au plus)"
                )
            total = sum(i.file_size for i in infos)
            if total > limits.XLSX_MAX_UNCOMPRESSED_BYTES:
                raise _refuse(
                    path,
                    f"il occuperait {fr_size(total)} une fois décompressé "
                    f"({fr_size(limits.XLSX_MAX_UNCOMPRESSED_BYTES)} au plus) ; {BOMB}",
                )
            for info in infos:
                _check_part(path, info)
            for info in infos:
                if "sharedstrings" in info.filename.lower():
                    _count_shared_strings(path, zf, info)
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(f"classeur XLSX illisible : {path.name} ({exc})") from exc
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise UnreadableFile(f"classeur XLSX illisible : {path.name} ({exc})") from exc


def _check_part(path: Path, info: zipfile.ZipInfo) -> None:
    name, size = info.filename, info.file_size
    if size > limits.XLSX_RATIO_FROM_BYTES and size > limits.XLSX_MAX_RATIO * max(
        info.compress_size, 1
    ):
        ratio = size // max(info.compress_size, 1)
        raise _refuse(
            path,
            f"la partie « {name} » se décompresse {fr_int(ratio)} fois "
            f"({fr_int(limits.XLSX_MAX_RATIO)} au plus) ; {BOMB}",
        )
    lower = name.lower()
    if lower.startswith("xl/worksheets/") and lower.endswith(".xml"):
        cap, what = limits.XLSX_MAX_SHEET_BYTES, "la feuille"
    elif "sharedstrings" in lower:
        cap, what = limits.XLSX_MAX_SHARED_STRINGS_BYTES, "les chaînes partagées"
    elif lower.endswith((".xml", ".rels", ".vml")):
        cap, what = limits.XLSX_MAX_PART_BYTES, "la partie"
    else:
        return  # images and other binary parts are never parsed
    if size > cap:
        raise _refuse(path, f"{what} « {name} » fait {fr_size(size)} ({fr_size(cap)} au plus)")


def _count_shared_strings(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    count, carry = 0, b""
    with zf.open(info) as part:
        while block := part.read(1 << 20):
            data = carry + block
            count += sum(1 for m in _SI.finditer(data) if m.end() > len(carry))
            carry = data[-32:]
            if count > limits.XLSX_MAX_SHARED_STRINGS:
                raise _refuse(
                    path,
                    f"plus de {fr_int(limits.XLSX_MAX_SHARED_STRINGS)} chaînes partagées "
                    f"({fr_int(limits.XLSX_MAX_SHARED_STRINGS)} au plus)",
                )


def _cell_text(value) -> str:
    """Cell as text: dates dd/mm/yyyy[ HH:MM:SS], numbers with a decimal comma (the Sniffed
    decimal mark of a workbook), never an exponent-free guess."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _row_reason(row: list[str]) -> str | None:
    if len(row) > limits.MAX_COLUMNS:
        return _too_many_columns(len(row))
    longest = max(map(len, row), default=0)
    if longest > limits.MAX_FIELD_CHARS:
        return _too_long_field(longest)
    for cell in row:
        if _CONTROL.search(cell):
            return _control_reason(cell)
    return None


def iter_xlsx_rows(path: Path) -> Iterator[tuple[int, list[str], str | None]]:
    """(row number, cells as text, reason) of the first worksheet; a row with a reason is
    refused by the reader (its cells are then cut to the limits). Any damage found while
    reading is UnreadableFile."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip or XML damage: the file cannot be read at all
        raise UnreadableFile(f"classeur XLSX illisible : {path.name} ({exc})") from exc
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # the dimension a sheet claims is not trusted
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            end = len(values)
            while end and values[end - 1] in (None, ""):
                end -= 1
            row = [_cell_text(v) for v in values[: min(end, limits.MAX_COLUMNS + 1)]]
            why = _too_many_columns(end) if end > limits.MAX_COLUMNS else _row_reason(row)
            if why is not None:
                row = [c[: limits.MAX_RAW_CHARS] for c in row[: limits.MAX_COLUMNS]]
            yield n, row, why
    except UnreadableFile:
        raise
    except Exception as exc:  # damage found while streaming the sheet
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise UnreadableFile(f"classeur XLSX endommagé : {path.name} ({detail})") from exc
    finally:
        wb.close()


def iter_xlsx_tables(path: Path, start_line: int, chunk_lines: int) -> Iterator[Table]:
    rows = iter_xlsx_rows(path)
    done = False
    while not done:
        block, bad, cells = [], [], 0
        for n, row, why in rows:
            if n <= start_line or not any(row):
                continue
            if why is not None:
                bad.append((n, ";".join(row), why))
                if len(bad) >= chunk_lines:
                    break
                continue
            block.append((n, row))
            cells += len(row) + 1
            if len(block) >= chunk_lines or cells >= limits.CHUNK_CELLS:
                break
        else:
            done = True
        if not block and not bad:
            return
        width = max((len(r) for _, r in block), default=1) or 1
        frame = pd.DataFrame([r + [""] * (width - len(r)) for _, r in block], dtype=object)
        if not len(frame.columns):
            frame = pd.DataFrame(columns=range(width), dtype=object)
        nfields = np.array([len(r) for _, r in block], dtype="int64")
        raw = [";".join(r) for _, r in block]
        rejects = _reader_rejects(*zip(*bad, strict=True)) if bad else None
        yield Table(
            np.array([n for n, _ in block], dtype="int64"),
            raw,
            frame,
            nfields,
            False,
            None,
            rejects,
        )
