"""Boiler-room data-logger exports, mapped to channels by the portfolio's `loggers:` entries.

A `logger_map` row names the timestamp column (with an optional strptime format and the
clock, `local` Europe/Paris or `utc`) and maps column headers to channel codes. The export
whose header matches most mapped columns picks its map; unmapped columns are ignored, an
empty cell is a gap, a non-numeric cell (`---`, `ERR`) is rejected with its column.
"""

from __future__ import annotations

import json

from ingest.formats.base import find_header
from ingest.formats.generic import WideParser
from ingest.routing import Routing
from ingest.sniff import Sniffed, norm


def _columns(value) -> dict[str, str]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def best_map(sn: Sniffed, routing: Routing):
    """(map row, header line, labels) of the logger map that fits the file best."""
    best, best_score = None, 0
    for lg in routing.loggers.itertuples(index=False):
        cols = {norm(k) for k in _columns(lg.columns)}
        ts = norm(lg.timestamp_column)

        def fits(labels, cols=cols, ts=ts):
            return ts in labels and bool(cols & set(labels))

        found = find_header(sn, fits)
        if found is None:
            continue
        score = len(cols & set(found[1]))
        if score > best_score:
            best, best_score = (lg, found[0], found[1]), score
    return best


def detect(sn: Sniffed, routing: Routing) -> bool:
    return len(routing.loggers) > 0 and best_map(sn, routing) is not None


class LoggerParser(WideParser):
    name = "logger"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(None, routing)
        self.decimal = sn.decimal
        found = best_map(sn, routing)
        if found is None:
            raise ValueError("aucun enregistreur déclaré (loggers:) ne correspond à l'en-tête")
        lg, self.header_line, labels = found
        self.logger_code = lg.code
        mapping = {norm(k): v for k, v in _columns(lg.columns).items()}
        header = sn.head_rows()[self.header_line - 1]
        columns = {i: (header[i], mapping[lbl]) for i, lbl in enumerate(labels) if lbl in mapping}
        self.configure(
            labels.index(norm(lg.timestamp_column)),
            lg.timestamp_format or None,
            "utc" if str(lg.timezone).lower() == "utc" else "local",
            columns,
        )
