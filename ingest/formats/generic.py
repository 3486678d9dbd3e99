"""Generic formats, in English machine CSV or the French spreadsheet variant.

- long: `channel,timestamp,value[,quality][,offset]` (common French headers accepted, see
  `CHANNEL`...: `Point de mesure;Date et heure;Valeur (kWh);Qualité`), one value per line; the
  columns may also be named by the user (`--columns "channel=Capteur,timestamp=Quand,..."`,
  `parse_columns`), matched with `norm` (case, accents and bracketed units do not matter); an
  optional unit column converts energies (Wh, kWh, MWh) to the channel's unit;
- wide: a timestamp column then one column per channel code.
Timestamps are ISO 8601 with an offset, or naive local time (`dd/mm/yyyy HH:MM` or ISO): a
timestamp marks the start of its interval for interval channels and the moment of the reading
for index and instant channels, so values are stored at the stamped instant.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from carnet.kinds import Quality
from ingest import profiles
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
from ingest.profiles import ColumnProfile
from ingest.routing import UNKNOWN, Routing
from ingest.sniff import Sniffed, Table, norm
from ingest.timestamps import parse_offset_minutes, parse_timestamps

CHANNEL = (
    "channel",
    "point",
    "point de mesure",
    "capteur",
    "compteur",
    "canal",
    "code",
    "voie",
    "channel code",
)
TIMESTAMP = (
    "timestamp",
    "horodate",
    "horodatage",
    "date heure",
    "date et heure",
    "datetime",
    "date",
    "ts",
    "time",
)
VALUE = ("value", "valeur", "index", "releve", "mesure")  # "Valeur (kWh)" is "valeur" (norm)
QUALITY = ("quality", "qualite")
OFFSET = ("offset", "decalage", "utc offset", "decalage utc")
UNIT = ("unit", "unite")

# --columns: role -> the words that name it (English, as the CLI documents, or French)
ROLES = {
    "channel": ("channel", "point", "capteur"),
    "timestamp": ("timestamp", "horodatage", "horodate"),
    "value": ("value", "valeur"),
    "quality": ("quality", "qualite"),
    "offset": ("offset", "decalage"),
    "unit": ("unit", "unite"),
}
REQUIRED_ROLES = ("channel", "timestamp", "value")
EXPECTED = "point, horodatage, valeur [, qualité] (ou channel, timestamp, value)"
COLUMNS_HINT = 'indiquez-les avec --columns "channel=…,timestamp=…,value=…"'
ENERGY_SCALE = {"wh": 1.0, "kwh": 1e3, "mwh": 1e6}
# units a value header may carry in brackets (`Valeur (kWh)`), as `_unit_key` writes them
HEADER_UNITS = set(ENERGY_SCALE) | {"m3", "degc", "%", "ppm", "bar", "h", "kw", "w"}
_BRACKETS = re.compile(r"[(\[]\s*([^)\]]*?)\s*[)\]]")


def parse_columns(spec, required: tuple[str, ...] = REQUIRED_ROLES) -> dict[str, str]:
    """`channel=Capteur,timestamp=Quand,value=Mesure[,quality=…][,unit=…][,offset=…]` (or a
    dict of the same) as role -> column label; ValueError (in French) when malformed."""
    if isinstance(spec, dict):
        pairs = [(str(k), str(v)) for k, v in spec.items()]
    else:
        pairs = []
        for part in str(spec).split(","):
            if not part.strip():
                continue
            key, sep, label = part.partition("=")
            if not sep or not label.strip() or "=" in label:  # "a=b;c=d": one bad pair
                raise ValueError(
                    f"--columns : « {part.strip()} » n'est pas de la forme rôle=colonne "
                    '(exemple : --columns "channel=Capteur,timestamp=Quand,value=Mesure")'
                )
            pairs.append((key, label))
    words = {w: role for role, ws in ROLES.items() for w in ws}
    mapping: dict[str, str] = {}
    for key, label in pairs:
        role = words.get(norm(key))
        if role is None:
            raise ValueError(
                f"--columns : rôle inconnu « {key.strip()} » (rôles : {', '.join(ROLES)})"
            )
        if role in mapping:
            raise ValueError(f"--columns : le rôle {role} est donné deux fois")
        mapping[role] = label.strip()
    missing = [r for r in required if r not in mapping]
    if missing:
        raise ValueError(
            f"--columns : indiquez aussi {', '.join(missing)} (obligatoires : "
            f"{', '.join(required)})"
        )
    return mapping


def header_fields(sn: Sniffed) -> list[str]:
    """The columns a file shows: its widest head row (the first of them), as written."""
    rows = [[c for c in row if c] for row in sn.head_rows()]
    rows = [r for r in rows if r]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    return next(r for r in rows if len(r) == width)


def _printable(text: str) -> str:
    """A binary file's "columns" may hold NUL and control bytes, which PostgreSQL text
    refuses and a terminal would obey: each is shown as U+FFFD."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def found_text(fields: list[str], most: int = 20) -> str:
    if not fields:
        return "aucune"
    shown = ", ".join(f"« {_printable(c[:60])} »" for c in fields[:most])
    return shown + (f" … ({len(fields)} en tout)" if len(fields) > most else "")


def not_found_message(sn: Sniffed) -> str:
    return (
        f"colonnes trouvées : {found_text(header_fields(sn))} ; attendues pour generic-long : "
        f"{EXPECTED} ; {COLUMNS_HINT}"
    )


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

    def __init__(self, sn: Sniffed, routing: Routing, columns=None):
        super().__init__(sn)
        self.routing = routing
        self.ts_format, self.timezone, self.channel_code = None, "local", None
        self.profile_notes: list[str] = []
        if isinstance(columns, ColumnProfile):
            self._with_profile(sn, columns)
            return
        if columns is not None:
            self._named(sn, parse_columns(columns))
            return
        found = find_header(sn, _is_long)
        if found is None:
            raise ValueError(not_found_message(sn))
        self.header_line, labels = found
        self.width = len(labels)
        self.c_channel = column(labels, *CHANNEL)
        self.c_ts = column(labels, *TIMESTAMP)
        self.c_value = column(labels, *VALUE)
        self.c_quality = column(labels, *QUALITY)
        self.c_offset = column(labels, *OFFSET)
        self.c_unit = column(labels, *UNIT)
        self.needed = max(self.c_channel, self.c_ts, self.c_value) + 1
        self._header_unit(sn)

    def _header_unit(self, sn: Sniffed) -> None:
        """The unit a value header names in brackets (`Valeur (kWh)`), when it is a known
        unit: values are then read in it (converted or refused as with a unit column)."""
        self.value_unit, self.header_notes = None, []
        label = sn.head_rows()[self.header_line - 1][self.c_value]
        found = _BRACKETS.search(label)
        if found is None or self.c_unit is not None:
            return
        if _unit_key(found.group(1)) in HEADER_UNITS:
            self.value_unit = found.group(1)
        else:
            self.header_notes = [
                f"« {found.group(1)[:40]} » dans l'en-tête « {label[:60]} » n'est pas une unité "
                "connue : les valeurs sont lues dans l'unité de leur point"
            ]

    def _with_profile(self, sn: Sniffed, profile: ColumnProfile) -> None:
        """A saved profile: its columns (no channel column when it names the file's channel),
        its date format, clock and decimal mark."""
        required = ("timestamp", "value") if profile.channel else REQUIRED_ROLES
        self._named(sn, parse_columns(profile.columns, required))
        self.ts_format, self.timezone = profile.date_format, profile.timezone
        self.channel_code = profile.channel if self.c_channel is None else None
        if profile.decimal:
            self.decimal = profile.decimal
        self.profile_notes = [f"lu avec le profil d'import « {profile.code} »"]

    def _named(self, sn: Sniffed, mapping: dict[str, str]) -> None:
        """The columns the user named (`--columns`), found in the first head row holding
        them all; else an error listing what the file has."""
        wanted = {role: norm(label) for role, label in mapping.items()}
        found = find_header(sn, lambda labels: all(w in labels for w in wanted.values()))
        if found is None:
            rows = sn.head_labels()
            best = max(rows, key=lambda r: sum(w in r for w in wanted.values()), default=[])
            missing = [mapping[r] for r, w in wanted.items() if w not in best]
            raise ValueError(
                f"colonne(s) {', '.join(f'« {m} »' for m in missing)} introuvable(s) dans "
                f"l'en-tête ; colonnes trouvées : {found_text(header_fields(sn))}"
            )
        self.header_line, labels = found
        self.width = len(labels)
        at = {role: labels.index(w) for role, w in wanted.items()}
        self.c_channel, self.c_ts, self.c_value = at.get("channel"), at["timestamp"], at["value"]
        self.c_quality, self.c_offset = at.get("quality"), at.get("offset")
        self.c_unit = at.get("unit")
        self.needed = max(at.values()) + 1
        self._header_unit(sn)

    def parse_rows(self, table: Table) -> Parsed:
        if self.c_channel is None:  # a profile's file of one channel
            codes = pd.Series(self.channel_code, index=range(len(table)), dtype=object)
        else:
            codes = table.col(self.c_channel)
        ids = self.routing.ids_for_codes(codes)
        offset = None if self.c_offset is None else parse_offset_minutes(table.col(self.c_offset))
        ts, ts_reason = parse_timestamps(
            table.col(self.c_ts), self.clock, ids, offset, self.ts_format, self.timezone
        )
        num, empty, num_reason = self.numbers(table.col(self.c_value))
        if self.c_quality is not None:
            quality, q_reason = parse_quality(table.col(self.c_quality))
        else:
            quality, q_reason = np.zeros(len(table), "int64"), np.full(len(table), None, object)
        quality = np.where(empty, np.maximum(quality, int(Quality.GAP)), quality)
        codes_arr = codes.to_numpy()
        unit_reason = np.full(len(table), None, object)
        if self.c_unit is not None or self.value_unit is not None:
            units = (
                table.col(self.c_unit)
                if self.c_unit is not None
                else pd.Series([self.value_unit] * len(table), dtype=object)
            )
            factor, unit_reason = self._unit_factors(units, ids)
            num = num * factor
        reason = merge_reasons(
            field_count_reason(table, self.needed, self.width),
            where_reason(
                ids == UNKNOWN, lambda i: [f"point de mesure inconnu « {c} »" for c in codes_arr[i]]
            ),
            ts_reason,
            num_reason,
            q_reason,
            unit_reason,
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
        notes = self.profile_notes + self.header_notes
        self.header_notes, self.profile_notes = [], []  # said once per file
        return Parsed(readings, rejects_of(table, reason, 1), notes=notes)

    def _unit_factors(self, units: pd.Series, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the factor to the channel's unit and the reason a unit is refused: the
        same unit (or an empty cell) is kept, an energy in Wh, kWh or MWh is converted, any
        other unit is rejected (never guessed). One step per distinct (unit, channel unit)."""
        n = len(units)
        factor, reason = np.ones(n), np.full(n, None, object)
        given = units.astype(str).map(_unit_key).to_numpy()
        known = ids != UNKNOWN
        target = np.full(n, "", dtype=object)
        if known.any():
            target[known] = (
                pd.Series(ids[known]).map(self.routing.channels["unit"]).astype(str).to_numpy()
            )
        pairs = pd.DataFrame({"given": given, "target": target})[known & (given != "")]
        for (src, dst), rows in pairs.groupby(["given", "target"]).groups.items():
            pos = np.asarray(rows)
            if src == _unit_key(dst):
                continue
            if src in ENERGY_SCALE and _unit_key(dst) in ENERGY_SCALE:
                factor[pos] = ENERGY_SCALE[src] / ENERGY_SCALE[_unit_key(dst)]
            else:
                raw = units.iloc[pos[0]]
                reason[pos] = f"unité « {raw} » différente de celle du point ({dst})"
        return factor, reason


class ProfileParser(LongParser):
    """A long file read with the town's profile that fits its header (`ingest.profiles`), or
    the one named (`carnet import --profile NOM`)."""

    name = "profile"

    def __init__(self, sn: Sniffed, routing: Routing, columns=None):
        profile = columns if isinstance(columns, ColumnProfile) else profiles.matching(sn, routing)
        if profile is None:
            raise ValueError("aucun profil d'import (import_profiles:) ne correspond à l'en-tête")
        super().__init__(sn, routing, columns=profile)


def _unit_key(unit: str) -> str:
    return str(unit).strip().lower().replace("³", "3").replace("°", "deg").replace(" ", "")


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
