"""The works programme on the demo town: its simulated works are works projects whose measured
savings (IPMVP option C, monthly model on the year before) match the effect planted in the
simulation within the model's uncertainty; the payback computed by hand; overlapping works
said so, with nothing attributed; the CLI's contract (`carnet works add|list --json`).

The demo is built once for the module, on its own database."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from carnet import db as carnet_db
from carnet.access import Actor
from carnet.db import session_scope
from carnet.models import Contract, WorksProject, WorksSubsidy
from carnet.roles import MANAGER
from carnet.works import works_rows
from carnet_cli.main import main
from contract.tertiaire import tertiaire_trajectory
from contract.works_savings import WorksPlan, payback_years, tertiaire_steps, works_windows
from dashboards.programme_travaux_data import measured_rows
from tests.helpers.demo_copy import demo_copy, demo_summary

TODAY = dt.date(2026, 11, 25)
MANAGER_ACTOR = Actor("gestionnaire", MANAGER)
# the works whose building has no other change of use in the simulation (no weekend heating,
# no lost setback, no boiler fault, no school holidays in the measure)
CLEAN = ("MAIRIE", "CENTRE-SOCIAL", "CTM", "MEDIATHEQUE", "SALLE-POLY")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_copy(tmp_path_factory.mktemp("wdemo"), "carnet_wdemo", today=TODAY) as url:
        engine = carnet_db.make_engine(url)
        yield engine, demo_summary(today=TODAY), url
        engine.dispose()


def _measured(engine, building=None) -> dict[str, list[dict]]:
    with session_scope(engine) as s:
        rows = works_rows(s, MANAGER_ACTOR, building)
    out: dict[str, list[dict]] = {}
    for row in measured_rows(engine, rows, today=TODAY):
        out.setdefault(row["building"], []).append(row)
    return out


def _cli(monkeypatch, url, *args) -> tuple[int, str, str]:
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    carnet_db.reset_engines()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exit_:
            status = exit_.code
    carnet_db.reset_engines()
    return status, out.getvalue(), err.getvalue()


def test_the_demo_works_are_projects_whose_measured_savings_match_the_planted_effect(demo):
    engine, summary, _url = demo
    assert summary["works"] == 9
    works = _measured(engine)
    assert sum(len(v) for v in works.values()) == 9
    for code in CLEAN:
        (row,) = works[code]
        m, planted = row["measure"], row["plan"]["expected_mwh_per_year"]
        assert m.status == "measured", (code, m.note)
        assert m.accepted and m.fsu_ok, (code, m.cvrmse, m.nmbe, m.fsu)
        assert planted > 0
        # the planted effect lies within the measure's uncertainty (FSU, 90 %)
        assert abs(m.measured_mwh_per_year - planted) <= m.fsu * m.measured_mwh_per_year, code
    for rows in works.values():
        for row in rows:
            assert row["measure"].measured_mwh_per_year > 0, row["building"]
            assert row["measure"].baseline[1] == row["starts_on"] - dt.timedelta(days=1)


def test_the_payback_by_hand_and_the_cli_contract(demo, monkeypatch):
    engine, _summary, url = demo
    # EC-ELEM-FERRY's simulated change of 01/10/2024 has no works project in the demo
    status, out, err = _cli(
        monkeypatch, url, "works", "add", "--building", "EC-ELEM-FERRY",
        "--title", "Isolation des combles", "--from", "2024-09-16", "--to", "30/09/2024",
        "--cost-eur", "30 000", "--expected-mwh", "20", "--source", "audit énergétique 2023",
        "--subsidy-eur", "6000,50", "--subsidy-scheme", "CEE", "--json",
    )  # fmt: skip
    assert status == 0, err
    works_id = json.loads(out)["id"]
    with session_scope(engine) as s:
        w = s.get(WorksProject, works_id)
        assert (w.cost_cents, w.expected_mwh_per_year) == (3_000_000, 20.0)
        assert [(x.scheme, x.amount_cents) for x in s.scalars(select(WorksSubsidy))
                if x.works_id == works_id] == [("CEE", 600_050)]  # fmt: skip
        price = float(s.scalar(select(Contract.price_eur_per_mwh_pci)))

    status, out, err = _cli(monkeypatch, url, "works", "list", "--building", "EC-ELEM-FERRY",
                            "--json")  # fmt: skip
    assert status == 0, err
    (listed,) = json.loads(out)
    (row,) = _measured(engine, "EC-ELEM-FERRY")["EC-ELEM-FERRY"]
    m = row["measure"]
    assert m.status == "measured"
    # by hand: what the town paid (30 000 € - 6 000,50 € of CEE) over a year's saving in euros
    by_hand = (30_000 - 6_000.50) / (m.measured_mwh_per_year * price)
    assert m.payback_years == pytest.approx(by_hand, rel=1e-12)
    assert listed["payback_years"] == round(by_hand, 1)
    assert listed["expected_savings_mwh"] == 20.0
    assert listed["measured_savings_mwh"] == round(m.measured_mwh_per_year, 1)
    assert listed["net_cost_eur"] == 23_999.5
    # the annual saving is the measured fraction of the baseline year's modelled consumption
    assert m.measured_mwh_per_year == pytest.approx(
        m.savings_pct / 100 * _baseline_year_mwh(engine, m), rel=1e-9
    )
    # cumulative euros: each month's MWh PCI at the contract's price
    monthly = m.monthly
    assert m.savings_eur == pytest.approx(float((monthly["savings_mwh_pci"] * price).sum()))
    assert listed["baseline"] == ["2023-09-16", "2024-09-15"]
    assert listed["reporting"][0] == "2024-10-01"
    assert set(listed) >= {"expected_savings_mwh", "measured_savings_mwh", "payback_years",
                           "fsu_pct", "cvrmse_pct", "guideline14_ok", "status", "overlaps"}  # fmt: skip


def _baseline_year_mwh(engine, m) -> float:
    """The baseline year's consumption as the fitted model predicts it, MWh PCI per 365 days."""
    from carnet.frames import baseline_frames
    from contract.reports import fit_baseline

    frames = baseline_frames(engine, "EC-ELEM-FERRY-GAZ", "LILLE-LESQUIN", m.baseline, m.reporting)
    report = fit_baseline(frames, freq="monthly")
    base = report.daily[report.daily["segment"] == "baseline"]["predicted_kwh"]
    return float(base.sum()) * 365 / int(base.notna().sum()) / 1000 / 1.11


def test_overlapping_works_are_said_so_and_nothing_is_attributed(demo, monkeypatch):
    engine, _summary, url = demo
    status, out, err = _cli(
        monkeypatch, url, "works", "add", "--building", "MAIRIE", "--title", "Menuiseries",
        "--from", "2024-06-01", "--to", "2024-07-15", "--cost-eur", "80000", "--json",
    )  # fmt: skip
    assert status == 0, err
    new_id = json.loads(out)["id"]
    rows = _measured(engine, "MAIRIE")["MAIRIE"]
    assert len(rows) == 2
    by_id = {r["id"]: r["measure"] for r in rows}
    (old_id,) = set(by_id) - {new_id}
    # the new work sits in the old one's baseline year: the old one cannot be measured apart
    old, new = by_id[old_id], by_id[new_id]
    assert old.status == "overlap" and old.overlaps == (new_id,)
    assert f"n° {new_id}" in old.note and "non attribuées" in old.note
    assert old.measured_mwh_per_year is None and old.payback_years is None
    # the new one is measured until the old one starts, and says so
    assert new.overlaps == () and new.reporting == (dt.date(2024, 7, 16), dt.date(2024, 9, 22))
    assert "mesure arrêtée au 22/09/2024" in new.note
    status, out, _err = _cli(monkeypatch, url, "works", "list", "--building", "MAIRIE", "--json")
    listed = {o["id"]: o for o in json.loads(out)}
    assert listed[old_id]["status"] == "overlap" and listed[old_id]["overlaps"] == [new_id]
    assert listed[old_id]["measured_savings_mwh"] is None


def test_a_later_work_ends_the_reporting_period_and_the_note_says_so():
    def plan(i, start, end):
        return WorksPlan(i, "B", f"n{i}", start, end, 1000.0, None, "C", "S", 90.0)

    first = plan(1, dt.date(2024, 9, 1), dt.date(2024, 9, 10))
    later = plan(2, dt.date(2025, 6, 1), None)
    baseline, reporting, overlaps, note = works_windows(first, [first, later], dt.date(2026, 1, 1))
    assert baseline == (dt.date(2023, 9, 1), dt.date(2024, 8, 31))
    assert reporting == (dt.date(2024, 9, 11), dt.date(2025, 5, 31))
    assert overlaps == () and "31/05/2025" in note
    # the later one's baseline year holds the first: overlapping; a year later it would not
    assert works_windows(later, [first, later], dt.date(2026, 1, 1))[2] == (1,)
    after = plan(3, dt.date(2025, 10, 1), None)
    assert works_windows(after, [first, after], dt.date(2026, 1, 1))[2] == ()
    assert payback_years(25_000, 20.0, 90.0) == pytest.approx(25_000 / 1_800)
    assert payback_years(25_000, -3.0, 90.0) is None


def test_the_tertiaire_trajectory_shows_each_work_as_a_step():
    actual = pd.Series({2023: 200_000.0, 2024: 190_000.0})
    frame = tertiaire_trajectory(2023, 200_000.0, actual, None, until=2030)
    steps = tertiaire_steps(frame, [(2024, 20_000.0), (2026, 10_000.0)]).set_index("year")
    assert np.isnan(steps.loc[2023, "with_works_kwh"])
    # from the last known year before the first work: 2024's 190 000 kWh, a step each year after
    assert steps.loc[[2024, 2025, 2026, 2027, 2030], "with_works_kwh"].tolist() == [
        190_000.0, 170_000.0, 170_000.0, 160_000.0, 160_000.0]  # fmt: skip
    assert tertiaire_steps(frame, [])["with_works_kwh"].isna().all()
