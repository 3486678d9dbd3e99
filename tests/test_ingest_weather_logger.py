"""Weather files (daily Tn/Tx at local midnight, hourly) and boiler-room data-logger exports."""

from __future__ import annotations

import numpy as np
import pytest

from carnet.kinds import Quality
from ingest.importer import import_file
from tests.helpers.ingest_support import SAMPLES, load_samples, readings, utc


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def test_weather_daily_stamped_at_local_midnight(town):
    report = import_file(town, SAMPLES / "meteo_quotidien.csv")
    assert report.format == "weather-daily"
    # 5 lines x (tn, tx); the 30/02 line is rejected whole
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (10, 8, 2)
    tn = readings(town, "LESQUIN-TN").set_index("ts")
    tx = readings(town, "LESQUIN-TX").set_index("ts")
    assert tn.loc[utc("2024-10-26T00:00:00+02:00"), "value"] == pytest.approx(8.4)
    assert tn.loc[utc("2024-10-27T00:00:00+02:00"), "value"] == pytest.approx(6.2)
    assert tn.loc[utc("2024-10-28T00:00:00+01:00"), "value"] == pytest.approx(5.1)
    assert tn.loc[utc("2024-03-31T00:00:00+01:00"), "value"] == pytest.approx(3.0)
    missing = tx.loc[utc("2024-10-28T00:00:00+01:00")]
    assert np.isnan(missing["value"]) and missing["quality"] == Quality.GAP
    assert "30/02/2024" in report.rejected[0]["reason"]


def test_weather_hourly_naive_local_time(town):
    report = import_file(town, SAMPLES / "meteo_horaire.csv")
    assert report.format == "weather-hourly"
    t = readings(town, "LESQUIN-T").set_index("ts")["value"]
    assert t[utc("2024-10-26T23:00:00Z")] == pytest.approx(9.8)  # 01:00 CEST
    assert t[utc("2024-10-27T00:00:00Z")] == pytest.approx(9.5)  # first 02:00: CEST
    assert t[utc("2024-10-27T01:00:00Z")] == pytest.approx(9.3)  # second 02:00: CET
    assert t[utc("2024-10-27T02:00:00Z")] == pytest.approx(9.0)
    assert t[utc("2024-03-31T00:00:00Z")] == pytest.approx(4.0)
    assert t[utc("2024-03-31T01:00:00Z")] == pytest.approx(4.2)  # 03:00 CEST
    assert report.rows_rejected == 1 and report.rejected[0]["line_no"] == 8


def test_meteo_france_hourly_is_utc(town, tmp_path):
    path = tmp_path / "H_59.csv"
    path.write_text("NUM_POSTE;NOM_USUEL;AAAAMMJJHH;T\n59343001;LILLE-LESQUIN;2024102701;9,1\n")
    report = import_file(town, path)
    assert report.format == "weather-hourly" and report.rows_inserted == 1
    assert readings(town, "LESQUIN-T")["ts"].tolist() == [utc("2024-10-27T01:00:00Z")]


def test_unknown_station_is_named(town, tmp_path):
    path = tmp_path / "tn.csv"
    path.write_text("station;date;tn;tx\nBREST;01/12/2024;4,0;9,0\n")
    report = import_file(town, path)
    assert report.rows_rejected == 2
    assert "BREST" in report.rejected[0]["reason"]


def test_logger_mapped_by_portfolio(town):
    report = import_file(town, SAMPLES / "enregistreur_chaufferie.csv")
    assert report.format == "logger"
    # 4 lines x 3 mapped columns (the comment column is not mapped)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (12, 11, 1)
    flow = readings(town, "JAURES-DEPART-T")
    assert flow["ts"].tolist() == [
        utc("2024-12-01T06:00:00+01:00"),
        utc("2024-12-01T07:00:00+01:00"),
        utc("2024-12-01T09:00:00+01:00"),
    ]
    assert flow["value"].tolist() == pytest.approx([62.5, 68.0, 66.0])
    ret = readings(town, "JAURES-RETOUR-T")
    assert ret["quality"].tolist() == [0, 0, 0, Quality.GAP]
    hours = readings(town, "JAURES-BRULEUR-H")["value"].tolist()
    assert hours == pytest.approx([1520.0, 1520.8, 1521.6, 1522.3])
    assert report.rejected[0]["line_no"] == 6 and "---" in report.rejected[0]["reason"]
