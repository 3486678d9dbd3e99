"""Generic formats, in English machine CSV or the French spreadsheet variant.

- long: `channel,timestamp,value[,quality][,offset]` (French headers `point;horodate;valeur;
  qualite;decalage` accepted), one value per line;
- wide: a timestamp column then one column per channel code.
Timestamps are ISO 8601 with an offset, or naive local time (`dd/mm/yyyy HH:MM` or ISO): a
timestamp marks the start of its interval for interval channels and the moment of the reading
for index and instant channels, so values are stored at the stamped instant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carnet.models import Quality
from ingest.formats.base import (
    FormatParser,
    Parsed,
    cells_to_readings,
    column,
    field_count_reason,
    find_header,
    merge_reasons,
    rejects_of,
    where_reason,
)
from ingest.routing import UNKNOWN, Routing
from ingest.sniff import Sniffed, Table
from ingest.timestamps import parse_offset_minutes, parse_timestamps

CHANNEL = ("channel", "point", "point de mesure", "canal", "code", "voie", "channel code")
TIMESTAMP = ("timestamp", "horodate", "horodatage", "date heure", "datetime", "date", "ts", "time")
VALUE = ("value", "valeur")
QUALITY = ("quality", "qualite")
OFFSET = ("offset", "decalage", "utc offset", "decalage utc")

QUALITY_WORDS = {
    "": Quality.MEASURED,
    "0": Quality.MEASURED,
    "m": Quality.MEASURED,
    "measured": Quality.MEASURED,
    "mesure": Quality.MEASURED,
    "mesuree": Quality.MEASURED,
    "reel": Quality.MEASURED,
    "r": Quality.MEASURED,
    "1": Quality.ESTIMATED,
    "e": Quality.ESTIMATED,
    "estimated": Quality.ESTIMATED,
    "estime": Quality.ESTIMATED,
    "estimee": Quality.ESTIMATED,
    "2": Quality.GAP,
    "gap": Quality.GAP,
    "lacune": Quality.GAP,
    "3": Quality.INVALID,
    "invalid": Quality.INVALID,
    "invalide": Quality.INVALID,
}


def parse_quality(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    from ingest.sniff import norm

    key = text.astype(object).fillna("").astype(str).map(norm)
    q = key.map({k: int(v) for k, v in QUALITY_WORDS.items()})
    bad = q.isna().to_numpy()
    raw = text.to_numpy()
    reason = where_reason(bad, lambda i: [f"qualité inconnue « {t} »" for t in raw[i]])
    return q.fillna(0).to_numpy(dtype="int64"), reason


def _is_long(labels: list[str]) -> bool:
    return all(column(labels, *group) is not None for group in (CHANNEL, TIMESTAMP, VALUE))


def _is_wide(labels: list[str]) -> bool:
    return (
        len(labels) >= 2
        and labels[0] in TIMESTAMP
        and not _is_long(labels)
        and not any(lbl in CHANNEL + VALUE for lbl in labels[1:])
    )


def detect_long(sn: Sniffed, routing: Routing) -> bool:
    return find_header(sn, _is_long) is not None


def detect_wide(sn: Sniffed, routing: Routing) -> bool:
    return find_header(sn, _is_wide) is not None


class LongParser(FormatParser):
    name = "generic-long"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        found = find_header(sn, _is_long)
        if found is None:
            raise ValueError("en-tête channel,timestamp,value introuvable")
        self.header_line, labels = found
        self.routing = routing
        self.width = len(labels)
        self.c_channel = column(labels, *CHANNEL)
        self.c_ts = column(labels, *TIMESTAMP)
        self.c_value = column(labels, *VALUE)
        self.c_quality = column(labels, *QUALITY)
        self.c_offset = column(labels, *OFFSET)
        self.needed = max(self.c_channel, self.c_ts, self.c_value) + 1

    def parse_rows(self, table: Table) -> Parsed:
        codes = table.col(self.c_channel)
        ids = self.routing.ids_for_codes(codes)
        offset = None if self.c_offset is None else parse_offset_minutes(table.col(self.c_offset))
        ts, ts_reason = parse_timestamps(table.col(self.c_ts), self.clock, ids, offset)
        num, empty, num_reason = self.numbers(table.col(self.c_value))
        if self.c_quality is not None:
            quality, q_reason = parse_quality(table.col(self.c_quality))
        else:
            quality, q_reason = np.zeros(len(table), "int64"), np.full(len(table), None, object)
        quality = np.where(empty, np.maximum(quality, int(Quality.GAP)), quality)
        codes_arr = codes.to_numpy()
        reason = merge_reasons(
            field_count_reason(table, self.needed, self.width),
            where_reason(
                ids == UNKNOWN, lambda i: [f"point de mesure inconnu « {c} »" for c in codes_arr[i]]
            ),
            ts_reason,
            num_reason,
            q_reason,
        )
        ok = reason == None  # noqa: E711
        readings = pd.DataFrame(
            {
                "channel_id": ids[ok],
                "ts": ts[ok],
                "value": num[ok],
                "quality": quality[ok],
                "line_no": table.line_no[ok],
            }
        )
        return Parsed(readings, rejects_of(table, reason, 1))


class WideParser(FormatParser):
    """A timestamp column and value columns; also the base of the data-logger format."""

    name = "generic-wide"

    def __init__(self, sn: Sniffed | None, routing: Routing):
        super().__init__(sn)
        self.routing = routing
        if sn is None:
            return
        found = find_header(sn, _is_wide)
        if found is None:
            raise ValueError("en-tête horodate;POINT1;POINT2... introuvable")
        self.header_line, _ = found
        header = sn.head_rows()[self.header_line - 1]
        self.configure(0, None, "local", {i: (h, h) for i, h in enumerate(header) if i > 0 and h})

    def configure(self, ts_col: int, ts_format: str | None, timezone: str, columns: dict) -> None:
        """`columns`: position -> (header label, channel code)."""
        self.ts_col, self.ts_format, self.timezone = ts_col, ts_format, timezone
        codes = pd.Series([code or "" for _, code in columns.values()], dtype=object)
        ids = self.routing.ids_for_codes(codes) if len(codes) else []  # one lookup, all columns
        self.columns = {
            i: (label, int(cid) if code else UNKNOWN)
            for (i, (label, code)), cid in zip(columns.items(), ids, strict=True)
        }
        self.needed = ts_col + 1
        self.values_per_line = len(self.columns)

    def parse_rows(self, table: Table) -> Parsed:
        ts, ts_reason = parse_timestamps(
            table.col(self.ts_col), self.clock, fmt=self.ts_format, timezone=self.timezone
        )
        line_reason = merge_reasons(field_count_reason(table, self.needed), ts_reason)
        cells = [(label, table.col(i), cid) for i, (label, cid) in self.columns.items()]
        return cells_to_readings(table, ts, line_reason, cells, self.decimal)
