"""Physical plausibility (ingest.plausibility): properties of each rule, the sequence rule
against a reading-by-reading model, and, on a real database, that a held reading reaches
neither `reading` nor `daily_rollup`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from carnet.db import session_scope
from carnet.portfolio import load_portfolio
from carnet.portfolio_parse import PortfolioError
from carnet.portfolio_schema import GAS_METER_QMAX_M3H
from ingest.importer import import_file
from ingest.plausibility import (
    FUTURE_MARGIN_S,
    METER_MARGIN,
    POWER_MARGIN,
    ROLLOVER_BAND,
    SANE_RANGES,
    channel_limits,
    check,
    derive_limits,
)
from tests.helpers.ingest_support import assert_accounted

T0 = 1_735_689_600  # 01/01/2025 00:00 UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _meta(**over) -> pd.DataFrame:
    """One channel (id 1): a gas index on a boiler, with overrides."""
    row = {
        "code": "G",
        "kind": "index",
        "quantity": "gas_volume_m3",
        "unit": "m3",
        "kwh_per_unit": 10.0,
        "modulus": None,
        "max_kw": None,
        "eq_kind": "boiler",
        "eq_power_kw": 200.0,
        "meter_size": None,
        "ch_installed_on": None,
        "eq_installed_on": None,
        "children_kw": None,
        "building_kw": None,
    }
    row.update(over)
    return derive_limits(pd.DataFrame([row], index=pd.Index([1], name="id")))


def _prev(value, ts=T0) -> pd.DataFrame:
    return pd.DataFrame(
        {"prev_ts": [float(ts)], "prev_value": [float(value)], "next_ts": [np.nan]},
        index=pd.Index([1], name="channel_id"),
    ).assign(next_value=np.nan)


def _frame(values, step_s=3600, start=T0 + 3600, channel=1, **cols) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "channel_id": channel,
            "ts": start + step_s * np.arange(n),
            "value": np.asarray(values, dtype=float),
            "quality": 0,
            "line_no": np.arange(2, n + 2),
            **cols,
        }
    )


# --- (a) increments against the power limit -------------------------------------------------

limits = st.fixed_dictionaries(
    {
        "power": st.floats(5, 5000),
        "k": st.floats(0.5, 15),
        "hours": st.sampled_from([0.25, 0.5, 1, 2, 6, 24, 72]),
    }
)


@settings(deadline=None)
@given(limits, st.floats(0.0, 0.98))
def test_any_increment_under_the_limit_is_accepted(p, share):
    meta = _meta(eq_power_kw=p["power"], kwh_per_unit=p["k"])
    rate = p["power"] * POWER_MARGIN / p["k"]  # m3 per hour the boiler can burn
    delta = share * rate * p["hours"]
    frame = _frame([1000.0 + delta], start=T0 + int(p["hours"] * 3600))
    accepted, held = check(frame, meta, _prev(1000.0), None, now=NOW)
    assert held.empty and len(accepted) == 1
    assert accepted["prev_value"].tolist() == [1000.0]


@settings(deadline=None)
@given(limits, st.floats(1.02, 1e4))
def test_any_increment_over_the_limit_is_held_with_the_figures(p, factor):
    meta = _meta(eq_power_kw=p["power"], kwh_per_unit=p["k"])
    rate = p["power"] * POWER_MARGIN / p["k"]
    delta = factor * rate * p["hours"]
    frame = _frame([1000.0 + delta], start=T0 + int(p["hours"] * 3600))
    accepted, held = check(frame, meta, _prev(1000.0), None, now=NOW)
    assert accepted.empty and held["reason_code"].tolist() == ["jump"]
    reason = held["reason"].iloc[0]
    assert "pour une chaudière de" in reason and "kW (limite" in reason
    assert "m³ en " in reason


def test_jump_reason_names_the_figures():
    meta = _meta(eq_power_kw=250.0, kwh_per_unit=11.2)
    accepted, held = check(_frame([50_008.0]), meta, _prev(0.0), None, now=NOW)
    assert (
        held["reason"]
        .iloc[0]
        .startswith(
            "+50\u202f008 m³ en 1 h, soit 560\u202f090 kW pour une chaudière de 250 kW"
            " (limite 375 kW)"
        )
    )


def test_limit_order_max_kw_then_equipment_then_meter_then_building():
    assert _meta(max_kw=90.0)["basis"].iloc[0] == "max_kw"
    assert _meta(max_kw=90.0)["limit_kw"].iloc[0] == 90.0
    assert _meta()["limit_kw"].iloc[0] == 200.0 * POWER_MARGIN
    boiler_room = _meta(eq_power_kw=None, children_kw=300.0, eq_kind="boiler_room")
    assert boiler_room["limit_kw"].iloc[0] == 300.0 * POWER_MARGIN
    meter = _meta(eq_power_kw=None, eq_kind="gas_meter", meter_size="G16")
    assert meter["basis"].iloc[0] == "meter"
    assert meter["limit_rate"].iloc[0] == GAS_METER_QMAX_M3H["G16"] * METER_MARGIN
    building = _meta(eq_power_kw=None, eq_kind="gas_meter", building_kw=120.0)
    assert building["limit_kw"].iloc[0] == 120.0 * POWER_MARGIN
    none = _meta(eq_power_kw=None, eq_kind=None)
    assert np.isnan(none["limit_rate"].iloc[0])
    # electricity on a building with boilers: the boilers say nothing about it
    elec = _meta(eq_power_kw=None, quantity="energy_kwh", unit="kWh", building_kw=120.0)
    assert np.isnan(elec["limit_rate"].iloc[0])


def test_meter_size_limit_in_cubic_metres_per_hour():
    meta = _meta(eq_power_kw=None, eq_kind="gas_meter", meter_size="G16")
    ok = 25 * METER_MARGIN * 0.99
    accepted, held = check(_frame([100 + ok, 100 + ok + 31]), meta, _prev(100.0), None, now=NOW)
    assert len(accepted) == 1 and held["reason_code"].tolist() == ["jump"]
    assert "compteur G16 (débit maximal 25 m³/h" in held["reason"].iloc[0]


def test_burner_hours_cannot_run_faster_than_the_clock():
    meta = _meta(quantity="burner_hours", unit="h", kwh_per_unit=None, eq_kind="burner")
    accepted, held = check(_frame([1001.0, 1002.9, 1010.0]), meta, _prev(1000.0), None, now=NOW)
    assert accepted["value"].tolist() == [1001.0, 1002.9]
    assert held["reason_code"].tolist() == ["jump"]


def test_interval_value_over_its_period():
    meta = _meta(kind="interval", eq_power_kw=100.0, kwh_per_unit=10.0)  # 15 m3/h at most
    values = [10.0, 14.0, 400.0, 12.0]
    accepted, held = check(_frame(values), meta, None, None, now=NOW)
    assert accepted["value"].tolist() == [10.0, 14.0, 12.0]
    assert held["reason_code"].tolist() == ["jump"]
    assert held["reason"].iloc[0].startswith("400 m³ en 1 h")


# --- (b) drops --------------------------------------------------------------------------------

drops = st.fixed_dictionaries(
    {
        "modulus": st.one_of(st.none(), st.sampled_from([1e4, 1e5, 1e6])),
        "prev_share": st.floats(0.0, 0.9999),
        "new_share": st.floats(0.0, 0.9999),
        "declared": st.booleans(),
        "hours": st.sampled_from([1, 24]),
    }
)


@settings(deadline=None)
@given(drops)
def test_a_drop_is_accepted_only_near_the_modulus_or_when_declared(d):
    mod = d["modulus"] or 1e5
    prev, new = d["prev_share"] * mod, d["new_share"] * mod
    assume(new < prev - 1e-6)
    # a limit that a real rollover respects: 5 % of the modulus per hour
    meta = _meta(modulus=d["modulus"], max_kw=0.05 * mod * 10.0)
    ts = T0 + d["hours"] * 3600
    resets = None
    if d["declared"]:
        resets = pd.DataFrame(
            {"channel_id": [1], "ts": [ts], "old_final_value": [prev], "new_start_value": [0.0]}
        )
    accepted, held = check(_frame([new], start=ts), meta, _prev(prev), resets, now=NOW)
    wrapped = new - prev + mod
    near = d["modulus"] is not None and prev >= (1 - ROLLOVER_BAND) * mod
    plausible_wrap = wrapped <= 0.05 * mod * d["hours"]
    expected_ok = (d["declared"] and new <= 0.05 * mod * d["hours"]) or (
        not d["declared"] and near and plausible_wrap
    )
    assert (len(accepted) == 1) == expected_ok
    if not expected_ok:
        assert held["reason_code"].iloc[0] in ("drop", "jump")
        assert "baisse d'index" in held["reason"].iloc[0] or "m³ en" in held["reason"].iloc[0]
    else:
        assert accepted["reset_known"].iloc[0] == d["declared"]


def test_file_declared_replacement_is_accepted():
    meta = _meta(eq_power_kw=None, eq_kind=None)
    frame = _frame([21.0, 38.0], reset_force=[True, False], reset_new=[5.0, 21.0])
    accepted, held = check(frame, meta, _prev(12356.0), None, now=NOW)
    assert held.empty and accepted["prev_value"].tolist() == [12356.0, 21.0]


def test_undeclared_drop_is_held_and_never_the_reference_of_the_next():
    meta = _meta()
    # 1000 -> 12 (estimated, far below) -> 1010: the 1010 is compared with 1000, not with 12
    accepted, held = check(_frame([12.0, 1010.0, 1020.0]), meta, _prev(1000.0), None, now=NOW)
    assert held["value"].tolist() == [12.0] and held["reason_code"].tolist() == ["drop"]
    assert accepted["prev_value"].tolist() == [1000.0, 1010.0]
    assert "ni modulo de retour à zéro, ni changement de compteur déclaré" in held["reason"].iloc[0]


def test_a_reading_above_the_next_stored_one_is_held():
    meta = _meta()
    prev = _prev(1000.0).assign(next_ts=float(T0 + 10 * 3600), next_value=1015.0)
    accepted, held = check(_frame([1010.0, 1020.0]), meta, prev, None, now=NOW)
    assert accepted["value"].tolist() == [1010.0]
    assert held["value"].tolist() == [1020.0]
    assert "supérieur au relevé suivant déjà enregistré" in held["reason"].iloc[0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 40), st.floats(-900, -1), st.floats(200, 5000)),
        min_size=1,
        max_size=40,
    ),
    st.one_of(st.none(), st.just(10_000.0)),
    st.floats(0, 9_999),
)
def test_sequence_rule_matches_a_reading_by_reading_model(steps, modulus, start):
    """The vectorised passes give what a loop over the readings gives."""
    rate = 30.0  # m3/h: 300 kW at 10 kWh/m3 over POWER_MARGIN
    meta = _meta(eq_power_kw=300.0 / POWER_MARGIN, kwh_per_unit=10.0, modulus=modulus)
    values, v = [], start
    for s in steps:
        v = v + s
        if modulus:
            v = v % modulus
        values.append(max(v, 0.0))
    ts = T0 + 3600 * (1 + np.arange(len(values)))
    accepted, held = check(_frame(values), meta, _prev(start), None, now=NOW)
    # the model
    ref_v, ref_t, expected = start, T0, []
    for value, t in zip(values, ts, strict=True):
        hours = (t - ref_t) / 3600
        inc = value - ref_v
        ok = 0 <= inc <= rate * hours
        if inc < 0 and modulus and ref_v >= (1 - ROLLOVER_BAND) * modulus:
            ok = inc + modulus <= rate * hours
        expected.append(ok)
        if ok:
            ref_v, ref_t = value, t
    got = np.ones(len(values), bool)
    got[held["line_no"].to_numpy() - 2] = False
    assert got.tolist() == expected


# --- (c) ranges, (d) time ---------------------------------------------------------------------


@settings(deadline=None)
@given(
    st.sampled_from(sorted(q for q, (lo, hi) in SANE_RANGES.items() if hi is not None)),
    st.floats(-1e4, 1e4),
)
def test_instant_values_outside_the_sane_range_are_held(quantity, value):
    lo, hi = SANE_RANGES[quantity]
    meta = _meta(kind="instant", quantity=quantity, unit="u", eq_power_kw=None, eq_kind=None)
    accepted, held = check(_frame([value]), meta, None, None, now=NOW)
    inside = lo <= value <= hi
    assert (len(accepted) == 1) == inside
    if not inside:
        assert held["reason_code"].tolist() == ["range"]
        assert "hors de la plage admise" in held["reason"].iloc[0]


def test_indoor_300_degrees_and_negative_volume():
    t = _meta(kind="instant", quantity="temp_indoor_c", unit="degC", eq_kind=None)
    _, held = check(_frame([300.0]), t, None, None, now=NOW)
    assert held["reason"].iloc[0] == (
        "300 °C hors de la plage admise pour une température intérieure (\u221230 à 60 °C)"
    )
    _, held = check(_frame([-5.0]), _meta(), None, None, now=NOW)
    assert held["reason_code"].tolist() == ["range"]
    assert "valeur négative impossible pour un volume de gaz" in held["reason"].iloc[0]
    _, held = check(_frame([100_000.0]), _meta(modulus=100_000.0), None, None, now=NOW)
    assert "au-delà du modulo" in held["reason"].iloc[0]


def test_before_installation_and_in_the_future():
    meta = _meta(eq_installed_on=dt.date(2025, 1, 2))  # local midnight: 01/01 23:00 UTC
    frame = _frame([1.0, 2.0, 3.0], start=T0 + 22 * 3600)
    accepted, held = check(frame, meta, None, None, now=NOW)
    assert held["reason_code"].tolist() == ["before_install"]
    assert "antérieur à la pose de l'équipement (02/01/2025)" in held["reason"].iloc[0]
    assert accepted["value"].tolist() == [2.0, 3.0]
    own = _meta(eq_installed_on=dt.date(2020, 1, 1), ch_installed_on=dt.date(2025, 1, 2))
    _, held = check(frame, own, None, None, now=NOW)
    assert "pose du point de mesure" in held["reason"].iloc[0]
    now = dt.datetime.fromtimestamp(T0 + 3600, dt.UTC)
    later = _frame([1.0, 2.0], start=T0 + 3600 + FUTURE_MARGIN_S, step_s=60)
    accepted, held = check(later, _meta(), None, None, now=now)
    assert accepted["value"].tolist() == [1.0] and held["reason_code"].tolist() == ["future"]


# --- on a real database: held readings reach neither the readings nor the rollups ------------

TOWN = {
    "buildings": [
        {
            "code": "B",
            "name": "Bâtiment",
            "equipment": [
                {"code": "B-CHAUD", "kind": "boiler", "power_kw": 100, "fuel": "gas"},
            ],
            "channels": [
                {
                    "code": "B-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": 10.0,
                    "equipment": "B-CHAUD",
                },
                {"code": "B-T", "quantity": "temp_indoor_c", "kind": "instant", "unit": "degC"},
            ],
        }
    ]
}


@pytest.fixture
def town(engine):
    with session_scope(engine) as session:
        load_portfolio(session, TOWN)
    return engine


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.one_of(st.floats(0, 14), st.floats(-500, -1), st.floats(100, 1e5)),
        min_size=2,
        max_size=30,
    ),
    st.lists(st.floats(-100, 400), min_size=1, max_size=10),
)
def test_held_readings_never_reach_readings_nor_rollups(town, tmp_path, steps, temps):
    with town.begin() as conn:
        for table in ("daily_rollup", "reading", "quarantined_reading"):
            conn.execute(text(f"DELETE FROM {table}"))
    values = np.maximum(1000 + np.cumsum(steps), 0).round(3)
    lines = ["channel,timestamp,value"]
    lines += [
        f"B-GAZ,{pd.Timestamp(T0 + 3600 * i, unit='s', tz='UTC').isoformat()},{v}"
        for i, v in enumerate(values)
    ]
    lines += [
        f"B-T,{pd.Timestamp(T0 + 3600 * i, unit='s', tz='UTC').isoformat()},{round(t, 2)}"
        for i, t in enumerate(temps)
    ]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(town, path)
    with town.connect() as conn:
        held = pd.read_sql_query(
            text("SELECT channel_id, ts, value FROM quarantined_reading WHERE status = 'held'"),
            conn,
        )
        stored = pd.read_sql_query(text("SELECT channel_id, ts, value FROM reading"), conn)
        daily = pd.read_sql_query(
            text(
                "SELECT d.day, d.value, c.code FROM daily_rollup d JOIN channel c ON"
                " c.id = d.channel_id"
            ),
            conn,
        )
    assert report.rows_quarantined == len(held)
    assert report.rows_read == len(values) + len(temps)
    assert_accounted(report)
    assert report.exit_status == (1 if len(held) else 0)
    # no held key is stored
    both = held.merge(stored, on=["channel_id", "ts"])
    assert both.empty
    # the gas consumption of the day is what the stored (accepted) readings give, and it
    # never implies more than the boiler can burn: 100 kW x 1.5 / 10 kWh/m3 = 15 m3/h
    gas = stored.merge(pd.DataFrame({"channel_id": [1]}), on="channel_id").sort_values("ts")
    inc = np.diff(gas["value"].to_numpy())
    hours = np.diff(gas["ts"].to_numpy()) / 3600
    assert (inc >= 0).all() and (inc <= 15.0 * hours + 1e-9).all()
    total = daily.loc[daily["code"] == "B-GAZ", "value"].sum()
    assert total == pytest.approx(gas["value"].iloc[-1] - gas["value"].iloc[0] if len(gas) else 0)
    temp = daily.loc[daily["code"] == "B-T", "value"]
    assert ((temp >= -30) & (temp <= 60)).all()


def test_portfolio_keys_feed_the_limits(engine):
    """`max_kw` and `installed_on` on a channel, `meter_size` on a gas meter: loaded, audited
    like any key, and what the checks read back."""
    town = {
        "buildings": [
            {
                "code": "E",
                "name": "École",
                "equipment": [
                    {"code": "E-CPT", "kind": "gas_meter", "meter_size": "G25"},
                    {
                        "code": "E-CH",
                        "kind": "boiler",
                        "power_kw": 90,
                        "installed_on": "2020-09-01",
                    },
                ],
                "channels": [
                    {
                        "code": "E-GAZ",
                        "quantity": "gas_volume_m3",
                        "kind": "index",
                        "unit": "m3",
                        "kwh_per_unit": 11.0,
                        "equipment": "E-CPT",
                        "installed_on": "01/06/2021",
                    },
                    {
                        "code": "E-GAZ2",
                        "quantity": "gas_volume_m3",
                        "kind": "index",
                        "unit": "m3",
                        "kwh_per_unit": 11.0,
                        "equipment": "E-CH",
                        "max_kw": 40,
                    },
                ],
            }
        ]
    }
    with session_scope(engine) as session:
        load_portfolio(session, town)
    with engine.connect() as conn:
        meta = channel_limits(conn).set_index("code")
    gaz, gaz2 = meta.loc["E-GAZ"], meta.loc["E-GAZ2"]
    assert (gaz["basis"], gaz["limit_rate"]) == ("meter", 40.0 * METER_MARGIN)
    assert gaz["installed_from"] == "channel"
    assert dt.datetime.fromtimestamp(gaz["installed_ts"], dt.UTC) == dt.datetime(
        2021, 5, 31, 22, tzinfo=dt.UTC
    )  # local midnight, summer time
    assert (gaz2["basis"], gaz2["limit_kw"]) == ("max_kw", 40.0)
    assert gaz2["installed_from"] == "equipment"
    bad = {
        "buildings": [
            {
                "code": "E",
                "name": "École",
                "equipment": [{"code": "E-CPT", "kind": "gas_meter", "meter_size": "G17"}],
            }
        ]
    }
    with (
        pytest.raises(PortfolioError, match="meter_size: valeur « G17 » non admise"),
        session_scope(engine) as session,
    ):
        load_portfolio(session, bad)
