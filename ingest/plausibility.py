"""Physical plausibility: what a channel's equipment can do decides what enters the record.

Each candidate reading is checked before it is stored (DESIGN.md, Physical plausibility):
- `jump`: an index increment (or an interval value) implying a mean power
  `P = delta * kwh_per_unit / hours` above the channel's limit: its `max_kw`, else its
  equipment's `power_kw` (or the sum of the boilers under it) x POWER_MARGIN, else the gas
  meter's size class (Qmax x METER_MARGIN), else the building's boilers x POWER_MARGIN (gas and
  heat channels); a burner-hours counter cannot run faster than the clock;
- `drop`: an index going down is a rollover only when the previous value was within
  ROLLOVER_BAND of the modulus and the wrapped increment is itself plausible; it is a meter
  replacement only when declared (an `index_reset` between the two readings, or a file column
  such as GRDF's start/end index, `reset_force`); any other drop is held;
- `range`: a value outside the quantity's sane range (SANE_RANGES, or the range a town declared
  for its own quantity: the `quantity` table), a negative index, an
  index at or above its modulus;
- `before_install` / `future`: a timestamp before the channel's installation (its own
  `installed_on`, else its equipment's) or more than FUTURE_MARGIN_S after now.

Index readings are compared with the last ACCEPTED reading before them (in the chunk, else
the last valid stored one): a held reading never becomes the reference of the next. The rules
are vectorised; the sequence rule needs one pass per run of held readings of a channel, each
pass over the rows left. Stored context (previous and next valid reading, declared
replacements) is read in one statement per chunk for all channels (`stored_context`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from carnet.portfolio_schema import GAS_METER_QMAX_M3H
from carnet.quantities import QUANTITY_PHRASES_FR
from carnet.quarantine import fr_num
from carnet.timeutil import epoch_to_local, local_midnight_epoch

POWER_MARGIN = 1.5  # equipment power_kw x 1.5: a boiler's rating is not a hard ceiling
METER_MARGIN = 1.2  # a gas meter may run 20 % over its Qmax (EN 1359 overload)
HOURS_MARGIN = 1.05  # a burner-hours counter gains at most 1.05 h per hour ...
HOURS_TOLERANCE = 1.0  # ... plus one unit of its display resolution
ROLLOVER_BAND = 0.10  # previous value within 10 % below the modulus
FUTURE_MARGIN_S = 3600  # clocks drift: one hour ahead of now is still accepted

# sane range (low, high) of each built-in quantity, in the channel's unit (None: no bound)
SANE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "gas_volume_m3": (0.0, None),
    "energy_kwh": (0.0, None),
    "heat_energy_kwh": (0.0, None),
    "electricity_kwh": (0.0, None),
    "water_volume_m3": (0.0, None),
    "temp_indoor_c": (-30.0, 60.0),
    "temp_outdoor_c": (-50.0, 50.0),
    "temp_min_c": (-50.0, 50.0),
    "temp_max_c": (-50.0, 50.0),
    "temp_flow_c": (0.0, 120.0),
    "temp_return_c": (0.0, 120.0),
    "burner_hours": (0.0, None),
    "burner_starts": (0.0, None),
    "fault_code": (0.0, None),
    "power_kw": (0.0, None),
    "humidity_pct": (0.0, 100.0),
    "co2_ppm": (0.0, 10_000.0),
    "valve_pct": (0.0, 100.0),
    "pressure_bar": (0.0, 25.0),
}
EQUIPMENT_LABELS_FR = {
    "boiler": "une chaudière",
    "burner": "un brûleur",
    "heat_pump": "une pompe à chaleur",
    "boiler_room": "une chaufferie",
    "gas_meter": "un compteur de gaz",
    "heat_meter": "un compteur d'énergie",
    "electricity_meter": "un compteur électrique",
}
UNIT_LABELS = {"m3": "m³", "degc": "°C", "pct": "%", "%": "%"}
BY_UNIT_KWH = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}
_KEY = 10_000_000_000  # channel_id * _KEY + ts: one sortable int64 per (channel, instant)

OK, JUMP, DROP = 0, 1, 2
# reason codes of held rows, by number (0: not held)
REASON_CODES = np.array(["", "jump", "drop", "range", "before_install", "future"], dtype=object)
_JUMP, _DROP, _RANGE, _EARLY, _LATE = 1, 2, 3, 4, 5


# --- channel metadata ------------------------------------------------------------------------


def channel_limits(conn: Connection) -> pd.DataFrame:
    """Per channel (indexed by id): what its readings are checked against. One statement;
    the equipment's ratings summed once per parent and per building, not once per channel
    (a site of 10 000 channels)."""
    meta = pd.read_sql_query(
        text(
            "SELECT c.id, c.code, c.kind, c.quantity, c.unit, c.kwh_per_unit, c.modulus,"
            " c.max_kw, c.installed_on AS ch_installed_on, e.kind AS eq_kind,"
            " e.power_kw AS eq_power_kw, e.meter_size, e.installed_on AS eq_installed_on,"
            " ek.children_kw, bk.building_kw,"
            " q.range_min AS q_min, q.range_max AS q_max, q.label AS q_label"
            " FROM channel c LEFT JOIN equipment e ON e.id = c.equipment_id"
            " LEFT JOIN (SELECT k.parent_id, SUM(k.power_kw) AS children_kw FROM equipment k"
            "  WHERE k.kind IN ('boiler', 'heat_pump') GROUP BY k.parent_id) ek"
            "  ON ek.parent_id = e.id"
            " LEFT JOIN (SELECT k.building_id, SUM(k.power_kw) AS building_kw FROM equipment k"
            "  WHERE k.kind IN ('boiler', 'heat_pump') AND k.removed_on IS NULL"
            "  GROUP BY k.building_id) bk ON bk.building_id = c.building_id"
            " LEFT JOIN quantity q ON q.code = c.quantity"
        ),
        conn,
    ).set_index("id")
    return derive_limits(meta)


def derive_limits(meta: pd.DataFrame) -> pd.DataFrame:
    """Add the limit columns to raw channel metadata (pure; see channel_limits).

    `limit_rate`: most the channel may gain per hour, in its unit (NaN: no limit);
    `limit_kw`: the same in kW when the limit is a power; `basis`: max_kw, equipment, meter,
    building or hours; `basis_kw`: the rating it comes from; `installed_ts`: first instant a
    reading may carry (NaN: unknown)."""
    meta = meta.copy()
    for col in ("kwh_per_unit", "modulus", "max_kw", "eq_power_kw", "children_kw", "building_kw"):
        meta[col] = (
            pd.to_numeric(meta[col], errors="coerce").astype(float) if col in meta else np.nan
        )
    for col in ("eq_kind", "meter_size", "ch_installed_on", "eq_installed_on", "quantity"):
        if col not in meta:
            meta[col] = None
    unit = meta["unit"].astype(str).str.strip().str.lower()
    k = meta["kwh_per_unit"].fillna(unit.map(BY_UNIT_KWH)).to_numpy(dtype=float)
    n = len(meta)
    limit_kw = np.full(n, np.nan)
    basis_kw = np.full(n, np.nan)
    basis = np.full(n, "", dtype=object)
    rate = np.full(n, np.nan)

    def take(mask, kind, kw=None, r=None, base=None):
        mask = mask & (basis == "")
        basis[mask] = kind
        if kw is not None:
            limit_kw[mask] = kw[mask]
            rate[mask] = kw[mask] / k[mask]
        if r is not None:
            rate[mask] = r[mask]
        if base is not None:
            basis_kw[mask] = base[mask]

    has_k = ~np.isnan(k) & (k > 0)
    max_kw = meta["max_kw"].to_numpy(dtype=float)
    take(has_k & ~np.isnan(max_kw) & (max_kw > 0), "max_kw", kw=max_kw, base=max_kw)
    own = meta["eq_power_kw"].fillna(meta["children_kw"]).to_numpy(dtype=float)
    take(has_k & (own > 0), "equipment", kw=own * POWER_MARGIN, base=own)
    qmax = meta["meter_size"].map(GAS_METER_QMAX_M3H).to_numpy(dtype=float)
    take(unit.isin(["m3", "m³"]).to_numpy() & (qmax > 0), "meter", r=qmax * METER_MARGIN)
    limit_kw[basis == "meter"] = (rate * k)[basis == "meter"]
    heat = meta["quantity"].isin(["gas_volume_m3", "heat_energy_kwh"]).to_numpy()
    bkw = meta["building_kw"].to_numpy(dtype=float)
    take(has_k & heat & (bkw > 0), "building", kw=bkw * POWER_MARGIN, base=bkw)
    hours = (meta["quantity"] == "burner_hours").to_numpy()
    take(hours, "hours", r=np.full(n, HOURS_MARGIN))
    meta["k"] = k
    meta["limit_rate"] = rate
    meta["limit_kw"] = limit_kw
    meta["basis"] = basis
    meta["basis_kw"] = basis_kw
    meta["tolerance"] = np.where(basis == "hours", HOURS_TOLERANCE, 0.0)
    installed = meta["ch_installed_on"].where(
        meta["ch_installed_on"].notna(), meta["eq_installed_on"]
    )
    meta["installed_from"] = np.where(meta["ch_installed_on"].notna(), "channel", "equipment")
    days = pd.to_datetime(installed, errors="coerce")
    ts = np.full(n, np.nan)
    known = days.notna().to_numpy()
    if known.any():
        ts[known] = local_midnight_epoch(days[known].dt.date.to_numpy()).astype(float)
    meta["installed_ts"] = ts
    lo = meta["quantity"].map({q: r[0] for q, r in SANE_RANGES.items()})
    hi = meta["quantity"].map({q: r[1] for q, r in SANE_RANGES.items()})
    meta["range_lo"] = pd.to_numeric(lo, errors="coerce").astype(float)
    meta["range_hi"] = pd.to_numeric(hi, errors="coerce").astype(float)
    if "q_label" in meta:  # a declared quantity: its own range (a null bound: none)
        declared = meta["q_label"].notna()
        for col, bound in (("range_lo", "q_min"), ("range_hi", "q_max")):
            value = pd.to_numeric(meta[bound], errors="coerce").astype(float)
            meta[col] = value.where(declared, meta[col])
    return meta


# --- stored context --------------------------------------------------------------------------


def stored_context(
    conn: Connection, frame: pd.DataFrame, meta: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(previous, resets) for the candidates' index and interval channels.

    `previous` (indexed by channel_id): prev_ts/prev_value, the last valid stored reading
    before the channel's first candidate, and next_ts/next_value, the first after its last;
    `resets`: the declared replacements (index_reset) of those channels. Two statements."""
    empty = pd.DataFrame(columns=["prev_ts", "prev_value", "next_ts", "next_value"])
    no_resets = pd.DataFrame(columns=["channel_id", "ts", "old_final_value", "new_start_value"])
    ids = frame["channel_id"].to_numpy()
    channels = pd.unique(ids)  # a handful: the kinds are looked up per channel, not per row
    wanted = channels[meta["kind"].reindex(channels).isin(["index", "interval"]).to_numpy()]
    if not len(wanted):
        return empty, no_resets
    sel = frame if len(wanted) == len(channels) else frame[np.isin(ids, wanted)]
    span = sel.groupby("channel_id")["ts"].agg(["min", "max"])
    values = ", ".join(
        f"({int(c)}, {int(a)}, {int(b)})"
        for c, a, b in zip(span.index, span["min"], span["max"], strict=True)
    )
    near = "SELECT {f} FROM reading r WHERE r.channel_id = w.c AND r.ts {op} w.{b}" + (
        " AND r.value IS NOT NULL ORDER BY r.ts {o} LIMIT 1"
    )
    rows = conn.execute(
        text(
            f"WITH w(c, a, b) AS (VALUES {values}) SELECT w.c,"
            f" ({near.format(f='r.ts', op='<', b='a', o='DESC')}),"
            f" ({near.format(f='r.value', op='<', b='a', o='DESC')}),"
            f" ({near.format(f='r.ts', op='>', b='b', o='ASC')}),"
            f" ({near.format(f='r.value', op='>', b='b', o='ASC')}) FROM w"
        )
    ).all()
    previous = pd.DataFrame(
        rows, columns=["channel_id", "prev_ts", "prev_value", "next_ts", "next_value"]
    ).astype(float)
    previous = previous.astype({"channel_id": "int64"}).set_index("channel_id")
    index_ids = [int(c) for c in span.index if meta.at[int(c), "kind"] == "index"]
    if not index_ids:
        return previous, no_resets
    resets = pd.read_sql_query(
        text(
            "SELECT channel_id, ts, old_final_value, new_start_value FROM index_reset"
            f" WHERE channel_id IN ({', '.join(str(i) for i in index_ids)})"
            " ORDER BY channel_id, ts"
        ),
        conn,
    )
    return previous, resets


def screen(
    conn: Connection,
    frame: pd.DataFrame,
    meta: pd.DataFrame | None = None,
    *,
    now: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, held) of candidate readings, with the stored context read from `conn`.

    `meta` is `channel_limits(conn)` (pass it once per import). See `check`."""
    if not len(frame):
        return check(frame, meta if meta is not None else channel_limits(conn), None, None)
    meta = channel_limits(conn) if meta is None else meta
    previous, resets = stored_context(conn, frame, meta)
    accepted, held = check(frame, meta, previous, resets, now=now)
    if len(held):
        accepted, held = _already_stored(conn, accepted, held, resets)
    return accepted, held


def _already_stored(conn, accepted, held, resets):
    """A held reading whose value is already stored at that instant (a person accepted it,
    or declared the replacement it opens) is not held again: the store counts it unchanged."""
    pairs = [f"({int(c)}, {int(t)})" for c, t in zip(held["channel_id"], held["ts"], strict=True)]
    rows = []
    for start in range(0, len(pairs), 5000):  # bounded statements, whatever the file
        rows += conn.execute(
            text(
                f"WITH k(c, t) AS (VALUES {', '.join(pairs[start : start + 5000])})"
                " SELECT r.channel_id, r.ts, r.value FROM reading r"
                " JOIN k ON r.channel_id = k.c AND r.ts = k.t WHERE r.value IS NOT NULL"
            )
        ).all()
    if not rows:
        return accepted, held
    stored = {(int(c), int(t)): float(v) for c, t, v in rows}
    same = np.fromiter(
        (
            stored.get((int(c), int(t))) == float(v)
            for c, t, v in zip(held["channel_id"], held["ts"], held["value"], strict=True)
        ),
        bool,
        len(held),
    )
    if not same.any():
        return accepted, held
    back = held[same].drop(columns=["reason_code", "reason"])
    back["prev_value"] = np.nan
    known = set()
    if resets is not None and len(resets):
        known = set(zip(resets["channel_id"].astype(int), resets["ts"].astype(int), strict=True))
    back["reset_known"] = [
        (int(c), int(t)) in known for c, t in zip(back["channel_id"], back["ts"], strict=True)
    ]
    return pd.concat([accepted, back]), held[~same]


# --- the rules -------------------------------------------------------------------------------


class _Cols:
    """Channel metadata spread over the candidate rows, one column at a time and only the
    columns a rule asks for (a frame reindexed on every row would cost more than the rules).
    An unknown channel gets NaN / None."""

    def __init__(self, meta: pd.DataFrame, channel_id: np.ndarray):
        self.meta = meta
        self.pos = meta.index.get_indexer(channel_id)
        self.cache: dict[str, np.ndarray] = {}
        self.records: dict[int, dict] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        got = self.cache.get(name)
        if got is None:
            col = self.meta[name].to_numpy()
            if col.dtype.kind == "f":
                col = np.append(col, np.nan)
            else:
                col = np.append(col.astype(object), None)
            got = self.cache[name] = col[self.pos]
        return got

    def flag(self, name: str, value) -> np.ndarray:
        """Rows whose channel has `name == value` (compared once per channel)."""
        per_channel = np.append(self.meta[name].to_numpy() == value, False)
        return per_channel[self.pos]

    def record(self, channel_id: int) -> dict:
        """One channel's metadata as a dict, for its messages (few channels per chunk)."""
        rec = self.records.get(channel_id)
        if rec is None:
            rec = self.records[channel_id] = self.meta.loc[int(channel_id)].to_dict()
            rec["unit_fr"] = _unit(rec["unit"])
        return rec


def check(
    frame: pd.DataFrame,
    meta: pd.DataFrame,
    previous: pd.DataFrame | None,
    resets: pd.DataFrame | None,
    *,
    now: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split candidates into (accepted, held). Pure: everything it needs is passed in.

    `frame`: channel_id, ts, value, quality, and any other column (line_no, reset_force,
    reset_new...), carried along. `meta`: `derive_limits` output indexed by channel id.
    `previous`: see `stored_context` (None: nothing stored). `resets`: channel_id, ts,
    old_final_value, new_start_value (None: none declared).
    Accepted index rows gain `prev_value` (the accepted reading before them, NaN if none) and
    `reset_known` (a declared replacement at that very instant); held rows gain
    `reason_code` and `reason` (French, with the figure that made it implausible).
    """
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    n = len(frame)
    now_ts = (now or dt.datetime.now(dt.UTC)).timestamp()
    code = np.zeros(n, np.int8)
    prev_value = np.full(n, np.nan)
    reset_known = np.zeros(n, bool)
    reasons = np.empty(n, dtype=object)
    if not n:
        return _split(frame, code, reasons, prev_value, reset_known, False)
    ch = frame["channel_id"].to_numpy(dtype="int64")
    ts = frame["ts"].to_numpy(dtype="int64")
    v = frame["value"].to_numpy(dtype=float)
    m = _Cols(meta, ch)
    is_index, is_interval = m.flag("kind", "index"), m.flag("kind", "interval")

    # (d) time, then (c) range: row by row
    with np.errstate(invalid="ignore"):
        early = ts < m["installed_ts"]
        late = ts > now_ts + FUTURE_MARGIN_S
        code[early] = _EARLY
        code[late & ~early] = _LATE
        out = (v < m["range_lo"]) | (v > m["range_hi"])
        modulus = m["modulus"]
        over_mod = is_index & (modulus > 0) & (v >= modulus)
        over_kw = m.flag("quantity", "power_kw") & (v > m["limit_kw"])
    bad = ~np.isnan(v) & (out | over_mod | over_kw) & ~early & ~late
    code[bad] = _RANGE
    for c, sel in (("before_install", early), ("future", late & ~early), ("range", bad)):
        if sel.any():
            reasons[sel] = _row_reasons(c, ch[sel], ts[sel], v[sel], m, now_ts)

    prev = previous if previous is not None else pd.DataFrame()
    free = ~early & ~late & ~bad & ~np.isnan(v)
    seq = is_index & free
    if seq.any():
        _index_rules(frame, m, prev, resets, seq, code, reasons, prev_value, reset_known)
    per = is_interval & free
    if per.any():
        _interval_rule(frame, m, prev, per, code, reasons)
    return _split(frame, code, reasons, prev_value, reset_known, bool(is_index.any()))


def _split(frame, code, reasons, prev_value, reset_known, with_index):
    held_mask = code != 0
    if held_mask.any():
        accepted = frame[~held_mask].copy()
        held = frame[held_mask].copy()
    else:  # the usual case: nothing to copy
        accepted, held = frame, frame.iloc[0:0].copy()
    if with_index or not len(accepted):
        accepted = accepted.assign(
            prev_value=prev_value[~held_mask], reset_known=reset_known[~held_mask]
        )
    held["reason_code"] = REASON_CODES[code[held_mask]].astype(str)
    held["reason"] = reasons[held_mask].astype(str)
    return accepted, held


class _Index:
    """The valid index rows of a chunk sorted by (channel, ts), with their per-row limits."""

    def __init__(self, frame, m, prev, resets, rows):
        c = frame["channel_id"].to_numpy(dtype="int64")[rows]
        t = frame["ts"].to_numpy(dtype="int64")[rows]
        order = np.lexsort((t, c))
        self.rows = rows[order]  # positions in frame
        self.c, self.t = c[order], t[order]
        self.v = frame["value"].to_numpy(dtype=float)[self.rows]
        self.rate = m["limit_rate"][self.rows].astype(float)
        self.tol = m["tolerance"][self.rows].astype(float)
        self.mod = m["modulus"][self.rows].astype(float)
        self.force = (
            frame["reset_force"].fillna(False).to_numpy(dtype=bool)[self.rows]
            if "reset_force" in frame
            else np.zeros(len(self.rows), bool)
        )
        self.new = (
            frame["reset_new"].to_numpy(dtype=float)[self.rows]
            if "reset_new" in frame
            else np.full(len(self.rows), np.nan)
        )
        starts = np.r_[True, self.c[1:] != self.c[:-1]]
        self.g = np.cumsum(starts) - 1  # group (channel) number of each row
        first_c = self.c[starts]
        if len(prev):
            p = prev.reindex(first_c)
            self.g_prev_v = p["prev_value"].to_numpy(dtype=float)
            self.g_prev_t = p["prev_ts"].to_numpy(dtype=float)
            self.g_next_v = p["next_value"].to_numpy(dtype=float)
            self.g_next_t = p["next_ts"].to_numpy(dtype=float)
        else:
            self.g_prev_v = self.g_prev_t = np.full(len(first_c), np.nan)
            self.g_next_v = self.g_next_t = np.full(len(first_c), np.nan)
        if resets is not None and len(resets):
            r = resets.sort_values(["channel_id", "ts"])
            self.r_key = r["channel_id"].to_numpy(dtype="int64") * _KEY + r["ts"].to_numpy(
                dtype="int64"
            )
            self.r_ts = r["ts"].to_numpy(dtype="int64")
            self.r_c = r["channel_id"].to_numpy(dtype="int64")
            self.r_old = r["old_final_value"].to_numpy(dtype=float)
            self.r_new = r["new_start_value"].to_numpy(dtype=float)
        else:
            self.r_key = np.array([], "int64")

    def reset_between(self, i, ref_t):
        """Index into the resets of the last declared replacement in (ref_t, t] of rows i
        (-1 when none)."""
        if not len(self.r_key):
            return np.full(len(i), -1)
        pos = np.searchsorted(self.r_key, self.c[i] * _KEY + self.t[i], side="right") - 1
        ok = pos >= 0
        p = np.where(ok, pos, 0)
        with np.errstate(invalid="ignore"):
            ok &= (self.r_c[p] == self.c[i]) & ~(self.r_ts[p] <= ref_t)
        return np.where(ok, pos, -1)

    def judge(self, i, ref_v, ref_t):
        """Verdict (OK, JUMP, DROP) of rows i against references (NaN: none), with the
        increment they imply and how it was explained."""
        v, t = self.v[i], self.t[i]
        hours = (t - ref_t) / 3600.0
        delta = v - ref_v
        r = self.reset_between(i, ref_t)
        declared = r >= 0
        rp = np.where(declared, r, 0)
        if len(self.r_key):
            delta = np.where(declared, (self.r_old[rp] - ref_v) + (v - self.r_new[rp]), delta)
        force = self.force[i] & ~declared
        delta = np.where(force, v - np.nan_to_num(self.new[i], nan=0.0), delta)
        mod = self.mod[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            drop = (delta < 0) & ~force
            near = (mod > 0) & (ref_v >= mod * (1 - ROLLOVER_BAND)) & ~declared
            wrapped = np.where(drop & near, delta + mod, delta)
            roll = drop & near & (wrapped >= 0)
            inc = np.where(roll, wrapped, delta)
            limit = self.rate[i] * hours + self.tol[i]
            too_much = (inc > limit) & (inc >= 0)
        verdict = np.full(len(i), OK)
        verdict[too_much] = JUMP
        verdict[drop & ~roll] = DROP
        verdict[drop & roll & too_much] = DROP
        verdict[np.isnan(ref_v)] = OK
        return verdict, inc, hours, roll, declared | force


def _index_rules(frame, m, prev, resets, seq, code, reasons, prev_value, reset_known):
    """(a) and (b) for index channels: each reading against the last accepted before it.

    Every row is first judged against its predecessor (valid while the predecessor is
    accepted). Then, channel by channel but vectorised across channels, each first failure
    after the last accepted row is resolved: the rows after it are judged against the last
    accepted reading, in windows of growing size, until one passes; the failure and the rows
    before that one are held, and the chain resumes after it. One round per run of held
    readings, each round touching only the rows near a failure."""
    ix = _Index(frame, m, prev, resets, np.flatnonzero(seq))
    n = len(ix.rows)
    k = np.arange(n)
    starts = np.r_[True, ix.g[1:] != ix.g[:-1]]
    g_start = k[starts]
    g_end = np.r_[g_start[1:], n]
    ref_v = np.where(starts, ix.g_prev_v[ix.g], ix.v[np.maximum(k - 1, 0)])
    ref_t = np.where(starts, ix.g_prev_t[ix.g], ix.t[np.maximum(k - 1, 0)].astype(float))
    verdict, *_ = ix.judge(k, ref_v, ref_t)
    fail_pos = np.flatnonzero(verdict != OK)
    held = np.zeros(n, bool)
    cursor = g_start.copy()  # first row of each channel not yet decided
    groups = np.unique(ix.g[fail_pos])
    while len(fail_pos) and len(groups):
        idx = np.searchsorted(fail_pos, cursor[groups])
        cand = fail_pos[np.minimum(idx, len(fail_pos) - 1)]
        has = (idx < len(fail_pos)) & (ix.g[cand] == groups)
        groups, f = groups[has], cand[has]
        if not len(f):
            break
        a_v, a_t = ref_v[f], ref_t[f]  # the last accepted before each failure
        ends = g_end[groups]
        resume = _resolve(ix, f, ends, a_v, a_t)
        # held: f .. resume-1; `resume` (if inside the channel) is accepted against a
        span = resume - f
        rows = np.repeat(f, span) + (
            np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
        )
        held[rows] = True
        ref_v[rows] = np.repeat(a_v, span)
        ref_t[rows] = np.repeat(a_t, span)
        inside = resume < ends
        ref_v[resume[inside]], ref_t[resume[inside]] = a_v[inside], a_t[inside]
        cursor[groups] = np.minimum(resume + 1, ends)
        groups = groups[inside]
    # a candidate above the next stored reading would turn that reading into a drop: the
    # accepted ones after the last accepted at or below it
    kept = ~held
    nv, nt = ix.g_next_v[ix.g], ix.g_next_t[ix.g]
    with np.errstate(invalid="ignore"):
        low = kept & (ix.v <= nv)
    last_low = np.full(len(ix.g_prev_v), -1)
    np.maximum.at(last_low, ix.g[low], k[low])
    with np.errstate(invalid="ignore"):
        above = kept & ~np.isnan(nv) & (ix.v > nv) & (k > last_low[ix.g])
    if above.any():
        ai = k[above]
        above[ai[_explained_by_next(ix, ai, nt[above])]] = False
    rows = ix.rows
    if held.any():
        hi = k[held]
        verdict, inc, hours, _, _ = ix.judge(hi, ref_v[hi], ref_t[hi])
        code[rows[hi]] = np.where(verdict == JUMP, _JUMP, _DROP)
        reasons[rows[hi]] = _sequence_reasons(m, ix, hi, verdict, inc, hours, ref_v, ref_t)
    if above.any():
        ai = k[above]
        code[rows[ai]] = _DROP
        reasons[rows[ai]] = _next_reasons(m, ix, ai, nv[above], nt[above])
    ok = ~held & ~above
    prev_value[rows[ok]] = ref_v[ok]
    if len(ix.r_key):
        key = ix.c * _KEY + ix.t
        pos = np.searchsorted(ix.r_key, key)
        exact = (pos < len(ix.r_key)) & (ix.r_key[np.minimum(pos, len(ix.r_key) - 1)] == key)
        reset_known[rows[ok & exact]] = True


def _resolve(ix, f, ends, a_v, a_t) -> np.ndarray:
    """For each failure f (rows f+1 .. end-1 of its channel), the first row that passes
    against the last accepted reading (a_v, a_t); `end` when none does."""
    resume = np.full(len(f), -1)
    lo = f + 1
    todo = np.arange(len(f))
    width = 16
    while len(todo):
        rows = lo[todo][:, None] + np.arange(width)[None, :]
        inside = rows < ends[todo][:, None]
        at = np.minimum(rows, len(ix.v) - 1).ravel()
        verdict, *_ = ix.judge(at, np.repeat(a_v[todo], width), np.repeat(a_t[todo], width))
        ok = (verdict.reshape(-1, width) == OK) & inside
        found = ok.any(axis=1)
        first = ok.argmax(axis=1)
        resume[todo[found]] = rows[found, first[found]]
        over = ~found & (lo[todo] + width >= ends[todo])
        resume[todo[over]] = ends[todo[over]]
        more = ~found & ~over
        lo[todo[more]] += width
        todo = todo[more]
        width *= 2
    return resume


def _explained_by_next(ix, i, nt) -> np.ndarray:
    """Of candidates above the next stored reading: those for which that reading is a
    declared replacement or a rollover near the modulus (then they are fine)."""
    declared = np.zeros(len(i), bool)
    if len(ix.r_key):
        pos = np.searchsorted(ix.r_key, ix.c[i] * _KEY + nt.astype("int64"), side="right") - 1
        p = np.where(pos >= 0, pos, 0)
        declared = (pos >= 0) & (ix.r_c[p] == ix.c[i]) & (ix.r_ts[p] > ix.t[i])
    mod = ix.mod[i]
    with np.errstate(invalid="ignore"):
        near = (mod > 0) & (ix.v[i] >= mod * (1 - ROLLOVER_BAND))
    return declared | near


def _interval_rule(frame, m, prev, per, code, reasons):
    """(a) for interval channels: the value over the period it covers (to the next reading,
    else since the previous one)."""
    rows = np.flatnonzero(per)
    c = frame["channel_id"].to_numpy(dtype="int64")[rows]
    t = frame["ts"].to_numpy(dtype="int64")[rows]
    order = np.lexsort((t, c))
    rows, c, t = rows[order], c[order], t[order]
    same_next = np.r_[c[1:] == c[:-1], False]
    same_prev = np.r_[False, c[1:] == c[:-1]]
    t_next = np.r_[t[1:], 0].astype(float)
    t_prev = np.r_[0, t[:-1]].astype(float)
    span = np.where(same_next, t_next - t, np.nan)
    if len(prev):
        p = prev.reindex(c)
        sp = p["prev_ts"].to_numpy(dtype=float)
        sn = p["next_ts"].to_numpy(dtype=float)
    else:
        sp = sn = np.full(len(c), np.nan)
    back = np.where(same_prev, t - t_prev, t - sp)
    span = np.where(np.isnan(span), back, span)
    span = np.where(np.isnan(span), sn - t, span)
    hours = span / 3600.0
    v = frame["value"].to_numpy(dtype=float)[rows]
    with np.errstate(invalid="ignore"):
        limit = m["limit_rate"][rows].astype(float) * hours + m["tolerance"][rows].astype(float)
        bad = (v > limit) & (hours > 0)
    if bad.any():
        code[rows[bad]] = _JUMP
        reasons[rows[bad]] = [
            _jump_text(m.record(cid), inc, h, interval=True)
            for cid, inc, h in zip(c[bad], v[bad], hours[bad], strict=True)
        ]


# --- French reasons --------------------------------------------------------------------------


def _unit(u) -> str:
    return UNIT_LABELS.get(str(u).strip().lower(), str(u))


def _whens(ts) -> list[str]:
    """dd/mm/yyyy HH:MM (Paris) of many epoch seconds at once."""
    return list(epoch_to_local(np.asarray(ts, dtype="int64")).strftime("%d/%m/%Y %H:%M"))


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{fr_num(hours * 60, 0)} min"
    if hours < 48:
        return f"{fr_num(hours, 2 if hours < 10 else 1)} h"
    return f"{fr_num(hours / 24, 1)} j"


def _limit_text(mr: dict, rate: float) -> str:
    """« soit 560 000 kW pour une chaudière de 250 kW (limite 375 kW) » and the like."""
    basis = mr["basis"]
    unit = mr["unit_fr"]
    if basis == "hours":
        return (
            f"soit {fr_num(rate, 2)} h par heure : un compteur d'heures n'avance pas plus vite"
            f" que le temps (limite {fr_num(HOURS_MARGIN, 2)} h par heure)"
        )
    if basis == "meter":
        qmax = GAS_METER_QMAX_M3H[mr["meter_size"]]
        return (
            f"soit {fr_num(rate, 1)} {unit}/h pour un compteur {mr['meter_size']} (débit"
            f" maximal {fr_num(qmax, 0)} m³/h, limite {fr_num(mr['limit_rate'], 1)} {unit}/h)"
        )
    kw = rate * mr["k"]
    if basis == "max_kw":
        return (
            f"soit {fr_num(kw, 0)} kW, au-delà de la limite du point de mesure"
            f" ({fr_num(mr['limit_kw'], 0)} kW)"
        )
    if basis == "equipment":
        what = EQUIPMENT_LABELS_FR.get(mr.get("eq_kind"), "un équipement")
        return (
            f"soit {fr_num(kw, 0)} kW pour {what} de {fr_num(mr['basis_kw'], 0)} kW"
            f" (limite {fr_num(mr['limit_kw'], 0)} kW)"
        )
    return (
        f"soit {fr_num(kw, 0)} kW pour des chaudières de {fr_num(mr['basis_kw'], 0)} kW au"
        f" total dans le bâtiment (limite {fr_num(mr['limit_kw'], 0)} kW)"
    )


def _jump_text(mr: dict, inc: float, hours: float, interval: bool = False) -> str:
    unit = mr["unit_fr"]
    sign = "" if interval else "+"
    return (
        f"{sign}{fr_num(inc)} {unit} en {_duration(hours)}, "
        f"{_limit_text(mr, inc / hours if hours > 0 else np.inf)}"
    )


def _sequence_reasons(m, ix, hi, verdict, inc, hours, ref_v, ref_t) -> list[str]:
    out = []
    whens = _whens(ref_t[hi])
    for j, i in enumerate(hi):
        mr = m.record(ix.c[i])
        unit = mr["unit_fr"]
        if verdict[j] == JUMP:
            out.append(
                f"{_jump_text(mr, inc[j], hours[j])} depuis le relevé du {whens[j]}"
                f" ({fr_num(ref_v[i])} {unit})"
            )
            continue
        mod = mr["modulus"]
        drop = (
            f"baisse d'index : {fr_num(ix.v[i])} {unit} après {fr_num(ref_v[i])} {unit}"
            f" le {whens[j]} ({fr_num(ix.v[i] - ref_v[i])} {unit})"
        )
        if mod > 0:
            if ref_v[i] >= mod * (1 - ROLLOVER_BAND):
                why = (
                    f"le passage par zéro (modulo {fr_num(mod)} {unit}) donnerait +"
                    f"{fr_num(inc[j])} {unit} en {_duration(hours[j])}, "
                    f"{_limit_text(mr, inc[j] / hours[j] if hours[j] > 0 else np.inf)}"
                )
            else:
                why = (
                    f"pas un passage par zéro (le relevé précédent est loin du modulo"
                    f" {fr_num(mod)} {unit}) ni un changement de compteur déclaré"
                )
        else:
            why = "ni modulo de retour à zéro, ni changement de compteur déclaré"
        out.append(f"{drop} : {why}")
    return out


def _next_reasons(m, ix, ai, nv, nt) -> list[str]:
    whens = _whens(nt)
    return [
        f"index {fr_num(ix.v[i])} {m.record(ix.c[i])['unit_fr']} supérieur au relevé"
        f" suivant déjà enregistré ({fr_num(nv[j])} {m.record(ix.c[i])['unit_fr']} le"
        f" {whens[j]}) : celui-ci deviendrait une baisse d'index"
        for j, i in enumerate(ai)
    ]


def _row_reasons(c: str, ch, ts, v, m, now_ts: float) -> list[str]:
    if c == "before_install":
        whens = _whens(ts)
        out = []
        for cid, when in zip(ch, whens, strict=True):
            mr = m.record(cid)
            what = "du point de mesure" if mr["installed_from"] == "channel" else "de l'équipement"
            day = _whens([mr["installed_ts"]])[0][:10]
            out.append(f"relevé du {when} antérieur à la pose {what} ({day})")
        return out
    if c == "future":
        now = _whens([now_ts])[0]
        return [
            f"relevé daté du {when}, dans le futur (plus d'1 h après l'heure du contrôle, {now})"
            for when in _whens(ts)
        ]
    return [_range_text(value, m.record(cid)) for cid, value in zip(ch, v, strict=True)]


def _range_text(value: float, mr: dict) -> str:
    unit = mr["unit_fr"]
    q = mr["quantity"]
    mod, lo, hi = mr["modulus"], mr["range_lo"], mr["range_hi"]
    if mr["kind"] == "index" and mod > 0 and value >= mod:
        return f"index {fr_num(value)} {unit} au-delà du modulo du compteur ({fr_num(mod)} {unit})"
    if q == "power_kw" and value > mr["limit_kw"]:
        return f"{fr_num(value)} kW au-delà de la limite du point ({fr_num(mr['limit_kw'], 0)} kW)"
    declared = mr.get("q_label")
    if isinstance(declared, str):
        label = f"« {declared} »"
        if np.isnan(hi) or np.isnan(lo):
            bound = f"au-dessous de {fr_num(lo)}" if np.isnan(hi) else f"au-delà de {fr_num(hi)}"
            return f"{fr_num(value)} {unit} : {bound} {unit}, hors de la plage admise pour {label}"
    else:
        label = QUANTITY_PHRASES_FR.get(q, "cette grandeur")
    if np.isnan(hi):
        return f"{fr_num(value)} {unit} : valeur négative impossible pour {label}"
    return (
        f"{fr_num(value)} {unit} hors de la plage admise pour {label}"
        f" ({fr_num(lo)} à {fr_num(hi)} {unit})"
    )


# --- after a person's decision ---------------------------------------------------------------


def recheck_held(
    engine,
    channel_id: int,
    *,
    actor: str,
    after_ts: int,
    decision_id: int | None = None,
    why: str | None = None,
) -> list[str]:
    """Accept the channel's held jumps and drops after `after_ts` that the decision made
    plausible (a meter replacement declared, a reading accepted: the readings that followed
    it in the file were held against the old reference). Each is accepted through
    `carnet.quarantine.accept`, audited with the decision it follows; the others stay held."""
    from carnet.quarantine import accept, list_held

    held = list_held(engine, channel_ids=[int(channel_id)], limit=100_000)
    held = held[(held["ts"] > int(after_ts)) & held["reason_code"].isin(["jump", "drop"])]
    if not len(held):
        return []
    held = held.sort_values("ts")
    frame = pd.DataFrame(
        {
            "channel_id": held["channel_id"].astype("int64").to_numpy(),
            "ts": held["ts"].astype("int64").to_numpy(),
            "value": held["value"].astype(float).to_numpy(),
            "quality": held["quality"].astype("int64").to_numpy(),
            "line_no": held["id"].astype("int64").to_numpy(),  # carries the quarantine id
        }
    )
    with engine.connect() as conn:
        accepted, _ = screen(conn, frame)
    why = why or f"plausible après la décision sur le relevé n° {decision_id}"
    return [accept(engine, int(q), actor=actor, why=why) for q in accepted["line_no"]]


def decide(
    engine,
    decision: str,
    quarantine_id: int,
    *,
    actor: str,
    why: str,
    old_final_value: float | None = None,
    new_start_value: float | None = None,
) -> list[str]:
    """A person's decision on one held reading (`accept`, `reject` or `replace`: a meter
    replacement declared), then, unless rejected, the readings of the same channel held behind
    it are checked again (`recheck_held`). The French messages, the decision's first. The one
    path of the command line and of the imports page."""
    from carnet import quarantine

    if decision == "reject":
        return [quarantine.reject(engine, quarantine_id, actor=actor, why=why)]
    if decision == "accept":
        message = quarantine.accept(engine, quarantine_id, actor=actor, why=why)
    elif decision == "replace":
        message = quarantine.declare_replacement(
            engine,
            quarantine_id,
            actor=actor,
            old_final_value=old_final_value,
            new_start_value=new_start_value,
            why=why,
        )
    else:
        raise ValueError(f"unknown decision {decision!r}")
    row = quarantine.get_held(engine, quarantine_id)
    return [
        message,
        *recheck_held(
            engine,
            int(row.channel_id),
            actor=actor,
            after_ts=int(row.ts),
            decision_id=quarantine_id,
        ),
    ]
