"""Electricity distributor (Enedis) customer-area exports, routed to channels by PRM.

Both exports are made of blocks: a metadata header (`Identifiant PRM;Type de donnees;...;
Unite;Pas en minutes`), its metadata line, a column header (`Horodate;...`), then data.

Load curve (`Horodate;Valeur`): average power in W over an interval that ENDS at the stamp.
It becomes the energy of [ts - step, ts) on an interval channel, stored at the interval start:
`energy = P_W * step_s / 3600` Wh, converted to the channel's unit (kWh: / 1000). Rows may be
unsorted and the step may change inside a file, so the rows of a file are kept (as numbers,
not text) and sorted at the end, per PRM. The step of a row is, in order: its own `Pas` column
if any; the gap to the previous point when it equals the gap before that (an established run);
the header step when it is one of the two neighbouring gaps; the smaller of the two neighbouring
gaps that is a valid step (5, 10, 15, 30 or 60 min); the header step. A hole in the curve thus
does not stretch the interval that follows it.

Daily index (`Horodate;Type de releve;EAS F1;...;EAS T`): cumulative energy in Wh; EAS T goes
to the PRM's index channel at the stamped instant; a releve type saying "estimé" is flagged.
The real export ends with the supplier-calendar section (`Periode;Identifiant calendrier
fournisseur;Libelle calendrier fournisseur;Identifiant classe temporelle 1;Libelle classe
temporelle 1;Cadran classe temporelle 1;...` then one line per period, `Du 2024-03-01T00:00:00
+01:00 au;...;HC;Heures Creuses;EAS F1;HP;Heures Pleines;EAS F2;...`): it says which register
counts which period. It is read for that (a note kept in the batch's message: « calendrier
fournisseur … : EAS F1 = HC (Heures Creuses), EAS F2 = HP (Heures Pleines) »), never as rows;
a line of that section that is not a period is rejected with its reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carnet.kinds import Quality
from ingest.formats.base import (
    Deferred,
    FormatParser,
    Parsed,
    empty_readings,
    empty_rejects,
    known_refs,
    merge_reasons,
    rejects_of,
    where_reason,
)
from ingest.routing import Routing, energy_divisor
from ingest.sniff import RawLines, Sniffed, Table, norm
from ingest.timestamps import NAT, parse_timestamps

VALID_STEPS_S = np.array([300, 600, 900, 1800, 3600])
CALENDAR_NOTES_MAX = 10  # distinct calendar periods named in a batch's message
_PERIOD = r"^du\s+(\d{4})-(\d{2})-(\d{2})\S*\s+au(?:\s+(\d{4})-(\d{2})-(\d{2})\S*)?$"


def _head_labels(sn: Sniffed) -> list[list[str]]:
    return sn.head_labels()


def detect_load_curve(sn: Sniffed, routing: Routing) -> bool:
    rows = _head_labels(sn)
    return any(r[:1] == ["identifiant prm"] for r in rows) and any(
        r[:2] == ["horodate", "valeur"] for r in rows
    )


def detect_daily_index(sn: Sniffed, routing: Routing) -> bool:
    return any(r[:1] == ["horodate"] and "eas t" in r for r in _head_labels(sn))


class LoadCurveParser(FormatParser):
    name = "enedis-load-curve"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        self.routing = routing
        self.header_line = 0
        self.meta_labels: list[str] = []
        self.block = {"prm": None, "unit": None, "step_s": np.nan}
        self.expect_meta = False
        self.parts: list[pd.DataFrame] = []
        # the rows wait for the end of the file as numbers; their text is read again if needed
        self.raw = RawLines(sn, self.header_line)
        self.deferred = Deferred(self.name)

    def parse_rows(self, table: Table) -> Parsed:
        data, info = blocks_of(self, table)
        ts, ts_reason = parse_timestamps(table.col(0), self.clock)
        num, empty, num_reason = self.numbers(table.col(1))
        own_step = _step_column(table.col(2)) if table.fields.shape[1] > 2 else None
        reason = merge_reasons(
            where_reason(data & info["prm"].isna().to_numpy(), "ligne hors bloc (PRM absent)"),
            where_reason(data, ts_reason),
            where_reason(data, num_reason),
        )
        ok = data & (reason == None)  # noqa: E711
        self.deferred.add(ok.sum())
        self.parts.append(
            pd.DataFrame(
                {
                    "prm": info["prm"].to_numpy()[ok],
                    "unit": info["unit"].to_numpy()[ok],
                    "hdr_step": info["step_s"].to_numpy(dtype=float)[ok],
                    "own_step": (np.full(len(table), np.nan) if own_step is None else own_step)[ok],
                    "ts_end": ts[ok],
                    "power": num[ok],
                    "empty": empty[ok],
                    "line_no": table.line_no[ok],
                }
            )
        )
        return Parsed(rejects=rejects_of(table, reason, 1))

    def finish(self) -> Parsed:
        rows = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        self.parts = []
        out = Parsed(raw=self.raw)
        if not len(rows):
            return out
        readings, rejects = [], []
        unknown = ~known_refs(self.routing, rows["prm"])
        if unknown.any():  # one vectorised rejection, however many PRMs the file invents
            lost = rows[unknown]
            rejects.append(_reject_all(lost, [_unknown_prm(p) for p in lost["prm"]]))
            rows = rows[~unknown]
        for prm, grp in rows.groupby("prm", sort=False):
            channel, why = self._channel(prm)
            if channel is None:
                rejects.append(_reject_all(grp, why))
                continue
            grp = grp.sort_values(["ts_end", "line_no"]).drop_duplicates("ts_end", keep="last")
            step = infer_steps(
                grp["ts_end"].to_numpy(dtype="int64"),
                grp["own_step"].to_numpy(dtype=float),
                grp["hdr_step"].to_numpy(dtype=float),
            )
            bad = np.isnan(step)
            if bad.any():
                rejects.append(_reject_all(grp[bad], "pas de temps indéterminable (point isolé)"))
            g, s = grp[~bad], step[~bad]
            unit_src = g["unit"].fillna("W").astype(str).str.strip().str.lower().to_numpy()
            power_w = g["power"].to_numpy(dtype=float) * np.where(unit_src == "kw", 1000.0, 1.0)
            energy_wh = np.where(np.isin(unit_src, ["wh", "kwh"]), power_w, power_w * s / 3600)
            energy_wh = np.where(unit_src == "kwh", energy_wh * 1000.0, energy_wh)
            value = energy_wh / energy_divisor(self.routing.unit(channel), "Wh")
            readings.append(
                pd.DataFrame(
                    {
                        "channel_id": channel,
                        "ts": g["ts_end"].to_numpy(dtype="int64") - s.astype("int64"),
                        "value": value,
                        "quality": np.where(g["empty"], int(Quality.GAP), 0),
                        "line_no": g["line_no"].to_numpy(),
                    }
                )
            )
        out.readings = pd.concat(readings, ignore_index=True) if readings else empty_readings()
        out.rejects = pd.concat(rejects, ignore_index=True) if rejects else empty_rejects()
        return out

    def _channel(self, prm: str) -> tuple[int | None, str]:
        found = self.routing.by_external_ref(prm)
        if not len(found):
            return None, _unknown_prm(prm)
        interval = found[found["kind"] == "interval"]
        if not len(interval):
            return None, (
                f"le PRM {prm} est rattaché à {', '.join(found['code'])} qui n'est pas un point "
                "de type intervalle (la courbe de charge donne une énergie par intervalle)"
            )
        try:
            energy_divisor(str(interval["unit"].iloc[0]))
        except ValueError as exc:
            return None, f"PRM {prm} : {exc}"
        return int(interval["id"].iloc[0]), ""


class DailyIndexParser(FormatParser):
    name = "enedis-daily-index"

    def __init__(self, sn: Sniffed, routing: Routing):
        super().__init__(sn)
        self.routing = routing
        self.header_line = 0
        self.meta_labels: list[str] = []
        self.data_labels: list[str] = []
        self.block = {"prm": None, "unit": None, "step_s": np.nan}
        self.expect_meta = False
        self.c_total = self.c_type = None
        self.in_calendar = False  # inside the supplier-calendar section (across chunks)
        self.calendar_labels: list[str] = []
        self.calendar_notes: set[str] = set()
        self.ref_cache: dict[str, tuple[int | None, str]] = {}
        # a file without a metadata block: the PRM may sit in a preamble line "PRM;1234..."
        for row in sn.head_rows():
            is_prm = len(row) >= 2 and norm(row[0]) in ("prm", "point de livraison")
            if is_prm and row[1].strip().isdigit():
                self.block["prm"] = row[1].strip()

    def parse_rows(self, table: Table) -> Parsed:
        data, info = blocks_of(self, table)
        calendar = self._calendar_lines(table) & data
        data = data & ~calendar
        cal_reason, cal_notes = self._calendar(table, calendar)
        parsed = self._index_rows(table, data, info)
        parsed.batch_notes = cal_notes
        if cal_reason.any():
            bad = rejects_of(table, cal_reason, 1)
            parts = [p for p in (parsed.rejects, bad) if len(p)]
            parsed.rejects = pd.concat(parts, ignore_index=True)
        return parsed

    def _calendar_lines(self, table: Table) -> np.ndarray:
        """Lines of the supplier-calendar section: from a `Periode` header to the next block."""
        first = table.col(0).map(norm).to_numpy()
        start = first == "periode"
        stop = (first == "identifiant prm") | (first == "horodate")
        state = pd.Series(np.where(start, 1.0, np.where(stop, 0.0, np.nan)))
        state = state.ffill().fillna(1.0 if self.in_calendar else 0.0).to_numpy() == 1.0
        if len(state):
            self.in_calendar = bool(state[-1])
        heads = np.flatnonzero(start)
        if len(heads):  # the labels of the last calendar header (one per section)
            row = table.fields.iloc[heads[-1]].tolist()
            self.calendar_labels = [norm(str(c).strip().strip('"')) for c in row]
        return state

    def _calendar(self, table: Table, calendar: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(reason per line, new notes) of the calendar section's lines, all at once."""
        n = len(table)
        reason = np.full(n, None, dtype=object)
        rows = np.flatnonzero(calendar & (table.col(0).map(norm).to_numpy() != "periode"))
        if not len(rows):
            return reason, []
        labels = self.calendar_labels

        def col(label: str) -> pd.Series:
            if label not in labels:
                return pd.Series([""] * len(rows), dtype=object)
            return table.col(labels.index(label)).iloc[rows].reset_index(drop=True)

        period = table.col(0).iloc[rows].reset_index(drop=True)
        parts = period.str.strip().str.lower().str.extract(_PERIOD)
        bad = parts[0].isna().to_numpy()
        if bad.any():
            raw = period.to_numpy()
            reason[rows[bad]] = [
                f"ligne du calendrier fournisseur illisible : période « {p[:80]} » "
                "(attendu « Du AAAA-MM-JJ… au … »)"
                for p in raw[bad]
            ]
        since = parts[2] + "/" + parts[1] + "/" + parts[0]
        until = parts[5] + "/" + parts[4] + "/" + parts[3]
        when = np.where(parts[3].notna(), "du " + since + " au " + until, "depuis le " + since)
        head, body = _calendar_text(col, "fournisseur", "classe temporelle {}", 10)
        text = head + " " + pd.Series(when, dtype=object).fillna("") + " : " + body
        d_head, d_body = _calendar_text(col, "distributeur", "classe temporelle distributeur {}", 4)
        text = text.where(d_body == "", text + " ; " + d_head + " : " + d_body)
        notes = []
        for note in pd.unique(text[~bad & (body != "").to_numpy()]):
            if note not in self.calendar_notes and len(self.calendar_notes) < CALENDAR_NOTES_MAX:
                self.calendar_notes.add(note)
                notes.append(note[:1000])
        return reason, notes

    def _index_rows(self, table: Table, data: np.ndarray, info: pd.DataFrame) -> Parsed:
        if self.data_labels:
            self.c_total = self.data_labels.index("eas t") if "eas t" in self.data_labels else None
            self.c_type = next(
                (i for i, lbl in enumerate(self.data_labels) if lbl.startswith("type")), None
            )
        n = len(table)
        if self.c_total is None:
            reason = where_reason(data, "colonne EAS T absente de l'en-tête")
            return Parsed(rejects=rejects_of(table, reason, 1))
        prm = info["prm"].to_numpy()
        channel = np.full(n, -1, dtype="int64")
        route_reason = np.full(n, None, dtype=object)
        absent = data & pd.isna(prm)
        route_reason[absent] = "ligne hors bloc (PRM absent)"
        has = np.flatnonzero(data & ~absent)
        known = np.zeros(n, bool)
        known[has] = known_refs(self.routing, prm[has])
        unknown = data & ~absent & ~known
        if unknown.any():  # vectorised, however many PRMs the file invents
            route_reason[unknown] = [_unknown_prm(p) for p in prm[unknown]]
        for p in pd.unique(prm[known]):
            cid, why = self._channel(str(p))
            mask = data & (prm == p)
            if cid is None:
                route_reason[mask] = why
            else:
                channel[mask] = cid
        ts, ts_reason = parse_timestamps(table.col(0), self.clock, channel)
        num, empty, num_reason = self.numbers(table.col(self.c_total))
        unit_src = info["unit"].fillna("Wh").astype(str).str.strip().str.lower().to_numpy()
        factor = np.where(unit_src == "kwh", 1000.0, 1.0)
        divisor = np.ones(n)
        for c in pd.unique(channel[channel >= 0]):
            divisor[channel == c] = energy_divisor(self.routing.unit(int(c)))
        value = num * factor / divisor
        if self.c_type is not None:
            kind = table.col(self.c_type).map(norm)
            estimated = kind.str.contains("estim").to_numpy()
        else:
            estimated = np.zeros(n, bool)
        quality = np.where(empty, int(Quality.GAP), np.where(estimated, int(Quality.ESTIMATED), 0))
        reason = merge_reasons(
            where_reason(data, route_reason),
            where_reason(data, ts_reason),
            where_reason(
                data & (num_reason != None),  # noqa: E711
                lambda i: [f"EAS T : {w}" for w in num_reason[i]],
            ),
        )
        ok = data & (reason == None)  # noqa: E711
        readings = pd.DataFrame(
            {
                "channel_id": channel[ok],
                "ts": ts[ok],
                "value": value[ok],
                "quality": quality[ok],
                "line_no": table.line_no[ok],
            }
        )
        return Parsed(readings, rejects_of(table, reason, 1))

    def _channel(self, prm: str) -> tuple[int | None, str]:
        if prm not in self.ref_cache:
            found = self.routing.by_external_ref(prm)
            index = found[found["kind"] == "index"]
            if not len(found):
                self.ref_cache[prm] = (None, _unknown_prm(prm))
            elif not len(index):
                self.ref_cache[prm] = (
                    None,
                    f"le PRM {prm} n'a pas de point de type index ({', '.join(found['code'])})",
                )
            else:
                self.ref_cache[prm] = (int(index["id"].iloc[0]), "")
        return self.ref_cache[prm]


def _calendar_text(col, owner: str, klass: str, count: int) -> tuple[pd.Series, pd.Series]:
    """(« calendrier fournisseur AA000000 « Option … » », « EAS F1 = HC (Heures Creuses), … »)
    per line of the calendar section (columns read whole: one step per temporal class)."""
    ident = col(f"identifiant calendrier {owner}")
    label = col(f"libelle calendrier {owner}")
    head = ("calendrier " + owner + " " + ident).str.strip()
    head = head.where(label == "", head + " « " + label + " »")
    body = pd.Series([""] * len(ident), dtype=object)
    for i in range(1, count + 1):
        k = klass.format(i)
        cid, lib, reg = col(f"identifiant {k}"), col(f"libelle {k}"), col(f"cadran {k}")
        part = reg + " = " + cid
        part = part.where(lib == "", part + " (" + lib + ")")
        has = (reg != "") & (cid != "")
        body = body.where(~has, body.where(body == "", body + ", ") + part)
    return head, body


def blocks_of(parser, table: Table) -> tuple[np.ndarray, pd.DataFrame]:
    """Data-line mask and each line's block (prm, unit, step_s), carried across chunks.

    Metadata and header lines are few: they are walked one by one; data lines are filled
    forward from the last metadata line.
    """
    n = len(table)
    first = table.col(0).map(norm).to_numpy()
    meta_hdr = first == "identifiant prm"
    data_hdr = first == "horodate"
    meta_row = np.zeros(n, bool)
    if n:
        meta_row[1:] = meta_hdr[:-1]
        meta_row[0] = parser.expect_meta
        parser.expect_meta = bool(meta_hdr[-1])
    block_of_line = np.zeros(n, dtype="int64")
    blocks = [dict(parser.block)]
    for i in np.flatnonzero(meta_hdr | data_hdr | meta_row):
        row = [str(v).strip().strip('"') for v in table.fields.iloc[i].tolist()]
        if meta_hdr[i]:
            parser.meta_labels = [norm(c) for c in row]
        elif data_hdr[i]:
            parser.data_labels = [norm(c) for c in row]
        else:
            info = dict(zip(parser.meta_labels, row, strict=False))
            pas = pd.to_numeric(info.get("pas en minutes", ""), errors="coerce")
            parser.block = {
                "prm": (info.get("identifiant prm") or row[0]).strip() or None,
                "unit": (info.get("unite") or "").strip() or None,
                "step_s": float(pas) * 60 if pd.notna(pas) else np.nan,
            }
            blocks.append(dict(parser.block))
            block_of_line[i] = 1
    block_of_line = np.cumsum(block_of_line)
    info = pd.DataFrame(
        {
            key: pd.Series([b[key] for b in blocks], dtype=object).to_numpy()[block_of_line]
            for key in ("prm", "unit", "step_s")
        }
    )
    info["step_s"] = pd.to_numeric(info["step_s"], errors="coerce")
    info["prm"] = info["prm"].where(info["prm"].notna(), None)
    return ~(meta_hdr | data_hdr | meta_row), info


def _step_column(text: pd.Series) -> np.ndarray:
    """A per-row step: `PT30M`, `30` (minutes) or blank."""
    s = text.astype(str).str.upper().str.extract(r"^(?:PT)?(\d+)M?$")[0]
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float) * 60


def infer_steps(ts_end: np.ndarray, own: np.ndarray, header: np.ndarray) -> np.ndarray:
    """Step in seconds of each end-stamped point of one sorted series (NaN: undecidable)."""
    n = len(ts_end)
    a = np.full(n, np.nan)  # gap to the previous point
    b = np.full(n, np.nan)  # gap to the next point
    if n > 1:
        d = np.diff(ts_end).astype(float)
        a[1:], b[:-1] = d, d
    c = np.full(n, np.nan)  # the previous point's own gap
    c[1:] = a[:-1]
    ok_a, ok_b = np.isin(a, VALID_STEPS_S), np.isin(b, VALID_STEPS_S)
    smaller = np.where(ok_a & ok_b, np.minimum(a, b), np.where(ok_a, a, np.where(ok_b, b, np.nan)))
    header_ok = np.isin(header, VALID_STEPS_S)
    return np.select(
        [
            ~np.isnan(own),
            ok_a & (a == c),
            header_ok & ((header == a) | (header == b)),
            ~np.isnan(smaller),
            header_ok,
        ],
        [own, a, header, smaller, header],
        default=np.nan,
    )


def _unknown_prm(prm) -> str:
    return (
        f"PRM {prm} inconnu : aucun point de mesure ne porte ce numéro "
        "(à inscrire comme référence d'un point dans le fichier de patrimoine)"
    )


def _reject_all(grp: pd.DataFrame, reason) -> pd.DataFrame:
    """Every row of `grp` rejected (raw None: read again from the file for the rows kept)."""
    return pd.DataFrame(
        {"line_no": grp["line_no"].to_numpy(), "raw": None, "reason": reason, "n_values": 1}
    )


__all__ = ["NAT", "LoadCurveParser", "DailyIndexParser", "infer_steps"]
