"""Everything the engine reads from the system of record, as frames.

This is the only module of `contract/` that touches the database; the others are pure
functions of what it returns, so a figure can be recomputed from frames in a test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from carnet.models import (
    Adjustment,
    Channel,
    Contract,
    ContractBuilding,
    DailyRollup,
    Reading,
    Station,
)
from carnet.timeutil import TZ_NAME, local_day_bounds
from contract.degree_days import station_daily_dju
from contract.terms import ContractTerms, previous_season, season_bounds

TN_QUANTITIES = ("temp_min_c", "tn_c", "temp_outdoor_min_c")
TX_QUANTITIES = ("temp_max_c", "tx_c", "temp_outdoor_max_c")
HOURLY_QUANTITIES = ("temp_outdoor_c",)


def _days(values) -> pd.Series:
    values = pd.Series(values)
    if len(values) and isinstance(values.iloc[0], dt.date):
        return pd.Series(np.asarray(values.tolist(), dtype="datetime64[D]")).astype("datetime64[s]")
    return pd.to_datetime(values, format="ISO8601").dt.normalize()


def _raw_fetchall(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
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


def load_contract_terms(engine: Engine, contract_code: str) -> ContractTerms:
    with Session(engine) as session:
        contract = session.scalar(
            select(Contract)
            .where(Contract.code == contract_code)
            .options(selectinload(Contract.buildings).selectinload(ContractBuilding.building))
        )
        if contract is None:
            raise LookupError(f"contrat inconnu : {contract_code}")
        station_code = None
        if contract.station_id is not None:
            station_code = session.get(Station, contract.station_id).code
        return ContractTerms.from_rows(contract, contract.buildings, station_code)


def channel_by_code(engine: Engine, code: str) -> Channel:
    with Session(engine) as session:
        channel = session.scalar(select(Channel).where(Channel.code == code))
        if channel is None:
            raise LookupError(f"point de mesure inconnu : {code}")
        session.expunge(channel)
        return channel


def station_by_code(engine: Engine, code: str) -> Station:
    with Session(engine) as session:
        station = session.scalar(select(Station).where(Station.code == code))
        if station is None:
            raise LookupError(f"station météo inconnue : {code}")
        session.expunge(station)
        return station


def load_rollups(engine: Engine, channel_ids, day_from: dt.date, day_to: dt.date) -> pd.DataFrame:
    """Daily rollups of channels over inclusive local dates."""
    ids = sorted({int(c) for c in channel_ids if c is not None and not pd.isna(c)})
    day_from, day_to = pd.Timestamp(day_from).date(), pd.Timestamp(day_to).date()
    cols = ["channel_id", "day", "value", "energy_kwh", "min_value", "max_value"]
    cols += ["n_readings", "coverage", "estimated"]
    if not ids:
        return pd.DataFrame(columns=cols)
    # the raw DB-API cursor: SQLAlchemy's per-row processing would cost more than the whole
    # settlement. Only integers and ISO dates are spliced into the SQL (no user text).
    sql = (
        f"SELECT {', '.join(cols)} FROM {DailyRollup.__tablename__}"
        f" WHERE channel_id IN ({', '.join(str(i) for i in ids)})"
        f" AND day >= '{day_from.isoformat()}' AND day <= '{day_to.isoformat()}'"
    )
    rows = _raw_fetchall(engine, sql)
    frame = _frame(rows, cols)
    frame["day"] = _days(frame["day"])
    for col in ("value", "energy_kwh", "min_value", "max_value", "coverage"):
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    frame["estimated"] = frame["estimated"].astype(bool)
    frame["n_readings"] = frame["n_readings"].astype("int64")
    frame["channel_id"] = frame["channel_id"].astype("int64")
    return frame


def load_readings(engine: Engine, channel_id: int, ts_from: int, ts_to: int) -> pd.DataFrame:
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


def station_channels(engine: Engine, station_id: int) -> dict[str, int]:
    """{'tn': id, 'tx': id, 'hourly': id} for what the station has."""
    with engine.connect() as conn:
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


def load_station_temperatures(
    engine: Engine, station_id: int, day_from: dt.date, day_to: dt.date, need_hourly: bool = False
) -> tuple[pd.DataFrame, pd.Series | None, pd.Series]:
    """(daily Tn/Tx by day, hourly temperatures by epoch s or None, daily mean by day).

    Hourly readings are read only when needed: the method asks for them or daily extremes
    are incomplete. The daily mean (regression baseline) is the hourly channel's rollup mean
    on days it covers well, else (Tn + Tx) / 2.
    """
    chans = station_channels(engine, station_id)
    wanted = [chans.get(k) for k in ("tn", "tx", "hourly")]
    roll = load_rollups(engine, [c for c in wanted if c], day_from, day_to)
    days = pd.date_range(day_from, day_to, freq="D", name="day")

    def series(key: str, col: str = "value") -> pd.Series:
        if key not in chans:
            return pd.Series(np.nan, index=days)
        part = roll[roll["channel_id"] == chans[key]].set_index("day")[col]
        return part.reindex(days)

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
        raw = load_readings(engine, chans["hourly"], ts_from - 86400, ts_to + 86400)
        raw = raw[raw["value"].notna()]
        hourly = pd.Series(raw["value"].to_numpy(), index=raw["ts"].to_numpy(), name="temp_c")
    return tn_tx, hourly, mean_c


def load_station_dju(
    engine: Engine,
    station_id: int,
    day_from: dt.date,
    day_to: dt.date,
    method: str,
    base_c: float,
) -> pd.DataFrame:
    """station_id, day, dju (plus tn_c, tx_c, source) over inclusive local dates."""
    tn_tx, hourly, _ = load_station_temperatures(
        engine, station_id, day_from, day_to, need_hourly=(method == "hourly")
    )
    if hourly is not None and method == "hourly":
        ts_from, ts_to = local_day_bounds(day_from, day_to)
        idx = hourly.index.to_numpy()
        hourly = hourly[(idx >= ts_from) & (idx < ts_to)]
    dju = station_daily_dju(tn_tx, hourly, method, base_c)
    lo, hi = pd.Timestamp(day_from), pd.Timestamp(day_to)
    dju = dju[(dju.index >= lo) & (dju.index <= hi)]
    out = dju.reset_index()
    out.insert(0, "station_id", int(station_id))
    return out


def load_adjustments(engine: Engine, terms: ContractTerms) -> pd.DataFrame:
    ids = {bt.contract_building_id: bt.building_code for bt in terms.buildings}
    cols = ["id", "contract_building_id", "effective_from", "effective_to", "kind"]
    cols += ["nb_factor", "delta_mwh_pci", "justification", "author_login", "created_at"]
    t = Adjustment.__table__
    ids_list = [i for i in ids if i is not None]
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(t.c[c] for c in cols))
            .where(t.c.contract_building_id.in_(ids_list), t.c.status == "active")
            .order_by(t.c.effective_from, t.c.id)
        ).all()
    frame = pd.DataFrame(rows, columns=cols)
    frame.insert(0, "building_code", frame["contract_building_id"].map(ids))
    return frame


def load_settlement_inputs(engine: Engine, contract_code: str, season: str):
    """(terms, rollups, dju_daily, adjustments) covering the season and the one before it."""
    terms = load_contract_terms(engine, contract_code)
    first, _ = season_bounds(previous_season(season), terms.season_start, terms.season_end)
    _, last = season_bounds(season, terms.season_start, terms.season_end)
    channel_ids = [bt.channel_id for bt in terms.buildings] + [
        bt.ecs_channel_id for bt in terms.buildings
    ]
    rollups = load_rollups(engine, channel_ids, first, last)
    stations = sorted({bt.station_id for bt in terms.buildings if bt.station_id is not None})
    dju_parts = [
        load_station_dju(engine, sid, first, last, terms.dju_method, terms.dju_base_c)
        for sid in stations  # one or two stations per contract
    ]
    dju_daily = (
        pd.concat(dju_parts, ignore_index=True)
        if dju_parts
        else pd.DataFrame(columns=["station_id", "day", "dju"])
    )
    adjustments = load_adjustments(engine, terms)
    return terms, rollups, dju_daily, adjustments
