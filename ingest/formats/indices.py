"""Price index files: `indice;mois;valeur` (`PEG;2026-01;30,0`), months `AAAA-MM` or `MM/AAAA`.

They carry no readings: each line is a published value of an index for a month, stored in the
record (`carnet.price_indices`) by the same batch machinery as readings (one batch, rejected
lines with their line number and reason, a re-import that changes nothing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.formats.base import (
    FormatParser,
    Parsed,
    column,
    field_count_reason,
    find_header,
    merge_reasons,
    rejects_of,
    where_reason,
)
from ingest.routing import Routing
from ingest.sniff import Sniffed

NAME = ("indice", "nom indice", "nom de l indice")
MONTH = ("mois", "month", "periode")
VALUE = ("valeur", "value", "valeur indice")
INDEX_COLUMNS = ["name", "month", "value", "line_no"]
MONTH_FORMATS = (r"^(\d{4})-(\d{2})$", r"^(\d{2})/(\d{4})$")


def _labels(labels: list[str]) -> bool:
    return (
        column(labels, *NAME) is not None
        and column(labels, *MONTH) is not None
        and column(labels, *VALUE) is not None
        and len(labels) <= 6
    )


def detect(sn: Sniffed, routing: Routing) -> bool:
    return find_header(sn, _labels) is not None


def read_months(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """('AAAA-MM' or None, reason) per cell, from `AAAA-MM` or `MM/AAAA`."""
    s = text.astype(str).str.strip()
    iso = s.str.extract(MONTH_FORMATS[0])
    fr = s.str.extract(MONTH_FORMATS[1])
    year = iso[0].fillna(fr[1])
    month = iso[1].fillna(fr[0])
    num = pd.to_numeric(month, errors="coerce")
    ok = year.notna().to_numpy() & (num >= 1).to_numpy() & (num <= 12).to_numpy()
    out = np.where(ok, (year + "-" + month).to_numpy(dtype=object), None)
    reason = where_reason(
        ~ok, lambda i: [f"mois illisible « {v} » (attendu AAAA-MM ou MM/AAAA)" for v in s.iloc[i]]
    )
    return out, reason


class IndicesParser(FormatParser):
    name = "indices"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        found = find_header(sn, _labels)
        if found is None:
            raise ValueError("en-tête indice;mois;valeur introuvable")
        self.header_line, labels = found
        self.c_name = column(labels, *NAME)
        self.c_month = column(labels, *MONTH)
        self.c_value = column(labels, *VALUE)
        self.width = len(labels)

    def parse_rows(self, table) -> Parsed:
        names = table.col(self.c_name).str.upper()
        months, month_reason = read_months(table.col(self.c_month))
        value, empty, value_reason = self.numbers(table.col(self.c_value))
        reason = merge_reasons(
            field_count_reason(table, max(self.c_name, self.c_month, self.c_value) + 1),
            where_reason((names == "").to_numpy(), "nom d'indice vide"),
            month_reason,
            where_reason(empty, "valeur vide"),
            np.asarray(value_reason, dtype=object),
            where_reason(
                ~empty & (value_reason == None) & ~(value > 0),  # noqa: E711
                "valeur d'indice nulle ou négative",
            ),
        )
        keep = reason == None  # noqa: E711
        indices = pd.DataFrame(
            {
                "name": names.to_numpy()[keep],
                "month": months[keep],
                "value": value[keep],
                "line_no": table.line_no[keep],
            }
        )
        return Parsed(rejects=rejects_of(table, reason, 1), indices=indices)
