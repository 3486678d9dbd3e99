"""CSV for people (French spreadsheet conventions): `;` separator, decimal comma, UTF-8 with BOM.

Machine CSV stays `,` and `.` (pandas defaults); this module is only for files a person opens.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        return repr(round(value, 6)).replace(".", ",").removesuffix(",0")
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _escape(text: str) -> str:
    if any(ch in text for ch in ';"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def to_french_csv(frame: pd.DataFrame) -> bytes:
    """The frame as a French CSV file (bytes, BOM included, CRLF line ends for spreadsheets)."""
    lines = [";".join(_escape(str(c)) for c in frame.columns)]
    for row in frame.astype(object).itertuples(index=False, name=None):  # rows of a report
        lines.append(";".join(_escape(_cell(v)) for v in row))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
