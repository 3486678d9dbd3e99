"""Weather files: daily minimum/maximum temperatures and hourly temperatures per station.

Daily (`station;date;tn;tx`, also Météo-France `NUM_POSTE;NOM_USUEL;AAAAMMJJ;...;TN;...;TX`):
each value is stamped at local midnight of its day, on the station's `temp_min_c` and
`temp_max_c` channels. Hourly (`station;horodate;t`, or Météo-France `AAAAMMJJHH;T`): on the
station's `temp_outdoor_c` channel; Météo-France `AAAAMMJJHH` stamps are UTC, others follow the
usual rules (offset, or Europe/Paris local time). The station is a column (code or name of a
station of the portfolio) or a preamble line `Station;CODE`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carnet.timeutil import local_midnight_epoch
from ingest.formats.base import (
    FormatParser,
    Parsed,
    cells_to_readings,
    find_header,
    merge_reasons,
    where_reason,
)
from ingest.routing import UNKNOWN, Routing
from ingest.sniff import Sniffed, Table, norm
from ingest.timestamps import NAT, day_reasons, parse_timestamps

STATION = ("station", "code station", "poste", "num poste", "nom usuel", "nom station")
DATE = ("date", "jour", "aaaammjj")
HOUR = ("horodate", "horodatage", "date heure", "aaaammjjhh", "datetime", "timestamp", "date")
TEMP = ("t", "temperature", "temp", "t air", "temperature air")


def _daily(labels: list[str]) -> bool:
    return "tn" in labels and "tx" in labels and any(lbl in DATE for lbl in labels)


def _hourly(labels: list[str]) -> bool:
    return (
        not _daily(labels)
        and any(lbl in TEMP for lbl in labels)
        and any(lbl in HOUR for lbl in labels)
        and len(labels) <= 12
    )


def detect_daily(sn: Sniffed, routing: Routing) -> bool:
    return find_header(sn, _daily) is not None


def detect_hourly(sn: Sniffed, routing: Routing) -> bool:
    found = find_header(sn, _hourly)
    if found is None:
        return False
    _, labels = found
    # a bare "horodate;t" is only weather when a station says so (else it is a wide file)
    return any(lbl in STATION for lbl in labels) or _preamble_station(sn, found[0]) is not None


def _preamble_station(sn: Sniffed, header_line: int) -> str | None:
    for row in sn.head_rows()[: header_line - 1]:
        if len(row) >= 2 and norm(row[0]) in STATION and row[1].strip():
            return row[1].strip()
    return None


class _WeatherParser(FormatParser):
    quantities: tuple[str, ...] = ()
    predicate = staticmethod(_daily)

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        found = find_header(sn, self.predicate)
        if found is None:
            raise ValueError("en-tête météo introuvable")
        self.header_line, self.labels = found
        self.routing = routing
        self.default_station = _preamble_station(sn, self.header_line)
        self.c_station = [i for i, lbl in enumerate(self.labels) if lbl in STATION]
        self.cache: dict[tuple[str, str], int] = {}
        ch = routing.channels
        self.known_names = set(
            pd.concat([ch["station_code"], ch["station_name"]]).dropna().astype(str).str.casefold()
        )

    def stations(self, table: Table) -> np.ndarray:
        n = len(table)
        names = np.full(n, self.default_station or "", dtype=object)
        for c in reversed(self.c_station):  # first station column that matches wins
            col = table.col(c)
            vals = col.to_numpy()
            known = (col.str.strip().str.casefold().isin(self.known_names) & (col != "")).to_numpy()
            names = np.where(known, vals, names)
        if self.c_station and not self.default_station:
            first = table.col(self.c_station[0]).to_numpy()
            names = np.where(names == "", first, names)
        return names

    def ids(self, names: np.ndarray, quantity: str) -> np.ndarray:
        out = np.full(len(names), UNKNOWN, dtype="int64")
        keys = pd.Series(names, dtype=object).astype(str).str.strip().str.casefold()
        known = keys.isin(self.known_names).to_numpy()  # others stay UNKNOWN, without a loop
        for name in pd.unique(names[known]):
            key = (str(name), quantity)
            if key not in self.cache:
                self.cache[key] = self.routing.station_channel(str(name), quantity)
            out[names == name] = self.cache[key]
        return out

    def station_reason(self, names: np.ndarray, ids: list[np.ndarray]) -> np.ndarray:
        missing = np.zeros(len(names), bool)
        for _q, arr in zip(self.quantities, ids, strict=True):
            missing |= arr == UNKNOWN
        return where_reason(
            missing,
            lambda i: [
                (
                    f"station « {s} » inconnue ou sans point {'/'.join(self.quantities)}"
                    if s
                    else "station absente (colonne station ou ligne « Station;CODE » en tête)"
                )
                for s in names[i]
            ],
        )


class DailyParser(_WeatherParser):
    name = "weather-daily"
    quantities = ("temp_min_c", "temp_max_c")
    predicate = staticmethod(_daily)
    values_per_line = 2

    def parse_rows(self, table: Table) -> Parsed:
        c_date = next(i for i, lbl in enumerate(self.labels) if lbl in DATE)
        day, day_reason = day_reasons(table.col(c_date))
        ts = np.full(len(table), NAT, dtype="int64")
        ok_day = ~np.asarray(day.isna())
        if ok_day.any():
            ts[ok_day] = local_midnight_epoch(day[ok_day].values.astype("datetime64[D]"))
        names = self.stations(table)
        ids = [self.ids(names, q) for q in self.quantities]
        reason = merge_reasons(day_reason, self.station_reason(names, ids))
        cells = [
            ("tn", table.col(self.labels.index("tn")), ids[0]),
            ("tx", table.col(self.labels.index("tx")), ids[1]),
        ]
        return cells_to_readings(table, ts, reason, cells, self.decimal)


class HourlyParser(_WeatherParser):
    name = "weather-hourly"
    quantities = ("temp_outdoor_c",)
    predicate = staticmethod(_hourly)

    def parse_rows(self, table: Table) -> Parsed:
        c_ts = next(i for i, lbl in enumerate(self.labels) if lbl in HOUR)
        c_t = next(i for i, lbl in enumerate(self.labels) if lbl in TEMP)
        names = self.stations(table)
        ids = self.ids(names, "temp_outdoor_c")
        tz = "utc" if self.labels[c_ts] == "aaaammjjhh" else "local"
        ts, ts_reason = parse_timestamps(table.col(c_ts), self.clock, ids, timezone=tz)
        reason = merge_reasons(self.station_reason(names, [ids]), ts_reason)
        return cells_to_readings(table, ts, reason, [("t", table.col(c_t), ids)], self.decimal)
