"""What the contract engine computes on, read from the record as frames and plain dicts.

The engine (`contract/`) never touches the database: it says what it needs (a `LoadPlan`:
days, channels, stations, what was signed) and these loaders return it. Degree days are the
engine's: stations give their temperatures here, the engine turns them into DJU.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from carnet.increments import UNIT_KWH, index_increments, overlay_readings, replace_rollups
from carnet.kinds import ChannelKind
from carnet.models import (
    Building,
    Channel,
    Contract,
    ContractBuilding,
    DailyRollup,
    Reading,
    Station,
)
from carnet.timeutil import TZ_NAME, local_day_bounds

TN_QUANTITIES = ("temp_min_c", "tn_c", "temp_outdoor_min_c")
TX_QUANTITIES = ("temp_max_c", "tx_c", "temp_outdoor_max_c")
HOURLY_QUANTITIES = ("temp_outdoor_c",)
CONTRACT_FIELDS = (
    "id", "code", "kind", "season_start", "season_end", "dju_method", "dju_base_c",
    "station_id", "price_eur_per_mwh_pci", "pcs_pci_ratio", "franchise_pct",
    "savings_share_contractor", "savings_cap_pct", "overrun_share_contractor",
    "guaranteed_savings_pct", "nb_revision_pct_one_season", "nb_revision_pct_two_seasons",
    "contractor", "starts_on", "ends_on", "terms",
)  # fmt: skip
BUILDING_FIELDS = (
    "id", "building_id", "channel_id", "nb_mwh_pci", "dju_ref", "ecs_channel_id",
    "q_ecs_mwh_per_m3", "reference_year", "reference_kwh",
)  # fmt: skip


def _days(values) -> pd.Series:
    values = pd.Series(values)
    if len(values) and isinstance(values.iloc[0], dt.date):
        return pd.Series(np.asarray(values.tolist(), dtype="datetime64[D]")).astype("datetime64[s]")
    return pd.to_datetime(values, format="ISO8601").dt.normalize()


def connection(bind: Engine | Connection):
    """A connection of `bind`: the one given (a caller reading several things at once: one
    checkout, one transaction, one snapshot), else one of the engine's."""
    return nullcontext(bind) if isinstance(bind, Connection) else bind.connect()


def _raw_fetchall(engine: Engine | Connection, sql: str) -> list[tuple]:
    with connection(engine) as conn:
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            cursor.close()


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    """Column-wise construction: far cheaper than handing pandas a list of Row objects."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pd.DataFrame({name: np.asarray(col) for name, col in zip(columns, cols, strict=True)})


# --- terms, channels, stations ---------------------------------------------------------------


def contract_terms(engine: Engine, contract_code: str) -> dict:
    """The contract's raw terms: `contract` (its columns), `buildings` (each contract
    building's columns with its building's code, name, station and heated area) and the
    contract's `station_code` (`contract.terms.ContractTerms.from_record` reads this).

    Core statements on one connection (what the ORM's eager loads issued, without building
    objects: a settlement reads its terms every time)."""
    c, cb, b = Contract.__table__.c, ContractBuilding.__table__.c, Building.__table__.c
    with engine.connect() as conn:
        row = conn.execute(
            select(*(c[name] for name in CONTRACT_FIELDS)).where(c.code == contract_code)
        ).first()
        if row is None:
            raise LookupError(f"contrat inconnu : {contract_code}")
        contract = dict(zip(CONTRACT_FIELDS, row, strict=True))
        station_code = None
        if contract["station_id"] is not None:
            station_code = conn.execute(
                select(Station.__table__.c.code).where(
                    Station.__table__.c.id == contract["station_id"]
                )
            ).scalar_one()
        links = conn.execute(
            select(*(cb[name] for name in BUILDING_FIELDS)).where(cb.contract_id.in_([row.id]))
        ).all()
        ids = sorted({link.building_id for link in links})
        facts = {
            r.id: r
            for r in conn.execute(
                select(b.id, b.code, b.name, b.station_id, b.heated_area_m2).where(b.id.in_(ids))
            )
        } if ids else {}  # fmt: skip
    buildings = [
        dict(zip(BUILDING_FIELDS, link, strict=True))
        | {
            "building_code": facts[link.building_id].code,
            "building_name": facts[link.building_id].name,
            "building_station_id": facts[link.building_id].station_id,
            "heated_area_m2": facts[link.building_id].heated_area_m2,
        }
        for link in links
    ]
    return {"contract": contract, "buildings": buildings, "station_code": station_code}


def channel_by_code(engine: Engine, code: str) -> dict:
    """id, code, kind, unit, kwh_per_unit, modulus of a channel."""
    with Session(engine) as session:
        channel = session.scalar(select(Channel).where(Channel.code == code))
        if channel is None:
            raise LookupError(f"point de mesure inconnu : {code}")
        return {k: getattr(channel, k) for k in ("id", "code", "kind", "unit", "kwh_per_unit",
                                                 "modulus")}  # fmt: skip


def station_by_code(engine: Engine, code: str) -> dict:
    """id, code, name of a weather station."""
    with Session(engine) as session:
        station = session.scalar(select(Station).where(Station.code == code))
        if station is None:
            raise LookupError(f"station météo inconnue : {code}")
        return {"id": station.id, "code": station.code, "name": station.name}


# --- rollups and readings --------------------------------------------------------------------


ROLLUP_COLUMNS = (
    "channel_id", "day", "value", "energy_kwh", "min_value", "max_value", "n_readings",
    "coverage", "estimated",
)  # fmt: skip
# a day as its number since 1970 computed by the database: parsing ISO text or date objects in
# Python cost more than the settlement they feed
_DAY_NUMBER = {
    "sqlite": "CAST(julianday(day) - 2440587.5 AS INTEGER)",
    "postgresql": "(day - DATE '1970-01-01')",
}
# the resolution the driver's dates parsed to (SQLite ISO text, PostgreSQL date objects): kept
# so that every caller sees the frame it always saw
_DAY_UNIT = {"sqlite": "datetime64[us]", "postgresql": "datetime64[s]"}


def _missing(value) -> bool:
    """`pd.isna` of one id, without its cost per call (ids are ints, NaN floats or None)."""
    if value is None:
        return True
    if isinstance(value, (int, np.integer)):
        return False
    return bool(pd.isna(value))


def rollups(
    engine: Engine | Connection,
    channel_ids,
    day_from: dt.date,
    day_to: dt.date,
    columns: tuple[str, ...] = ROLLUP_COLUMNS,
    runs: tuple[tuple[dt.date, dt.date], ...] | None = None,
) -> pd.DataFrame:
    """Daily rollups of channels over inclusive local dates (`columns`: a subset of
    `ROLLUP_COLUMNS`, channel_id and day always included; `runs`: only these inclusive runs
    of days within them)."""
    ids = sorted({int(c) for c in channel_ids if not _missing(c)})
    day_from, day_to = pd.Timestamp(day_from).date(), pd.Timestamp(day_to).date()
    cols = [c for c in ROLLUP_COLUMNS if c in columns or c in ("channel_id", "day")]
    if not ids:
        return pd.DataFrame(columns=cols)
    # the raw DB-API cursor: SQLAlchemy's per-row processing would cost more than the whole
    # settlement. Only integers and ISO dates are spliced into the SQL (no user text).
    where = (
        f" FROM {DailyRollup.__tablename__}"
        f" WHERE channel_id IN ({', '.join(str(i) for i in ids)})"
        f" AND day >= '{day_from.isoformat()}' AND day <= '{day_to.isoformat()}'"
    )
    if runs:
        bounds = [(pd.Timestamp(a).date(), pd.Timestamp(b).date()) for a, b in runs]
        where += " AND (" + " OR ".join(
            f"(day >= '{a.isoformat()}' AND day <= '{b.isoformat()}')" for a, b in bounds
        ) + ")"  # fmt: skip
    dialect = engine.dialect.name
    if dialect not in _DAY_NUMBER:
        frame = _frame(_raw_fetchall(engine, f"SELECT {', '.join(cols)}{where}"), cols)
        frame["day"] = _days(frame["day"])
        return _rollup_types(frame)
    exprs = [_DAY_NUMBER[dialect] if c == "day" else c for c in cols]
    if dialect == "postgresql" and "estimated" in cols:  # a boolean has no cast to float8
        exprs[cols.index("estimated")] = "CAST(estimated AS integer)"
    if dialect == "postgresql":
        matrix = _copy_floats(engine, exprs, where)
    else:
        rows = _raw_fetchall(engine, f"SELECT {', '.join(exprs)}{where}")
        # one C conversion of the whole result (NULL -> NaN, integers exact below 2**53)
        matrix = np.array(rows, dtype=float).reshape(len(rows), len(cols))
    if not len(matrix):
        frame = _frame([], cols)
        frame["day"] = _days(frame["day"])
        return _rollup_types(frame)
    # contiguous float64 columns already: only the integers, days and flags need a cast
    data = {c: np.ascontiguousarray(v) for c, v in zip(cols, matrix.T, strict=True)}
    data["day"] = data["day"].astype("int64").astype("datetime64[D]").astype(_DAY_UNIT[dialect])
    for col in ("channel_id", "n_readings"):
        if col in data:
            data[col] = data[col].astype("int64")
    if "estimated" in data:  # what `astype(bool)` made of 0/1 and NULL
        data["estimated"] = np.nan_to_num(data["estimated"]) != 0
    return pd.DataFrame(data)


def _rollup_types(frame: pd.DataFrame) -> pd.DataFrame:
    for col in ("value", "energy_kwh", "min_value", "max_value", "coverage"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
    if "estimated" in frame:
        frame["estimated"] = frame["estimated"].astype(bool)
    for col in ("n_readings", "channel_id"):
        if col in frame:
            frame[col] = frame[col].astype("int64")
    return frame


def _copy_floats(engine: Engine | Connection, exprs: list[str], where: str) -> np.ndarray:
    """(rows, columns) float64 of a PostgreSQL query, as one bytea built by the server: each
    row's columns cast to float8 (NULL as NaN) in their binary form (`float8send`, 8 bytes
    big-endian), concatenated, read by numpy. No value becomes a Python object: the driver's
    fetch of a season of rollups, row by row, cost 50 ms (a binary COPY sends a message per
    row, which costs as much)."""
    row = " || ".join(f"float8send(COALESCE(CAST({e} AS float8), 'NaN'))" for e in exprs)
    sql = f"SELECT string_agg({row}, ''::bytea){where}"
    with connection(engine) as conn:
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(sql)
            (packed,) = cursor.fetchone()
        finally:
            cursor.close()
    if packed is None:  # no row
        return np.zeros((0, len(exprs)))
    return np.frombuffer(packed, dtype=">f8").astype(float).reshape(-1, len(exprs))


def readings(
    engine: Engine | Connection, channel_id: int, ts_from: int, ts_to: int
) -> pd.DataFrame:
    """Raw readings of one channel with ts in [ts_from, ts_to)."""
    sql = (
        f"SELECT ts, value, quality FROM {Reading.__tablename__} WHERE channel_id = "
        f"{int(channel_id)} AND ts >= {int(ts_from)} AND ts < {int(ts_to)} ORDER BY ts"
    )
    frame = _frame(_raw_fetchall(engine, sql), ["ts", "value", "quality"])
    frame["ts"] = frame["ts"].astype("int64")
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    frame["quality"] = frame["quality"].astype("int64")
    return frame


def rollup_span(engine: Engine, channel_ids) -> tuple[dt.date, dt.date] | None:
    """First and last day with a rollup among channels (None when they have none)."""
    ids = sorted({int(c) for c in channel_ids if c is not None})
    if not ids:
        return None
    t = DailyRollup.__table__
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(t.c.day), func.max(t.c.day)).where(t.c.channel_id.in_(ids))
        ).one()
    if first is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def channel_energy(engine: Engine, channel_code: str, day_from: dt.date, day_to: dt.date):
    """Consumption of a channel per reading (interval start `ts`, `energy_kwh` PCS) over local
    dates: an index's increments, else its values; the channel's default conversion factor
    (periodic coefficients change it by a few percent at most)."""
    channel = channel_by_code(engine, channel_code)
    ts_from, ts_to = local_day_bounds(day_from, day_to)
    raw = readings(engine, channel["id"], ts_from, ts_to + 1)
    if channel["kind"] == ChannelKind.INDEX:
        inc = index_increments(raw, channel["modulus"])
        ts, values = inc["t0"].to_numpy(), inc["delta"].to_numpy(dtype=float)
    else:
        ts, values = raw["ts"].to_numpy(), raw["value"].to_numpy(dtype=float)
    keep = (ts >= ts_from) & (ts < ts_to)
    factor = channel["kwh_per_unit"]
    if factor is None:
        factor = UNIT_KWH.get((channel["unit"] or "").lower(), 1.0)
    return pd.DataFrame({"ts": ts[keep], "energy_kwh": values[keep] * float(factor)})


# --- weather ---------------------------------------------------------------------------------


def station_channels(engine: Engine | Connection, station_id: int) -> dict[str, int]:
    """{'tn': id, 'tx': id, 'hourly': id} for what the station has."""
    with connection(engine) as conn:
        rows = conn.execute(
            select(Channel.id, Channel.quantity).where(Channel.station_id == int(station_id))
        ).all()
    out: dict[str, int] = {}
    for cid, quantity in rows:  # a station has a handful of channels
        if quantity in TN_QUANTITIES:
            out.setdefault("tn", cid)
        elif quantity in TX_QUANTITIES:
            out.setdefault("tx", cid)
        elif quantity in HOURLY_QUANTITIES:
            out.setdefault("hourly", cid)
    return out


@dataclass
class Overlay:
    """What waits for closed periods, laid over the record in memory: rollups recomputed with
    the held rows (`fresh`) over each channel's days (`days`), and the held rows themselves."""

    fresh: pd.DataFrame
    days: dict
    held: pd.DataFrame


@dataclass
class StationTemperatures:
    """Daily Tn/Tx by day, hourly temperatures by epoch s (or None), daily mean by day."""

    tn_tx: pd.DataFrame
    hourly: pd.Series | None
    mean_c: pd.Series


def station_temperatures(
    engine: Engine | Connection,
    station_id: int,
    day_from: dt.date,
    day_to: dt.date,
    need_hourly: bool = False,
    overlay: Overlay | None = None,
) -> StationTemperatures:
    """A station's temperatures over inclusive local dates (with what waits, given `overlay`).

    Hourly readings are read only when needed: the method asks for them or daily extremes
    are incomplete. The daily mean (regression baseline) is the hourly channel's rollup mean
    on days it covers well, else (Tn + Tx) / 2.
    """
    chans = station_channels(engine, station_id)
    wanted = [c for c in (chans.get(k) for k in ("tn", "tx", "hourly")) if c]
    # a station's rollups: their mean and coverage (all columns when an overlay replaces some)
    columns = ("value", "coverage") if overlay is None else ROLLUP_COLUMNS
    roll = rollups(engine, wanted, day_from, day_to, columns)
    if overlay is not None:
        roll = replace_rollups(
            roll, overlay.fresh, {c: d for c, d in overlay.days.items() if c in wanted}
        )
    days = pd.date_range(day_from, day_to, freq="D", name="day")

    # each rollup's place among the days, by array positions rather than an index per series
    cid = roll["channel_id"].to_numpy()
    offset = (
        pd.to_datetime(roll["day"]).to_numpy().astype("datetime64[D]")
        - np.datetime64(days[0].date(), "D")
    ).astype("int64")
    inside = (offset >= 0) & (offset < len(days))

    def series(key: str, col: str = "value") -> pd.Series:
        if key not in chans:
            return pd.Series(np.nan, index=days)
        mine = np.flatnonzero((cid == chans[key]) & inside)
        if len(np.unique(offset[mine])) < len(mine):  # a day twice: as reindex says it
            part = roll[roll["channel_id"] == chans[key]].set_index("day")[col]
            return part.reindex(days)
        values = np.full(len(days), np.nan)
        values[offset[mine]] = roll[col].to_numpy(dtype=float)[mine]
        return pd.Series(values, index=days, name=col)

    tn_tx = pd.DataFrame({"tn_c": series("tn"), "tx_c": series("tx")}, index=days)
    # a day with only a few hours would bias its mean: below 75 % coverage, (Tn + Tx) / 2
    hourly_mean = series("hourly").where(series("hourly", "coverage").fillna(1.0) >= 0.75)
    mean_c = hourly_mean.where(hourly_mean.notna(), (tn_tx["tn_c"] + tn_tx["tx_c"]) / 2.0)
    mean_c.name = "temp_mean_c"
    hourly = None
    past = days <= pd.Timestamp.now(tz=TZ_NAME).tz_localize(None).normalize()
    incomplete = tn_tx[past].isna().any(axis=1).any()
    if "hourly" in chans and (need_hourly or incomplete):
        ts_from, ts_to = local_day_bounds(day_from, day_to)
        lo, hi = ts_from - 86400, ts_to + 86400
        raw = readings(engine, chans["hourly"], lo, hi)
        if overlay is not None:
            held = overlay.held
            mine = held[(held["channel_id"] == chans["hourly"]) & (held["ts"] >= lo)]
            raw = overlay_readings(raw.assign(channel_id=chans["hourly"]), mine[mine["ts"] < hi])
        raw = raw[raw["value"].notna()]
        hourly = pd.Series(raw["value"].to_numpy(), index=raw["ts"].to_numpy(), name="temp_c")
    return StationTemperatures(tn_tx, hourly, mean_c)


def energy_and_temperature(
    engine: Engine, channel_id: int, station_id: int, day_from: dt.date, day_to: dt.date
) -> pd.DataFrame:
    """day, energy_kwh (PCS; the channel's unit when it is not an energy), temp_mean_c."""
    roll = rollups(engine, [channel_id], day_from, day_to)
    days = pd.date_range(day_from, day_to, freq="D", name="day")
    r = roll.set_index("day")
    energy = r["energy_kwh"].where(r["energy_kwh"].notna(), r["value"]).reindex(days)
    mean_c = station_temperatures(engine, station_id, day_from, day_to).mean_c
    return pd.DataFrame(
        {"day": days, "energy_kwh": energy.to_numpy(), "temp_mean_c": mean_c.reindex(days)}
    ).reset_index(drop=True)


@dataclass
class BaselineFrames:
    """One channel's days and its station's mean temperatures over a baseline and a
    reporting period (what `contract.reports.fit_baseline` fits and judges)."""

    channel_code: str
    station_code: str
    baseline: tuple[dt.date, dt.date]
    reporting: tuple[dt.date, dt.date]
    baseline_days: pd.DataFrame
    reporting_days: pd.DataFrame


def baseline_frames(
    engine: Engine,
    channel_code: str,
    station_code: str,
    baseline: tuple[dt.date, dt.date],
    reporting: tuple[dt.date, dt.date],
) -> BaselineFrames:
    channel = channel_by_code(engine, channel_code)
    station = station_by_code(engine, station_code)
    base = energy_and_temperature(engine, channel["id"], station["id"], *baseline)
    rep = energy_and_temperature(engine, channel["id"], station["id"], *reporting)
    return BaselineFrames(channel_code, station_code, baseline, reporting, base, rep)
