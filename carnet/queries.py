"""Read-side queries returning pandas frames: readings, local-day and local-month figures.

Day and month are Europe/Paris; `day_from`/`day_to` are inclusive local dates.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, bindparam, text

from carnet.kinds import ChannelKind, Quality
from carnet.timeutil import epoch_to_local, local_day_bounds

QUALITY_LABELS = {q.value: q.name.lower() for q in Quality}


class UnknownChannel(LookupError):
    pass


def channels_frame(engine: Engine, codes: list[str] | None = None) -> pd.DataFrame:
    """Channels with their building/station codes, indexed by code."""
    sql = (
        "SELECT c.id, c.code, c.quantity, c.kind, c.unit, c.kwh_per_unit, c.modulus,"
        " c.external_ref, c.building_id, c.station_id, c.room_id, c.equipment_id,"
        " b.code AS building_code, s.code AS station_code FROM channel c"
        " LEFT JOIN building b ON b.id = c.building_id"
        " LEFT JOIN station s ON s.id = c.station_id"
    )
    params = {}
    stmt = text(sql)
    if codes is not None:
        stmt = text(sql + " WHERE c.code IN :codes").bindparams(bindparam("codes", expanding=True))
        params = {"codes": list(codes) or [""]}
    with engine.connect() as conn:
        frame = pd.read_sql_query(stmt, conn, params=params)
    return frame.set_index("code")


def channel_row(engine: Engine, code: str) -> pd.Series:
    frame = channels_frame(engine, [code])
    if frame.empty:
        raise UnknownChannel(f"point de mesure inconnu « {code} »")
    return frame.loc[code]


def readings_frame(
    engine: Engine,
    channel_code: str,
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
) -> pd.DataFrame:
    """Raw readings: `ts` (UTC epoch s), `time_local`, `value`, `quality` (label)."""
    ch = channel_row(engine, channel_code)
    lo, hi = _bounds(day_from, day_to)
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            text(
                "SELECT ts, value, quality FROM reading WHERE channel_id = :c"
                " AND ts >= :lo AND ts < :hi ORDER BY ts"
            ),
            conn,
            params={"c": int(ch["id"]), "lo": lo, "hi": hi},
        )
    frame.insert(1, "time_local", epoch_to_local(frame["ts"].to_numpy()))
    frame["quality"] = frame["quality"].map(QUALITY_LABELS)
    return frame


def _bounds(day_from: dt.date | None, day_to: dt.date | None) -> tuple[int, int]:
    lo = local_day_bounds(day_from, day_from)[0] if day_from else -(2**62)
    hi = local_day_bounds(day_to, day_to)[1] if day_to else 2**62
    return lo, hi


def daily_frame(
    engine: Engine,
    channel_codes: list[str],
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
) -> pd.DataFrame:
    """Daily rollups of the channels: channel, day, value, energy_kwh, min/max, n, coverage,
    estimated."""
    channels = channels_frame(engine, channel_codes)
    unknown = sorted(set(channel_codes) - set(channels.index))
    if unknown:
        raise UnknownChannel(f"point(s) de mesure inconnu(s) : {', '.join(unknown)}")
    stmt = text(
        "SELECT channel_id, day, value, energy_kwh, min_value, max_value, n_readings,"
        " coverage, estimated FROM daily_rollup WHERE channel_id IN :ids"
        " AND day >= :a AND day <= :b ORDER BY channel_id, day"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            stmt,
            conn,
            params={
                "ids": [int(i) for i in channels["id"]],
                "a": day_from or dt.date(1900, 1, 1),
                "b": day_to or dt.date(2999, 12, 31),
            },
        )
    codes = pd.Series(channels.index, index=channels["id"].to_numpy())
    frame.insert(0, "channel", frame.pop("channel_id").map(codes))
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["estimated"] = frame["estimated"].astype(bool)
    return frame


def monthly_frame(
    engine: Engine,
    channel_codes: list[str],
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
) -> pd.DataFrame:
    """Local-month figures from the daily rollups: consumption (sum) or mean, with the days
    that have data, the days missing and the days estimated. Missing days are reported, never
    filled."""
    daily = daily_frame(engine, channel_codes, day_from, day_to)
    kinds = channels_frame(engine, channel_codes)["kind"]
    if daily.empty:
        return pd.DataFrame(
            columns=[
                "channel",
                "month",
                "value",
                "energy_kwh",
                "days",
                "days_with_data",
                "days_missing",
                "days_estimated",
            ]
        )
    daily["month"] = pd.to_datetime(daily["day"]).dt.to_period("M")
    has_value = daily["value"].notna()
    grouped = daily.assign(has=has_value).groupby(["channel", "month"])
    out = grouped.agg(
        value_sum=("value", lambda s: s.sum(min_count=1)),
        value_mean=("value", "mean"),
        energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)),
        days_with_data=("has", "sum"),
        days_estimated=("estimated", "sum"),
    ).reset_index()
    is_instant = out["channel"].map(kinds) == ChannelKind.INSTANT
    out["value"] = np.where(is_instant, out["value_mean"], out["value_sum"])
    first = pd.Timestamp(day_from) if day_from else None
    last = pd.Timestamp(day_to) if day_to else None
    starts = out["month"].dt.start_time
    ends = out["month"].dt.end_time.dt.normalize()
    if first is not None:
        starts = starts.clip(lower=first)
    if last is not None:
        ends = ends.clip(upper=last)
    out["days"] = (ends - starts).dt.days + 1
    out["days_missing"] = out["days"] - out["days_with_data"]
    out["month"] = out["month"].astype(str)
    cols = [
        "channel",
        "month",
        "value",
        "energy_kwh",
        "days",
        "days_with_data",
        "days_missing",
        "days_estimated",
    ]
    return out[cols]


def last_readings(engine: Engine) -> pd.DataFrame:
    """The last non-empty reading of every channel: channel_id, ts, value, time_local."""
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            # one backward walk of the (channel_id, ts) key per channel, not a scan of all
            # readings: milliseconds instead of ~0.4 s on 1.4 M readings (SQLite)
            text(
                "SELECT c.id AS channel_id,"
                " (SELECT r.ts FROM reading r WHERE r.channel_id = c.id AND r.value IS NOT NULL"
                " ORDER BY r.ts DESC LIMIT 1) AS ts,"
                " (SELECT r.value FROM reading r WHERE r.channel_id = c.id"
                " AND r.value IS NOT NULL ORDER BY r.ts DESC LIMIT 1) AS value FROM channel c"
            ),
            conn,
        )
    frame = frame.dropna(subset=["ts"]).astype({"ts": "int64"}).reset_index(drop=True)
    frame["time_local"] = epoch_to_local(frame["ts"].to_numpy())
    return frame


def portfolio_overview(engine: Engine, building_ids: list[int] | None = None) -> pd.DataFrame:
    """Buildings with area and usage, and per channel the last reading (local time, value,
    unit). One row per channel; buildings without channels appear once with empty channel."""
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            text(
                "SELECT b.id AS building_id, b.code AS building_code, b.name AS building_name,"
                " b.usage, b.heated_area_m2, c.id AS channel_id, c.code AS channel_code,"
                " c.quantity, c.kind, c.unit FROM building b"
                " LEFT JOIN channel c ON c.building_id = b.id ORDER BY b.name, c.code"
            ),
            conn,
        )
    if building_ids is not None:
        frame = frame[frame["building_id"].isin(building_ids)]
    last = last_readings(engine).rename(
        columns={"ts": "last_ts", "value": "last_value", "time_local": "last_time_local"}
    )
    return frame.merge(last, on="channel_id", how="left")
