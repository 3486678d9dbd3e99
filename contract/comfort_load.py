"""Loads what `contract.comfort` computes on: past bookings, indoor temperatures, heating increments.

The only place of the comfort figures that touches the database; everything else is pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, bindparam, text

from carnet.store import index_increments
from carnet.timeutil import TZ_NAME, local_day_bounds
from contract import comfort

HEATING_QUANTITIES = ("gas_volume_m3", "heat_energy_kwh")
UNIT_KWH = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}


@dataclass
class ComfortReport:
    day_from: dt.date
    day_to: dt.date
    bookings: pd.DataFrame  # per booking comfort figures, with room/building codes and title
    rooms: pd.DataFrame  # monthly per room
    buildings: pd.DataFrame  # monthly per building
    energy: pd.DataFrame  # heating increments with the `outside` flag


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """ "YYYY-MM" -> first and last local date of the month."""
    try:
        first = dt.datetime.strptime(month.strip(), "%Y-%m").date()
    except ValueError as exc:
        raise ValueError(f"mois illisible « {month} » (attendu AAAA-MM)") from exc
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def _read(engine: Engine, sql: str, params: dict, expanding: tuple[str, ...] = ()) -> pd.DataFrame:
    stmt = text(sql)
    if expanding:
        stmt = stmt.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    with engine.connect() as conn:
        return pd.read_sql_query(stmt, conn, params=params)


def load_comfort(
    engine: Engine,
    day_from: dt.date,
    day_to: dt.date,
    building_ids: set[int] | None = None,
    now: dt.datetime | None = None,
    tolerance_below_c: float = comfort.DEFAULT_TOLERANCE_BELOW_C,
    tolerance_above_c: float | None = None,
) -> ComfortReport:
    """Comfort and energy outside use over local dates day_from..day_to (inclusive).

    Only bookings that have ended by `now` are judged; `building_ids` None = all buildings.
    """
    now = now or dt.datetime.now(dt.UTC)
    lo, hi = local_day_bounds(day_from, day_to)
    now_ts = int(now.timestamp())
    scope_sql = ""
    params: dict = {}
    expanding: tuple[str, ...] = ()
    if building_ids is not None:
        scope_sql = " AND r.building_id IN :bids"
        params["bids"] = sorted(building_ids) or [-1]
        expanding = ("bids",)

    buildings = _read(
        engine,
        "SELECT b.id AS building_id, b.code AS building, b.name AS building_name, b.schedule"
        " FROM building b" + (" WHERE b.id IN :bids" if building_ids is not None else ""),
        dict(params),
        expanding,
    )
    rooms = _read(
        engine,
        "SELECT r.id AS room_id, r.code AS room, r.name AS room_name, r.building_id"
        " FROM room r WHERE 1=1" + scope_sql,
        dict(params),
        expanding,
    )
    raw = _read(
        engine,
        "SELECT k.id AS booking_id, k.room_id, r.building_id, k.title, k.starts_at, k.ends_at,"
        " k.setpoint_c, k.preheat_min FROM booking k JOIN room r ON r.id = k.room_id"
        " WHERE k.status = 'confirmed'" + scope_sql,
        dict(params),
        expanding,
    )
    book = _booking_times(raw)
    heat_from = book["start_ts"] - book["preheat_min"].fillna(0).astype("int64") * 60
    in_window = book[(book["end_ts"] > lo) & (heat_from < hi)]
    judged = in_window[
        (in_window["start_ts"] < hi)
        & (in_window["end_ts"] <= now_ts)
        & in_window["setpoint_c"].notna()
    ]

    temps = _indoor_temps(engine, rooms["room_id"].tolist(), lo - comfort.DEFAULT_MAX_GAP_S, hi)
    result = comfort.booking_comfort(judged, temps, tolerance_below_c, tolerance_above_c)
    result = result.merge(raw[["booking_id", "title"]], on="booking_id", how="left")
    result = result.merge(rooms[["room_id", "room", "room_name"]], on="room_id", how="left")
    result = result.merge(buildings[["building_id", "building"]], on="building_id", how="left")

    schedules = {
        int(bid): _as_dict(s)
        for bid, s in zip(buildings["building_id"], buildings["schedule"], strict=True)
    }
    occupied = comfort.occupied_intervals(
        in_window.loc[:, ["building_id", "start_ts", "end_ts", "preheat_min"]],
        schedules,
        day_from,
        day_to,
    )
    increments = _heating_increments(engine, buildings["building_id"].tolist(), lo, hi)
    energy = comfort.energy_outside(increments, occupied)

    room_month = comfort.monthly_rooms(result).merge(
        rooms[["room_id", "room", "room_name"]], on="room_id", how="left"
    )
    building_month = comfort.monthly_buildings(result, energy).merge(
        buildings[["building_id", "building", "building_name"]], on="building_id", how="left"
    )
    return ComfortReport(day_from, day_to, result, room_month, building_month, energy)


def contract_building_ids(engine: Engine, contract_code: str) -> set[int]:
    """The buildings of a contract, to scope the comfort figures to it (e.g. its report)."""
    frame = _read(
        engine,
        "SELECT cb.building_id FROM contract_building cb JOIN contract c ON c.id = cb.contract_id"
        " WHERE c.code = :code",
        {"code": contract_code},
    )
    found = _read(engine, "SELECT id FROM contract WHERE code = :code", {"code": contract_code})
    if not len(found):
        raise ValueError(f"contrat inconnu « {contract_code} »")
    return set(frame["building_id"].astype(int))


def load_contract_comfort(
    engine: Engine, contract_code: str, month: str, now: dt.datetime | None = None
) -> ComfortReport:
    """The monthly comfort summary of one contract's buildings: for the contract report."""
    day_from, day_to = month_bounds(month)
    return load_comfort(engine, day_from, day_to, contract_building_ids(engine, contract_code), now)


def _as_dict(value) -> dict | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value


def _booking_times(raw: pd.DataFrame) -> pd.DataFrame:
    """UTC datetimes (naive on SQLite, aware on PostgreSQL) to epoch seconds."""
    out = raw.copy()
    for col, name in (("starts_at", "start_ts"), ("ends_at", "end_ts")):
        times = pd.to_datetime(out[col], utc=True)
        out[name] = times.dt.as_unit("s").astype("int64") if len(out) else pd.Series(dtype="int64")
    out["setpoint_c"] = out["setpoint_c"].astype(float)
    return out


def _indoor_temps(engine: Engine, room_ids: list[int], lo: int, hi: int) -> pd.DataFrame:
    """Readings of one indoor temperature channel per room (the first declared)."""
    empty = pd.DataFrame({"room_id": [], "ts": [], "temp_c": []})
    if not room_ids:
        return empty
    channels = _read(
        engine,
        "SELECT MIN(id) AS channel_id, room_id FROM channel WHERE quantity = 'temp_indoor_c'"
        " AND room_id IN :rids GROUP BY room_id",
        {"rids": room_ids},
        ("rids",),
    )
    if not len(channels):
        return empty
    readings = _read(
        engine,
        "SELECT channel_id, ts, value AS temp_c FROM reading WHERE channel_id IN :cids"
        " AND ts >= :lo AND ts < :hi AND value IS NOT NULL",
        {"cids": channels["channel_id"].tolist(), "lo": lo, "hi": hi},
        ("cids",),
    )
    return readings.merge(channels, on="channel_id")[["room_id", "ts", "temp_c"]]


def _heating_increments(engine: Engine, building_ids: list[int], lo: int, hi: int) -> pd.DataFrame:
    """Heating energy per reading interval (kWh) of each building's heating meter.

    The meter is the contract's measured channel of the building when there is one, else the
    building's gas index, else its heat-meter index (never both: one would count the other).
    """
    cols = {"building_id": [], "t0": [], "t1": [], "energy_kwh": []}
    if not building_ids:
        return pd.DataFrame(cols)
    channels = _read(
        engine,
        "SELECT c.id AS channel_id, c.building_id, c.quantity, c.kind, c.unit, c.kwh_per_unit,"
        " c.modulus, CASE WHEN cb.id IS NULL THEN 0 ELSE 1 END AS contract_meter"
        " FROM channel c LEFT JOIN contract_building cb"
        " ON cb.channel_id = c.id AND cb.building_id = c.building_id"
        " WHERE c.building_id IN :bids AND c.kind = 'index' AND (cb.id IS NOT NULL"
        " OR (c.room_id IS NULL AND c.quantity IN :quantities))",
        {"bids": building_ids, "quantities": list(HEATING_QUANTITIES)},
        ("bids", "quantities"),
    )
    if not len(channels):
        return pd.DataFrame(cols)
    rank = channels["quantity"].map({q: i for i, q in enumerate(HEATING_QUANTITIES)}).fillna(9)
    channels = (
        channels.assign(rank=rank - 10 * channels["contract_meter"])
        .sort_values(["building_id", "rank", "channel_id"])
        .drop_duplicates("building_id")
    )
    ids = channels["channel_id"].tolist()
    readings = _read(
        engine,
        "SELECT channel_id, ts, value, quality FROM reading WHERE channel_id IN :cids"
        " AND ts >= :lo AND ts <= :hi",
        {"cids": ids, "lo": lo - 6 * 3600, "hi": hi + 6 * 3600},
        ("cids",),
    )
    resets = _read(
        engine,
        "SELECT channel_id, ts, old_final_value, new_start_value FROM index_reset"
        " WHERE channel_id IN :cids",
        {"cids": ids},
        ("cids",),
    )
    factors = _read(
        engine,
        "SELECT channel_id, valid_from, kwh_per_unit FROM conversion_factor"
        " WHERE channel_id IN :cids ORDER BY valid_from",
        {"cids": ids},
        ("cids",),
    )
    parts = []
    for ch in channels.itertuples():  # one loop per meter, not per reading
        inc = index_increments(
            readings[readings["channel_id"] == ch.channel_id],
            None if pd.isna(ch.modulus) else ch.modulus,
            resets[resets["channel_id"] == ch.channel_id],
        )
        inc = inc[(inc["t0"] >= lo) & (inc["t0"] < hi)]
        if not len(inc):
            continue
        kwh = _kwh_per_unit(
            inc["t0"].to_numpy(), ch, factors[factors["channel_id"] == ch.channel_id]
        )
        parts.append(
            pd.DataFrame(
                {
                    "building_id": ch.building_id,
                    "t0": inc["t0"].to_numpy(dtype="int64"),
                    "t1": inc["t1"].to_numpy(dtype="int64"),
                    "energy_kwh": inc["delta"].to_numpy(dtype=float) * kwh,
                }
            )
        )
    if not parts:
        return pd.DataFrame(cols)
    return pd.concat(parts, ignore_index=True)


def _kwh_per_unit(t0: np.ndarray, ch, factors: pd.DataFrame) -> np.ndarray:
    """The conversion factor in force on each interval's local date, else the channel's."""
    default = ch.kwh_per_unit
    if default is None or pd.isna(default):
        default = UNIT_KWH.get(str(ch.unit).lower(), np.nan)
    out = np.full(len(t0), float(default))
    if len(factors):
        days = (
            pd.to_datetime(t0, unit="s", utc=True)
            .tz_convert(TZ_NAME)
            .tz_localize(None)
            .normalize()
            .to_numpy(dtype="datetime64[D]")
        )
        valid = pd.to_datetime(factors["valid_from"]).to_numpy(dtype="datetime64[D]")
        pos = np.searchsorted(valid, days, side="right") - 1
        has = pos >= 0
        out[has] = factors["kwh_per_unit"].to_numpy(dtype=float)[pos[has]]
    return out
