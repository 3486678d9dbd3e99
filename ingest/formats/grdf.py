"""Gas distributor (GRDF) daily export, CSV or XLSX, routed to channels by PCE.

Columns (French labels, matched loosely): date, index de début and de fin (m3, whole), volume
(m3, decimal), énergie (kWh), coefficient de conversion (kWh/m3), type de relevé (mesuré /
estimé). The PCE is a column or a preamble line (`Numéro de PCE;GI000123`).

Day D covers local [00:00 D, 00:00 D+1) (the gas day really runs 6h-6h; the customer area
dates it by calendar day and so do we).

Which figure goes where depends on the channel the PCE is declared on:
- an **interval** channel receives the day's volume (unit m3) or energy (unit kWh) at the day's
  start: decimal volumes are exact per day, whole-m3 index differences are not;
- an **index** channel receives the end index at 00:00 D+1 (and the start index at 00:00 D
  for the first day and after a hole). Index differences over a day are whole m3, but their
  sum over any period is exact (it telescopes) and this is the meter's own record.
The coefficient of each day is kept per period in `conversion_factor` (a row where it
changes), so that m3 x coefficient gives kWh PCS with the coefficient in force that day.
A start index lower than the previous day's end index is a meter replacement: the old index
closes at the previous end, the new one opens at the start index (see `ingest.meters`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from carnet.kinds import Quality
from carnet.timeutil import local_midnight_epoch
from ingest.formats.base import (
    Deferred,
    FormatParser,
    Parsed,
    empty_readings,
    empty_rejects,
    find_header,
    known_refs,
    merge_reasons,
    rejects_of,
    where_reason,
)
from ingest.routing import Routing, energy_divisor
from ingest.sniff import RawLines, Sniffed, Table, norm
from ingest.timestamps import day_reasons

_PCE = re.compile(r"\b(GI\d{6}|\d{14})\b", re.IGNORECASE)


def _is_header(labels: list[str]) -> bool:
    has = lambda *words: any(all(w in lbl for w in words) for lbl in labels)  # noqa: E731
    return has("date") and has("volume") and (has("energie") or has("coef") or has("index"))


def detect(sn: Sniffed, routing: Routing) -> bool:
    return find_header(sn, _is_header) is not None


def _find(labels: list[str], *words: str) -> int | None:
    for i, lbl in enumerate(labels):
        if all(w in lbl for w in words):
            return i
    return None


def reading_type(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Quality from the reading type: estimated wins over measured when a label says both."""
    key = text.map(norm)
    estimated = (key.str.contains("estim|calcul", regex=True) | (key == "e")).to_numpy()
    measured = (
        key.isin(["", "m", "r"]) | key.str.contains("mesur|reel|releve", regex=True)
    ).to_numpy()
    reason = where_reason(
        ~(estimated | measured), [f"type de relevé inconnu « {t} »" for t in text.to_numpy()]
    )
    return np.where(estimated, int(Quality.ESTIMATED), int(Quality.MEASURED)), reason


class GrdfParser(FormatParser):
    name = "grdf-daily"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        found = find_header(sn, _is_header)
        if found is None:
            raise ValueError("en-tête date;index;volume;énergie;coefficient introuvable")
        self.header_line, labels = found
        self.routing = routing
        self.c_date = _find(labels, "date")
        self.c_start = _find(labels, "index", "debut")
        self.c_end = _find(labels, "index", "fin")
        self.c_volume = _find(labels, "volume")
        self.c_energy = _find(labels, "energie")
        self.c_coef = _find(labels, "coef")
        self.c_type = (
            _find(labels, "type") if _find(labels, "type") is not None else _find(labels, "qualite")
        )
        self.c_pce = next(
            (i for i, lbl in enumerate(labels) if lbl in ("pce", "numero de pce", "n pce")), None
        )
        self.pce = None
        for row in sn.head_rows()[: self.header_line - 1]:
            m = _PCE.search(" ".join(row))
            if m:
                self.pce = m.group(1).upper()
        self.parts: list[pd.DataFrame] = []
        # the rows wait for the end of the file as numbers; their text is read again if needed
        self.raw = RawLines(sn, self.header_line)
        self.deferred = Deferred(self.name)

    def parse_rows(self, table: Table) -> Parsed:
        n = len(table)
        col = lambda i: table.col(i) if i is not None else pd.Series([""] * n)  # noqa: E731
        day, day_reason = day_reasons(col(self.c_date))
        numbers = {
            key: self.numbers(col(c))
            for key, c in (
                ("index de début", self.c_start),
                ("index de fin", self.c_end),
                ("volume", self.c_volume),
                ("énergie", self.c_energy),
                ("coefficient", self.c_coef),
            )
        }
        quality, type_reason = reading_type(col(self.c_type))
        pce = col(self.c_pce).str.upper() if self.c_pce is not None else pd.Series([""] * n)
        pce = pce.where(pce != "", self.pce or "").to_numpy()
        reason = merge_reasons(
            day_reason,
            where_reason(pce == "", "PCE absent (ni colonne PCE, ni ligne « PCE » en tête)"),
            *[
                where_reason(
                    why != None,  # noqa: E711
                    lambda i, key=key, why=why: [f"{key} : {w}" for w in why[i]],
                )
                for key, (_, _, why) in numbers.items()
            ],
            type_reason,
        )
        ok = reason == None  # noqa: E711
        self.deferred.add(ok.sum())
        start, end, volume, energy, coef = (numbers[k][0] for k in numbers)
        self.parts.append(
            pd.DataFrame(
                {
                    "pce": pd.Categorical(pce[ok]),
                    "day": day[ok],
                    "start": start[ok],
                    "end": end[ok],
                    "volume": volume[ok],
                    "energy": energy[ok],
                    "coef": coef[ok],
                    "quality": quality[ok],
                    "line_no": table.line_no[ok],
                }
            )
        )
        return Parsed(rejects=rejects_of(table, reason, 1))

    def _missing_column(self, ch) -> str | None:
        """A channel the file cannot feed: never write gaps for a column that is not there."""
        if ch.kind == "index" and self.c_end is None:
            return (
                f"{ch.code} est un point index mais le fichier n'a pas de colonne « index de fin »"
            )
        if ch.kind == "interval" and _unit_is_m3(ch.unit) and self.c_volume is None:
            return f"{ch.code} attend des m3 mais le fichier n'a pas de colonne « volume »"
        if ch.kind == "interval" and not _unit_is_m3(ch.unit) and self.c_energy is None:
            return f"{ch.code} attend de l'énergie mais le fichier n'a pas de colonne « énergie »"
        return None

    def finish(self) -> Parsed:
        out = Parsed(raw=self.raw)
        rows = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        self.parts = []
        if not len(rows):
            return out
        rows["pce"] = rows["pce"].astype(object)
        readings, rejects, factors = [], [], []
        unknown = ~known_refs(self.routing, rows["pce"])
        if unknown.any():  # one vectorised rejection, however many PCEs the file invents
            lost = rows[unknown]
            rejects.append(
                _reject_all(
                    lost,
                    [
                        f"PCE {p} inconnu : aucun point de mesure ne porte ce numéro "
                        "(à inscrire comme référence d'un point dans le fichier de patrimoine)"
                        for p in lost["pce"]
                    ],
                )
            )
            rows = rows[~unknown]
        for pce, grp in rows.groupby("pce", sort=False):
            grp = grp.sort_values(["day", "line_no"]).drop_duplicates("day", keep="last")
            channels = self.routing.by_external_ref(pce)
            targets = channels[channels["kind"].isin(["index", "interval"])]
            if not len(targets):
                why = (
                    f"PCE {pce} inconnu : aucun point de mesure ne porte ce numéro "
                    "(à inscrire comme référence d'un point dans le fichier de patrimoine)"
                    if not len(channels)
                    else f"le PCE {pce} n'a ni point index ni point intervalle"
                )
                rejects.append(_reject_all(grp, why))
                continue
            day0 = grp["day"].to_numpy(dtype="datetime64[D]")
            t_start = local_midnight_epoch(day0)
            t_end = local_midnight_epoch(day0 + np.timedelta64(1, "D"))
            for ch in targets.itertuples():
                missing = self._missing_column(ch)
                if missing:
                    rejects.append(_reject_all(grp, missing))
                    continue
                if ch.kind == "index":
                    readings.append(_index_readings(grp, int(ch.id), t_start, t_end))
                else:
                    part = _interval_readings(grp, int(ch.id), str(ch.unit), t_start)
                    if part is None:
                        rejects.append(
                            _reject_all(
                                grp,
                                f"unité « {ch.unit} » de {ch.code} : m3 ou kWh attendu",
                            )
                        )
                        continue
                    readings.append(part)
                if str(ch.unit).lower() in ("m3", "m³"):
                    factors.append(
                        pd.DataFrame(
                            {
                                "channel_id": int(ch.id),
                                "valid_from": pd.to_datetime(grp["day"]).dt.date.to_numpy(),
                                "kwh_per_unit": grp["coef"].to_numpy(dtype=float),
                            }
                        )
                    )
        out.readings = pd.concat(readings, ignore_index=True) if readings else empty_readings()
        out.rejects = pd.concat(rejects, ignore_index=True) if rejects else empty_rejects()
        out.factors = pd.concat(factors, ignore_index=True) if factors else None
        return out


def _unit_is_m3(unit: str) -> bool:
    return str(unit).strip().lower() in ("m3", "m³")


def _index_readings(grp: pd.DataFrame, cid: int, t_start, t_end) -> pd.DataFrame:
    start = grp["start"].to_numpy(dtype=float)
    end = grp["end"].to_numpy(dtype=float)
    day = grp["day"].to_numpy(dtype="datetime64[D]")
    prev_end = np.concatenate([[np.nan], end[:-1]])
    prev_day = np.concatenate([[np.datetime64("NaT")], day[:-1]])
    consecutive = (day - prev_day) == np.timedelta64(1, "D")
    with np.errstate(invalid="ignore"):
        replaced = ~np.isnan(prev_end) & ~np.isnan(start) & (start < prev_end)
    emit_start = ~np.isnan(start) & ~replaced & (~consecutive | np.isnan(prev_end))
    q = grp["quality"].to_numpy(dtype="int64")
    line = grp["line_no"].to_numpy()
    ends = pd.DataFrame(
        {
            "channel_id": cid,
            "ts": t_end,
            "value": end,
            "quality": np.where(np.isnan(end), int(Quality.GAP), q),
            "line_no": line,
            "reset_new": start,  # the new meter's start index, if this turns out a replacement
            "reset_force": replaced,
        }
    )
    starts = pd.DataFrame(
        {
            "channel_id": cid,
            "ts": t_start[emit_start],
            "value": start[emit_start],
            "quality": q[emit_start],
            "line_no": line[emit_start],
            "reset_new": start[emit_start],
            "reset_force": False,
        }
    )
    return pd.concat([starts, ends], ignore_index=True).sort_values(["ts", "line_no"])


def _interval_readings(grp: pd.DataFrame, cid: int, unit: str, t_start) -> pd.DataFrame | None:
    u = unit.strip().lower()
    if u in ("m3", "m³"):
        value = grp["volume"].to_numpy(dtype=float)
    else:
        try:
            value = grp["energy"].to_numpy(dtype=float) * 1000.0 / energy_divisor(unit)
        except ValueError:
            return None
    q = grp["quality"].to_numpy(dtype="int64")
    return pd.DataFrame(
        {
            "channel_id": cid,
            "ts": t_start,
            "value": value,
            "quality": np.where(np.isnan(value), int(Quality.GAP), q),
            "line_no": grp["line_no"].to_numpy(),
        }
    )


def _reject_all(grp: pd.DataFrame, reason) -> pd.DataFrame:
    """Every row of `grp` rejected (raw None: read again from the file for the rows kept)."""
    return pd.DataFrame(
        {"line_no": grp["line_no"].to_numpy(), "raw": None, "reason": reason, "n_values": 1}
    )
