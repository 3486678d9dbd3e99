"""Where values go: channels by code, distributor references (PRM, PCE) and station quantities.

Loaded once per import from the channel table (small); lookups are vectorised `map`s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

UNKNOWN = -1


class Routing:
    def __init__(self, conn: Connection):
        self.channels = pd.read_sql_query(
            text(
                "SELECT c.id, c.code, c.kind, c.unit, c.quantity, c.modulus, c.external_ref,"
                " c.building_id, c.station_id, s.code AS station_code, s.name AS station_name"
                " FROM channel c LEFT JOIN station s ON s.id = c.station_id"
            ),
            conn,
        ).set_index("id", drop=False)
        self._by_code = dict(zip(self.channels["code"], self.channels["id"], strict=True))
        self._by_code_ci = {str(k).casefold(): v for k, v in self._by_code.items()}
        self.loggers = pd.read_sql_query(
            text(
                "SELECT code, building_id, timestamp_column, timestamp_format, timezone, columns"
                " FROM logger_map ORDER BY code"
            ),
            conn,
        )
        self.profiles = pd.read_sql_query(
            text(
                "SELECT p.code, p.columns, p.date_format, p.timezone, p.decimal,"
                " c.code AS channel FROM import_profile p"
                " LEFT JOIN channel c ON c.id = p.channel_id ORDER BY p.code"
            ),
            conn,
        )

    def ids_for_codes(self, codes: pd.Series) -> np.ndarray:
        """Channel id per code (exact, then case-insensitive), UNKNOWN (-1) otherwise."""
        ids = codes.map(self._by_code)
        if ids.isna().any():
            s = codes.astype(object).fillna("").astype(str).str.strip().str.strip('"')
            ids = ids.fillna(s.str.casefold().map(self._by_code_ci))
        return ids.fillna(UNKNOWN).to_numpy(dtype="int64")

    def id_for_code(self, code: str) -> int:
        return int(self.ids_for_codes(pd.Series([code]))[0])

    def by_external_ref(self, ref: str) -> pd.DataFrame:
        ref = str(ref).strip()
        refs = self.channels["external_ref"].fillna("").astype(str).str.strip()
        return self.channels[refs.str.casefold() == ref.casefold()]

    def kind(self, channel_id: int) -> str:
        return str(self.channels.at[channel_id, "kind"])

    def unit(self, channel_id: int) -> str:
        return str(self.channels.at[channel_id, "unit"])

    def station_channel(self, station: str, quantity: str) -> int:
        """The channel of `quantity` of a station named by code or name (UNKNOWN if none)."""
        key = str(station).strip().casefold()
        ch = self.channels
        match = ch[
            (ch["quantity"] == quantity)
            & (
                (ch["station_code"].fillna("").astype(str).str.casefold() == key)
                | (ch["station_name"].fillna("").astype(str).str.casefold() == key)
            )
        ]
        return int(match["id"].iloc[0]) if len(match) else UNKNOWN

    def known_station(self, station: str) -> bool:
        key = str(station).strip().casefold()
        ch = self.channels
        return bool(
            (ch["station_code"].fillna("").astype(str).str.casefold() == key).any()
            | (ch["station_name"].fillna("").astype(str).str.casefold() == key).any()
        )


def energy_divisor(unit: str, source_unit: str = "Wh") -> float:
    """How many `source_unit` make one channel `unit` (Wh to kWh: 1000)."""
    scale = {"wh": 1.0, "kwh": 1e3, "mwh": 1e6}
    u, s = unit.strip().lower(), source_unit.strip().lower()
    if u not in scale or s not in scale:
        raise ValueError(f"unité « {unit} » : énergie attendue (Wh, kWh, MWh)")
    return scale[u] / scale[s]
