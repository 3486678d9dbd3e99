"""The dashboard-facing frames: carpet plot across both DST changes, energy signature, CUSUM,
monthly degree days from hourly data only, consumption per day/month with missing and
estimated days (through the real store)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from carnet.db import session_scope
from carnet.frames import baseline_frames, channel_energy, station_by_code, station_temperatures
from carnet.models import Building, Channel, Station
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch, to_epoch
from contract import (
    baseline_cusum,
    carpet_frame,
    degree_days,
    energy_signature_frame,
    fit_baseline,
)
from contract.degree_days import dju_costic, tn_tx_meteo_france


@pytest.fixture
def site(engine):
    with session_scope(engine) as s:
        st = Station(code="ST", name="Station")
        s.add(st)
        s.flush()
        b = Building(code="B", name="B", station_id=st.id)
        s.add(b)
        s.flush()
        t = Channel(
            code="ST-T", station_id=st.id, quantity="temp_outdoor_c", kind="instant", unit="degC"
        )
        gas = Channel(
            code="B-GAZ", building_id=b.id, quantity="gas_volume_m3", kind="index", unit="m3",
            kwh_per_unit=10.0,
        )  # fmt: skip
        s.add_all([t, gas])
        s.flush()
        return {"T": t.id, "GAZ": gas.id}


def carpet(engine, channel_code, first, last):
    return carpet_frame(
        channel_energy(engine, channel_code, first, last), channel_code, first, last
    )


def test_carpet_across_dst(engine, site):
    # hourly index readings (UTC hours) from 29/03/2025 to 01/04/2025 local, 1 m3 per hour,
    # and the same across the October change
    frames = []
    for first, last in (("2025-03-29", "2025-04-01"), ("2025-10-25", "2025-10-28")):
        start = local_midnight_epoch([pd.Timestamp(first)])[0]
        end = local_midnight_epoch([pd.Timestamp(last)])[0]
        ts = np.arange(start, end + 1, 3600)
        frames.append(
            pd.DataFrame(
                {"channel_id": site["GAZ"], "ts": ts, "value": 1000.0 + np.arange(len(ts))}
            )
        )
    write_readings(engine, pd.concat(frames))
    spring = carpet(engine, "B-GAZ", dt.date(2025, 3, 29), dt.date(2025, 3, 31))
    assert list(spring.columns) == list(range(24))
    short = spring.loc[pd.Timestamp("2025-03-30")]
    assert np.isnan(short[2])  # 02:00 does not exist on the 23-hour day
    assert short.sum() == pytest.approx(23 * 10.0)
    assert spring.loc[pd.Timestamp("2025-03-29")].sum() == pytest.approx(24 * 10.0)
    autumn = carpet(engine, "B-GAZ", dt.date(2025, 10, 25), dt.date(2025, 10, 27))
    long_day = autumn.loc[pd.Timestamp("2025-10-26")]
    assert long_day[2] == pytest.approx(2 * 10.0)  # both 02:00 hours
    assert long_day.sum() == pytest.approx(25 * 10.0)


def test_degree_days_from_hourly_only(engine, site):
    """Without daily Tn/Tx channels, COSTIC takes Tn/Tx in the Météo-France windows."""
    stamps = pd.date_range("2026-01-01 00:00", "2026-02-03 00:00", freq="h", tz="UTC")
    temps = 4.0 + 6.0 * np.sin(np.arange(len(stamps)) * 2 * np.pi / 24) + (stamps.day % 5)
    hourly = pd.Series(temps, index=to_epoch(stamps))
    write_readings(
        engine, pd.DataFrame({"channel_id": site["T"], "ts": hourly.index, "value": temps})
    )
    first, last = dt.date(2026, 1, 2), dt.date(2026, 1, 31)
    station = station_by_code(engine, "ST")
    temps = station_temperatures(engine, station["id"], first, last)
    daily = degree_days(temps, station["id"], "ST", first, last, "costic", 18.0)
    windows = tn_tx_meteo_france(hourly)
    days = pd.date_range("2026-01-02", "2026-01-31")
    expected = dju_costic(windows.loc[days, "tn_c"], windows.loc[days, "tx_c"], 18.0)
    assert daily["dju"].to_numpy() == pytest.approx(expected.to_numpy())
    assert set(daily["source"]) == {"hourly_windows"}
    monthly = degree_days(temps, station["id"], "ST", first, last, "costic", 18.0, freq="month")
    assert monthly["month"].tolist() == ["2026-01"]
    assert monthly["dju"].iloc[0] == pytest.approx(expected.sum())
    assert monthly.attrs["method"] == "costic"


def test_signature_and_cusum(engine, site):
    days = pd.date_range("2024-01-01", "2025-12-31", freq="D")
    i = np.arange(len(days))
    mean = (
        11.0 - 8.0 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 15) / 365.0) + 2 * np.sin(i)
    )
    # hourly temperatures: a constant day at its daily mean (24 readings a day, UTC hours)
    hours = pd.date_range("2023-12-31 23:00", "2025-12-31 22:00", freq="h", tz="UTC")
    local_day = hours.tz_convert("Europe/Paris").tz_localize(None).normalize()
    temp_by_day = pd.Series(mean, index=days)
    t_values = temp_by_day.reindex(local_day).to_numpy()
    write_readings(
        engine, pd.DataFrame({"channel_id": site["T"], "ts": to_epoch(hours), "value": t_values})
    )
    kwh = 50.0 + 10.0 * np.maximum(0.0, 16.0 - mean) + 3 * np.cos(i * 1.3)
    kwh[366:] *= 0.9
    stamps = local_midnight_epoch(list(days) + [days[-1] + pd.Timedelta(days=1)])
    index = np.concatenate([[0.0], np.cumsum(kwh / 10.0)])
    write_readings(engine, pd.DataFrame({"channel_id": site["GAZ"], "ts": stamps, "value": index}))
    report = fit_baseline(baseline_frames(
        engine, "B-GAZ", "ST", (dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    ))  # fmt: skip
    assert report.model.balance_temp_c == 16.0
    sig = energy_signature_frame(report)
    assert set(sig["segment"]) == {"baseline", "reporting"}
    assert len(sig) == 24
    base = sig[sig["segment"] == "baseline"]
    assert base["energy_kwh"].sum() == pytest.approx(kwh[:366].sum())
    m = report.model
    assert base["predicted_kwh"].to_numpy() == pytest.approx(
        (m.b0_kwh_per_day * base["days"] + m.b1_kwh_per_dd * base["hdd"]).to_numpy()
    )
    cus = baseline_cusum(report)
    assert len(cus) == 12
    assert cus["cusum"].iloc[-1] == pytest.approx(report.savings.savings_kwh)
    assert (np.diff(cus["cusum"].to_numpy()) > 0).all()  # saving every month


def test_tertiaire_frame(engine, site):
    from carnet.frames import contract_terms, rollups
    from carnet.models import Contract, ContractBuilding
    from contract import ContractTerms, tertiaire_frame
    from contract.reports import tertiaire_building

    with session_scope(engine) as s:
        st = s.query(Station).one()
        tn_ch = Channel(
            code="ST-TN", station_id=st.id, quantity="temp_min_c", kind="instant", unit="degC"
        )
        tx_ch = Channel(
            code="ST-TX", station_id=st.id, quantity="temp_max_c", kind="instant", unit="degC"
        )
        s.add_all([tn_ch, tx_ch])
        c = Contract(
            code="K",
            contractor="x",
            starts_on=dt.date(2023, 1, 1),
            station_id=st.id,
            price_eur_per_mwh_pci=90,
        )
        s.add(c)
        s.flush()
        s.add(
            ContractBuilding(
                contract_id=c.id, building_id=s.query(Building).one().id, channel_id=site["GAZ"],
                nb_mwh_pci=100.0, dju_ref=2500.0, reference_year=2023, reference_kwh=150_000.0,
            )
        )  # fmt: skip
        s.flush()
        tn_id, tx_id = tn_ch.id, tx_ch.id
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    i = np.arange(len(days))
    tn = 2.0 + 10 * np.sin(i / 58.0) ** 2
    tx = tn + 6.0
    kwh = np.where(days.year == 2023, 200.0, 170.0)
    stamps = local_midnight_epoch(days)
    write_readings(
        engine,
        pd.concat(
            [
                pd.DataFrame({"channel_id": tn_id, "ts": stamps, "value": tn}),
                pd.DataFrame({"channel_id": tx_id, "ts": stamps, "value": tx}),
                pd.DataFrame(
                    {
                        "channel_id": site["GAZ"],
                        "ts": local_midnight_epoch(list(days) + [days[-1] + pd.Timedelta(days=1)]),
                        "value": np.concatenate([[0.0], np.cumsum(kwh / 10.0)]),
                    }
                ),
            ]
        ),
    )
    terms = ContractTerms.from_record(contract_terms(engine, "K"))
    bt, first, last = tertiaire_building(terms, "B")
    roll = rollups(engine, [bt.channel_id], first, last)
    temps = station_temperatures(engine, bt.station_id, first, last)
    out = tertiaire_frame(terms, "B", roll, temps).set_index("year")
    dju = pd.Series(dju_costic(tn, tx, 18.0), index=days).groupby(days.year).sum()
    assert out.loc[2024, "actual_kwh"] == pytest.approx(kwh[days.year == 2024].sum())
    assert out.loc[2024, "dju"] == pytest.approx(dju[2024])
    assert out.loc[2024, "adjusted_kwh"] == pytest.approx(
        kwh[days.year == 2024].sum() * dju[2023] / dju[2024]
    )
    assert out.loc[2024, "target_kwh"] == pytest.approx(150_000.0 * (1 - 0.40 / 7))
    assert np.isnan(out.loc[2025, "actual_kwh"])  # no data that year
    assert out.loc[2050, "target_kwh"] == pytest.approx(150_000.0 * 0.40)
