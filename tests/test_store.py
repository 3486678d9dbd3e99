"""The readings store: idempotent upserts with honest counts, and local-day rollups."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from carnet.kinds import Quality
from carnet.store import write_readings
from carnet.timeutil import local_to_utc, to_epoch


def _channels(engine, *rows):
    with engine.begin() as conn:
        for cid, code, kind, unit, factor, modulus in rows:
            conn.execute(
                text(
                    "INSERT INTO channel (id, code, quantity, kind, unit, kwh_per_unit, modulus)"
                    " VALUES (:i, :c, 'q', :k, :u, :f, :m)"
                ),
                {"i": cid, "c": code, "k": kind, "u": unit, "f": factor, "m": modulus},
            )


def _hourly(start_local: str, end_local: str) -> np.ndarray:
    times = pd.date_range(start_local, end_local, freq="h", tz="Europe/Paris", inclusive="left")
    return to_epoch(times)


def _daily(engine, channel_id):
    return pd.read_sql_query(
        text("SELECT * FROM daily_rollup WHERE channel_id = :c ORDER BY day"),
        engine,
        params={"c": channel_id},
    ).assign(day=lambda f: pd.to_datetime(f["day"]).dt.date)


def test_upsert_counts_and_idempotence(engine):
    _channels(engine, (1, "T", "instant", "degC", None, None))
    ts = _hourly("2025-01-06", "2025-01-07")
    frame = pd.DataFrame({"channel_id": 1, "ts": ts, "value": np.arange(24, dtype=float)})
    first = write_readings(engine, frame)
    assert (first.inserted, first.updated, first.unchanged) == (24, 0, 0)
    again = write_readings(engine, frame)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 24)
    # an overlapping frame: 3 values differ, 5 new hours
    overlap = pd.DataFrame(
        {"channel_id": 1, "ts": np.concatenate([ts[10:], ts[-1] + 3600 * np.arange(1, 6)])}
    )
    overlap["value"] = np.arange(len(overlap), dtype=float) + 10.0
    overlap.loc[[0, 1, 2], "value"] = -1.0
    result = write_readings(engine, overlap)
    assert (result.inserted, result.updated, result.unchanged) == (5, 3, 11)
    stored = pd.read_sql_query(text("SELECT COUNT(*) AS n FROM reading"), engine)["n"][0]
    assert stored == 29


def test_measured_replaces_estimate_not_the_reverse_and_gaps_erase_nothing(engine):
    _channels(engine, (1, "G", "index", "m3", 10.0, None))
    ts = _hourly("2025-01-06", "2025-01-06 03:00")
    est = pd.DataFrame(
        {"channel_id": 1, "ts": ts, "value": [1.0, 2.0, 3.0], "quality": Quality.ESTIMATED}
    )
    write_readings(engine, est)
    meas = est.assign(value=[1.5, 2.5, 3.5], quality=Quality.MEASURED)
    assert write_readings(engine, meas).updated == 3
    back = est.assign(value=[9.0, 9.0, 9.0])
    counts = write_readings(engine, back)
    assert (counts.updated, counts.unchanged) == (0, 3)
    gap = pd.DataFrame({"channel_id": 1, "ts": ts, "value": np.nan, "quality": Quality.GAP})
    assert write_readings(engine, gap).updated == 0
    values = pd.read_sql_query(text("SELECT value FROM reading ORDER BY ts"), engine)["value"]
    assert values.tolist() == [1.5, 2.5, 3.5]


@pytest.mark.parametrize(
    ("day", "hours"),
    [(dt.date(2025, 3, 30), 23), (dt.date(2025, 10, 26), 25), (dt.date(2025, 6, 15), 24)],
)
def test_local_day_rollups_across_dst(engine, day, hours):
    """An index read every hour gains 1 m3 per hour: a local day holds 23, 24 or 25 m3."""
    _channels(
        engine,
        (1, "G", "index", "m3", 11.2, None),
        (2, "T", "instant", "degC", None, None),
        (3, "E", "interval", "kWh", None, None),
    )
    start = pd.Timestamp(day) - pd.Timedelta(days=1)
    ts = _hourly(str(start.date()), str((pd.Timestamp(day) + pd.Timedelta(days=2)).date()))
    n = len(ts)
    frame = pd.concat(
        [
            pd.DataFrame({"channel_id": 1, "ts": ts, "value": np.arange(n, dtype=float)}),
            pd.DataFrame({"channel_id": 2, "ts": ts, "value": 19.0}),
            pd.DataFrame({"channel_id": 3, "ts": ts, "value": 2.0}),
        ]
    )
    write_readings(engine, frame)
    for cid, expected_value, expected_kwh in (
        (1, hours, hours * 11.2),
        (2, 19.0, None),
        (3, 2.0 * hours, 2.0 * hours),
    ):
        row = _daily(engine, cid).set_index("day").loc[day]
        assert row["value"] == pytest.approx(expected_value)
        assert row["n_readings"] == hours
        assert row["coverage"] == pytest.approx(1.0)
        if expected_kwh is None:
            assert pd.isna(row["energy_kwh"])
        else:
            assert row["energy_kwh"] == pytest.approx(expected_kwh)


def test_index_rollover_reset_and_gap(engine):
    _channels(engine, (1, "P", "index", "m3", 1.0, 1000.0), (2, "G", "index", "m3", 1.0, None))
    days = pd.date_range("2025-01-01", "2025-01-10", freq="D", tz="Europe/Paris")
    ts = to_epoch(days)
    # counter with modulus 1000: 990 -> 5 is +15, not -985
    roll = pd.DataFrame({"channel_id": 1, "ts": ts[:3], "value": [980.0, 990.0, 5.0]})
    write_readings(engine, roll)
    daily = _daily(engine, 1).set_index("day")["value"]
    assert daily[dt.date(2025, 1, 1)] == pytest.approx(10.0)
    assert daily[dt.date(2025, 1, 2)] == pytest.approx(15.0)
    # meter replaced on the 4th: old closes at 130, new starts at 0 and reads 7 at midnight
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO index_reset (channel_id, ts, old_final_value, new_start_value)"
                " VALUES (2, :t, 130, 0)"
            ),
            {"t": int(ts[4])},
        )
    values = [100.0, 110.0, 120.0, 125.0, 7.0, 17.0]
    quality = [0, 0, 0, 0, Quality.RESET, 0]
    # a drop with no modulus and no recorded replacement is unknown, never negative
    write_readings(
        engine, pd.DataFrame({"channel_id": 2, "ts": ts[:6], "value": values, "quality": quality})
    )
    daily = _daily(engine, 2).set_index("day")["value"]
    assert daily[dt.date(2025, 1, 4)] == pytest.approx((130 - 125) + (7 - 0))
    assert (daily.dropna() >= 0).all()
    # readings of the 7th to 9th missing: the 30 m3 from the 6th to the 10th are spread over
    # those four days and flagged estimated
    write_readings(engine, pd.DataFrame({"channel_id": 2, "ts": [ts[9]], "value": [47.0]}))
    rows = _daily(engine, 2).set_index("day")
    spread = rows.loc[dt.date(2025, 1, 6) : dt.date(2025, 1, 9)]
    assert spread["value"].tolist() == pytest.approx([7.5, 7.5, 7.5, 7.5])
    assert spread["estimated"].astype(bool).all()


def test_unexplained_drop_is_unknown_not_negative(engine):
    _channels(engine, (1, "G", "index", "m3", 1.0, None))
    ts = to_epoch(pd.date_range("2025-01-01", periods=4, freq="D", tz="Europe/Paris"))
    write_readings(
        engine, pd.DataFrame({"channel_id": 1, "ts": ts, "value": [10.0, 20.0, 5.0, 9.0]})
    )
    daily = _daily(engine, 1).set_index("day")["value"]
    assert daily[dt.date(2025, 1, 1)] == pytest.approx(10.0)
    assert pd.isna(daily[dt.date(2025, 1, 2)])
    assert daily[dt.date(2025, 1, 3)] == pytest.approx(4.0)


def test_ambiguous_october_hour_is_never_shifted_silently():
    naive = pd.to_datetime(["2025-10-26 02:30", "2025-10-26 02:30"])
    with pytest.raises(Exception, match="ambiguous|Cannot infer"):
        local_to_utc(naive)
    first, second = local_to_utc(naive, ambiguous=np.array([True, False]))
    assert (second - first) == pd.Timedelta(hours=1)
    with pytest.raises(Exception, match="nonexistent|does not exist|2025-03-30"):
        local_to_utc(pd.to_datetime(["2025-03-30 02:30"]))
