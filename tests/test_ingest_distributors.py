"""Enedis load curve and daily index, GRDF daily export (CSV and XLSX): golden files whose
expected readings are computed here by hand from the formulas of the modules' docstrings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import text

from carnet.kinds import Quality
from carnet.quarantine import declare_replacement, list_held
from ingest.formats.enedis import infer_steps
from ingest.importer import import_file
from ingest.plausibility import recheck_held
from tests.helpers.ingest_support import (
    SAMPLES,
    count,
    daily,
    load_samples,
    readings,
    rejected,
    utc,
)


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def test_enedis_load_curve_unsorted_step_change_and_october_dst(town):
    report = import_file(town, SAMPLES / "enedis_courbe_de_charge.csv")
    assert report.format == "enedis-load-curve"
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (10, 10, 0)
    # (end stamp, mean power W, step s): W * step / 3600 Wh, / 1000 -> kWh at end - step
    points = [
        ("2024-10-27T01:00:00+02:00", 2000, 1800),
        ("2024-10-27T01:30:00+02:00", 1800, 1800),
        ("2024-10-27T02:00:00+02:00", 1600, 1800),
        ("2024-10-27T02:30:00+02:00", 1400, 1800),
        ("2024-10-27T02:00:00+01:00", 1200, 1800),  # the repeated 02:00, one hour later
        ("2024-10-27T02:30:00+01:00", 1000, 1800),
        ("2024-10-27T03:00:00+01:00", None, 1800),  # empty: a gap
        ("2024-10-27T03:10:00+01:00", 600, 600),  # the step becomes 10 min
        ("2024-10-27T03:20:00+01:00", 900, 600),
        ("2024-10-27T03:30:00+01:00", 1200, 600),
    ]
    got = readings(town, "MAIRIE-ELEC").set_index("ts")
    assert len(got) == len(points)
    for end, watts, step in points:
        row = got.loc[utc(end) - step]
        if watts is None:
            assert np.isnan(row["value"]) and row["quality"] == Quality.GAP
        else:
            assert row["value"] == pytest.approx(watts * step / 3600 / 1000)
    day = daily(town, "MAIRIE-ELEC")
    # every interval starts on local day 27/10 (the first at 00:30), the 25-hour day
    expected = sum(w * s / 3600 / 1000 for e, w, s in points if w is not None)
    assert day.loc[dt.date(2024, 10, 27), "value"] == pytest.approx(expected)
    assert list(day.index) == [dt.date(2024, 10, 27)]


def test_infer_steps_keeps_a_hole_from_stretching_the_next_interval():
    half = 1800
    ends = np.array([0, 1, 2, 4, 5]) * half  # a missing point before the 4th
    steps = infer_steps(ends, np.full(5, np.nan), np.full(5, np.nan))
    assert steps.tolist() == [half] * 5


def test_enedis_unknown_prm_is_named(town, tmp_path):
    text_ = (
        (SAMPLES / "enedis_courbe_de_charge.csv")
        .read_text()
        .replace("30001234567890", "09999999999999")
    )
    path = tmp_path / "courbe.csv"
    path.write_text(text_)
    report = import_file(town, path)
    assert report.rows_rejected == 10 and report.rows_inserted == 0
    assert all("PRM 09999999999999 inconnu" in r["reason"] for r in report.rejected)
    assert report.exit_status == 1


def test_enedis_daily_index_meter_replacement(town):
    """The file does not say the meter was changed: the drop waits in quarantine until a
    person declares the replacement (never guessed from the size of the drop)."""
    report = import_file(town, SAMPLES / "enedis_index_quotidien.csv")
    assert report.format == "enedis-daily-index"
    assert (report.rows_inserted, report.rows_quarantined) == (3, 2)
    assert report.exit_status == 1 and report.meter_changes == []
    assert count(town, "index_reset") == 0 and count(town, "logbook_entry") == 0
    held = list_held(town).sort_values("ts")
    assert held["value"].tolist() == pytest.approx([21.0, 75.0])
    assert set(held["reason_code"]) == {"drop"}
    first = int(held["id"].iloc[0])
    declare_replacement(
        town,
        first,
        actor="gestionnaire",
        old_final_value=12450.0,
        new_start_value=0.0,
        why="compteur Linky posé le 04/03",
    )
    recheck_held(
        town,
        int(held["channel_id"].iloc[0]),
        actor="gestionnaire",
        after_ts=int(held["ts"].iloc[0]),
        decision_id=first,
    )
    assert list_held(town).empty
    got = readings(town, "MAIRIE-ELEC-IDX")
    # EAS T in Wh -> kWh
    assert got["value"].tolist() == pytest.approx([12345.678, 12401.678, 12450.0, 21.0, 75.0])
    assert got["quality"].tolist() == [0, 0, Quality.ESTIMATED, Quality.RESET, 0]
    with town.connect() as conn:
        reset = conn.execute(
            text("SELECT ts, old_final_value, new_start_value, logbook_entry_id FROM index_reset")
        ).one()
        entry = conn.execute(
            text("SELECT kind, text FROM logbook_entry WHERE id = :i"), {"i": reset[3]}
        ).one()
    assert reset[0] == utc("2024-03-04T00:00:00+01:00")
    assert (reset[1], reset[2]) == (12450.0, 0.0)  # old closes at its last index, new from 0
    assert entry[0] == "meter_change" and "12" in entry[1]
    day = daily(town, "MAIRIE-ELEC-IDX")
    assert day.loc[dt.date(2024, 3, 1), "value"] == pytest.approx(12401.678 - 12345.678)
    assert day.loc[dt.date(2024, 3, 2), "value"] == pytest.approx(12450.0 - 12401.678)
    # across the replacement: (old final - previous) + (current - new start)
    assert day.loc[dt.date(2024, 3, 3), "value"] == pytest.approx((12450 - 12450) + (21 - 0))
    assert day.loc[dt.date(2024, 3, 4), "value"] == pytest.approx(75 - 21)
    assert (day["value"] >= 0).all()
    # importing again records no second replacement and changes nothing
    again = import_file(town, SAMPLES / "enedis_index_quotidien.csv")
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 5)
    assert again.rows_quarantined == 0 and again.exit_status == 0
    assert again.meter_changes == [] and count(town, "index_reset") == 1
    assert count(town, "logbook_entry") == 1


def test_grdf_csv_index_coefficients_estimate_and_replacement(town):
    report = import_file(town, SAMPLES / "grdf_quotidien.csv")
    assert report.format == "grdf-daily"
    got = readings(town, "MAIRIE-GAZ")
    local = lambda d: utc(f"{d}T00:00:00+02:00")  # noqa: E731 (all days are in CEST)
    expected = [
        (local("2024-09-29"), 12300, 0),  # start index of the first day
        (local("2024-09-30"), 12312, 0),
        (local("2024-10-01"), 12325, 0),
        (local("2024-10-02"), 12340, Quality.ESTIMATED),  # end of the estimated day
        (local("2024-10-03"), 12356, 0),
        (local("2024-10-04"), 21, Quality.RESET),  # first index of the new meter
        (local("2024-10-05"), 38, 0),
    ]
    assert got["ts"].tolist()[:7] == [e[0] for e in expected]
    assert got["value"].tolist()[:7] == [e[1] for e in expected]
    assert got["quality"].tolist()[:7] == [e[2] for e in expected]
    last = got.iloc[7]
    assert last["ts"] == local("2024-10-06") and last["quality"] == Quality.GAP
    with town.connect() as conn:
        reset = conn.execute(text("SELECT old_final_value, new_start_value FROM index_reset")).one()
        factors = conn.execute(
            text("SELECT valid_from, kwh_per_unit FROM conversion_factor ORDER BY valid_from")
        ).all()
    assert tuple(reset) == (12356.0, 5.0)  # closes at the previous end, opens at the start
    assert [(str(d)[:10], k) for d, k in factors] == [("2024-09-29", 11.25), ("2024-10-01", 11.2)]
    day = daily(town, "MAIRIE-GAZ")
    m3 = {
        dt.date(2024, 9, 29): (12312 - 12300, 11.25),
        dt.date(2024, 9, 30): (12325 - 12312, 11.25),
        dt.date(2024, 10, 1): (12340 - 12325, 11.2),
        dt.date(2024, 10, 2): (12356 - 12340, 11.2),
        dt.date(2024, 10, 3): ((12356 - 12356) + (21 - 5), 11.2),
        dt.date(2024, 10, 4): (38 - 21, 11.2),
    }
    for d, (vol, k) in m3.items():
        assert day.loc[d, "value"] == pytest.approx(vol)
        assert day.loc[d, "energy_kwh"] == pytest.approx(vol * k)
    assert bool(day.loc[dt.date(2024, 10, 1), "estimated"])
    assert "changement de compteur sur MAIRIE-GAZ" in report.message


def test_grdf_xlsx_to_interval_channel_and_measured_replaces_estimate(town, tmp_path):
    report = import_file(town, SAMPLES / "grdf_quotidien.xlsx")
    assert report.format == "grdf-daily"
    assert report.rows_inserted == 3
    got = readings(town, "JAURES-GAZ-J")
    # volumes at local midnight: 30/03 (CET), 31/03 (CET, the 23-hour day), 01/04 (CEST)
    assert got["ts"].tolist() == [
        utc("2024-03-30T00:00:00+01:00"),
        utc("2024-03-31T00:00:00+01:00"),
        utc("2024-04-01T00:00:00+02:00"),
    ]
    assert got["value"].tolist() == pytest.approx([20.6, 19.2, 16.4])
    assert got["quality"].tolist() == [0, Quality.ESTIMATED, 0]
    day = daily(town, "JAURES-GAZ-J")
    assert day.loc[dt.date(2024, 3, 31), "energy_kwh"] == pytest.approx(19.2 * 11.25)
    assert day.loc[dt.date(2024, 4, 1), "energy_kwh"] == pytest.approx(16.4 * 11.2)
    measured = tmp_path / "grdf_corrige.csv"
    measured.write_text(
        "PCE;GI000456\nDate;Index de début;Index de fin;Volume (m3);Énergie (kWh);Coefficient;"
        "Type de relevé\n31/03/2024;4521;4540;19,4;218,3;11,25;Mesuré\n",
        encoding="utf-8",
    )
    fix = import_file(town, measured)
    assert (fix.rows_updated, fix.rows_inserted) == (1, 0)
    assert readings(town, "JAURES-GAZ-J")["value"].tolist()[1] == pytest.approx(19.4)
    back = import_file(town, SAMPLES / "grdf_quotidien.xlsx")  # the estimate again
    assert back.rows_updated == 0 and back.rows_unchanged == 3
    row = readings(town, "JAURES-GAZ-J").iloc[1]
    assert row["value"] == pytest.approx(19.4) and row["quality"] == Quality.MEASURED


def test_grdf_unknown_pce_is_named(town, tmp_path):
    path = tmp_path / "autre.csv"
    path.write_text(
        "Numéro de PCE;GI999999\nDate de relevé;Volume (m3);Énergie (kWh);Coefficient\n"
        "01/10/2024;12,0;134,4;11,2\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert report.rows_rejected == 1
    assert "PCE GI999999 inconnu" in rejected(town, report.batch_id)["reason"].iloc[0]


def test_grdf_without_index_columns_does_not_feed_an_index_channel(town, tmp_path):
    path = tmp_path / "volumes.csv"
    path.write_text(
        "PCE;GI000123\nDate;Volume (m3);Énergie (kWh);Coefficient\n01/10/2024;12,0;134,4;11,2\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert (report.rows_inserted, report.rows_rejected) == (0, 1)
    assert "index de fin" in report.rejected[0]["reason"]
    assert readings(town, "MAIRIE-GAZ").empty  # no gap written for a column that is absent
