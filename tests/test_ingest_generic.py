"""Generic long and wide files, machine and French variants, both DST changes."""

from __future__ import annotations

import numpy as np
import pytest

from carnet.kinds import Quality
from ingest.importer import import_file
from tests.helpers.ingest_support import SAMPLES, load_samples, readings, rejected, utc


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def test_generic_long_iso_offsets_both_dst_changes(town):
    report = import_file(town, SAMPLES / "generic_long.csv")
    assert report.format == "generic-long"
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (12, 9, 3)
    assert report.exit_status == 1
    t = readings(town, "MAIRIE-CONSEIL-T")
    expected = {
        utc("2024-10-27T00:00:00+02:00"): 19.5,
        utc("2024-10-27T02:00:00+02:00"): 19.0,  # 00:00Z, first 02:00
        utc("2024-10-27T02:00:00+01:00"): 18.5,  # 01:00Z, second 02:00
        utc("2024-10-27T03:00:00+01:00"): 18.0,
        utc("2024-03-31T01:00:00+01:00"): 17.0,
        utc("2024-03-31T03:00:00+02:00"): 17.5,  # one hour after 01:00+01:00
    }
    got = dict(zip(t["ts"], t["value"], strict=True))
    for ts, value in expected.items():
        assert got[ts] == pytest.approx(value)
    assert utc("2024-10-27T02:00:00+01:00") - utc("2024-10-27T02:00:00+02:00") == 3600
    gap = t[t["ts"] == utc("2024-10-27T04:00:00+00:00")].iloc[0]
    assert np.isnan(gap["value"]) and gap["quality"] == Quality.GAP  # empty is a gap, not 0
    gas = readings(town, "MAIRIE-GAZ")
    assert gas["quality"].tolist() == [Quality.MEASURED, Quality.ESTIMATED]
    rej = rejected(town, report.batch_id)
    assert rej["line_no"].tolist() == [11, 12, 13]
    assert "INCONNU-T" in rej["reason"].iloc[0]
    assert rej["raw"].iloc[2] == "MAIRIE-CONSEIL-T,2024-10-27T06:00:00Z,abc,"


def test_french_variant_repeated_hour_by_order_and_missing_hour_rejected(town):
    report = import_file(town, SAMPLES / "generic_long_fr.csv")
    assert report.format == "generic-long"
    assert (report.rows_read, report.rows_rejected) == (11, 1)
    t = readings(town, "MAIRIE-CONSEIL-T").set_index("ts")["value"]
    # first 02:00/02:30 are summer time (UTC+2), the second ones winter time (UTC+1)
    assert t[utc("2024-10-27T00:00:00Z")] == pytest.approx(19.0)
    assert t[utc("2024-10-27T00:30:00Z")] == pytest.approx(18.8)
    assert t[utc("2024-10-27T01:00:00Z")] == pytest.approx(18.6)
    assert t[utc("2024-10-27T01:30:00Z")] == pytest.approx(18.4)
    assert t[utc("2024-10-27T02:00:00Z")] == pytest.approx(18.2)  # 03:00 CET
    assert t[utc("2024-03-31T00:30:00Z")] == pytest.approx(16.0)  # 01:30 CET
    assert t[utc("2024-03-31T01:00:00Z")] == pytest.approx(16.2)  # 03:00 CEST
    assert np.isnan(t[utc("2024-03-31T02:00:00Z")])
    rej = rejected(town, report.batch_id)
    assert rej["line_no"].tolist() == [9]
    assert "heure inexistante" in rej["reason"].iloc[0]
    gas = readings(town, "MAIRIE-GAZ").iloc[0]
    assert gas["value"] == pytest.approx(12041.5)  # "12 041,5": blank thousands, comma
    assert gas["quality"] == Quality.ESTIMATED


def test_offset_column_decides_the_repeated_hour(town, tmp_path):
    path = tmp_path / "offsets.csv"
    path.write_text(
        "point;horodate;valeur;decalage\n"
        "MAIRIE-CONSEIL-T;27/10/2024 02:15;18,0;+01:00\n"
        "MAIRIE-CONSEIL-T;27/10/2024 02:15;19,0;+02:00\n"
        "MAIRIE-CONSEIL-T;27/10/2024 04:15;17,0;+02:00\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    t = readings(town, "MAIRIE-CONSEIL-T").set_index("ts")["value"]
    assert t[utc("2024-10-27T01:15:00Z")] == 18.0  # winter, although it comes first
    assert t[utc("2024-10-27T00:15:00Z")] == 19.0
    assert report.rows_rejected == 1  # 04:15 is never UTC+2 on that day
    assert "incohérent" in report.rejected[0]["reason"]


def test_generic_wide(town):
    report = import_file(town, SAMPLES / "generic_wide.csv")
    assert report.format == "generic-wide"
    # 3 lines x 3 channel columns; one unreadable cell
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (9, 8, 1)
    flow = readings(town, "JAURES-DEPART-T")
    assert flow["ts"].tolist() == [
        utc("2024-12-01T08:00:00+01:00"),
        utc("2024-12-01T09:00:00+01:00"),
        utc("2024-12-01T10:00:00+01:00"),
    ]
    assert flow["quality"].tolist() == [0, Quality.GAP, 0]
    assert report.rejected[0]["line_no"] == 4
    assert "JAURES-RETOUR-T" in report.rejected[0]["reason"]


def test_cp1252_and_no_bom(town, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(
        "point;horodate;valeur;qualité\nMAIRIE-CONSEIL-T;01/12/2024 08:00;19,5;estimé\n".encode(
            "cp1252"
        )
    )
    report = import_file(town, path)
    assert report.rows_inserted == 1
    assert readings(town, "MAIRIE-CONSEIL-T")["quality"].tolist() == [Quality.ESTIMATED]
