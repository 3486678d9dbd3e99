"""The Économies page: its numbers are `carnet settle`'s, its scope and rights are enforced on
the server, and a manager can open a building's four figures in a real browser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from carnet.db import get_engine, session_scope
from carnet.frames import baseline_frames
from carnet.models import Adjustment, LogbookEntry
from contract import fit_baseline
from dashboards.app import create_app
from dashboards.fmt import fr_eur, fr_number
from dashboards.savings_data import building_detail, savings_portfolio, seasons_on
from tests.helpers.browser import password_of, seed_users, sign_in, wait_for
from tests.helpers.cli import settle_json
from tests.helpers.savings_client import SEASON, adjustment_values, detail_values
from tests.helpers.savings_town import CONTRACT, OTHER, STATION, build_town
from tests.helpers.web_client import post_callback, signed_in_client

AS_OF = dt.date(2026, 6, 30)  # after the season: the whole season is settled


def test_page_numbers_are_those_of_carnet_settle(engine):
    build_town(engine)
    # the seasons with data and the current one, latest first; the current one is shown
    # first (issue 15), the last one ended between two seasons
    assert seasons_on(engine, CONTRACT, dt.date(2026, 7, 15)) == (
        ["2025-2026", "2024-2025"],
        SEASON,
    )
    assert seasons_on(engine, CONTRACT, dt.date(2026, 12, 1)) == (
        ["2026-2027", "2025-2026", "2024-2025"],
        "2026-2027",
    )
    with session_scope(engine) as s:  # an adjustment changes the target of a part of the season
        from carnet.adjustments import add_adjustment

        add_adjustment(
            s, CONTRACT, "ECOLE-A", dt.date(2026, 2, 1), "area_added",
            "Extension de 120 m² livrée", "gestionnaire", nb_factor=1.1,
        )  # fmt: skip

    page = savings_portfolio(engine, CONTRACT, SEASON, as_of=AS_OF)
    cli = settle_json("--contract", CONTRACT, "--season", SEASON, "--as-of", "30/06/2026")
    assert page.report.period_to.isoformat() == cli["period"]["to"] == "2026-05-20"
    rows = {r["building_code"]: r for r in page.buildings.to_dict("records")}
    assert sorted(rows) == sorted(b["building_code"] for b in cli["buildings"])
    for expected in cli["buildings"]:
        got = rows[expected["building_code"]]
        for key in ("actual_mwh_pci", "target_mwh_pci", "gap_mwh", "gap_pct", "dju"):
            assert got[key] == pytest.approx(expected[key], abs=1e-4), key
        assert f"{got['bonus_eur']:.2f}" == expected["bonus_eur"]
        assert f"{got['penalty_eur']:.2f}" == expected["penalty_eur"]
        assert int(got["days_missing"]) == expected["days_missing"]
        assert list(got["alerts"]) == expected["alerts"]
    assert page.total["actual_mwh_pci"] == pytest.approx(cli["total"]["actual_mwh_pci"], abs=1e-4)
    assert f"{page.total['bonus_eur']:.2f}" == cli["total"]["bonus_eur"]
    assert f"{page.total['penalty_eur']:.2f}" == cli["total"]["penalty_eur"]
    # the town was built so that the clause pays one building and charges the other
    assert Decimal(cli["buildings"][0]["bonus_eur"]) > 0  # ECOLE-A
    assert Decimal(cli["buildings"][1]["penalty_eur"]) > 0  # SALLE-B
    assert "nb_adjusted" in rows["ECOLE-A"]["alerts"]

    # the building's monthly bars are the CLI's months
    detail = building_detail(engine, CONTRACT, SEASON, "ECOLE-A", as_of=AS_OF)
    cli_months = [m for m in cli["months"] if m["building_code"] == "ECOLE-A"]
    assert detail.months["month"].tolist() == [m["month"] for m in cli_months]
    for got, expected in zip(detail.months.to_dict("records"), cli_months, strict=True):
        assert got["actual_mwh_pci"] == pytest.approx(expected["actual_mwh_pci"], abs=1e-4)
        assert got["target_mwh_pci"] == pytest.approx(expected["target_mwh_pci"], abs=1e-4)
    assert [a["justification"] for a in detail.adjustments] == ["Extension de 120 m² livrée"]

    # model quality (fitted for all buildings at once) is the single-building fit of the detail:
    # 12 months before the contract (01/07/2024-30/06/2025) against the settled season
    assert page.periods.baseline == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    period = page.periods
    single = fit_baseline(
        baseline_frames(engine, "ECOLE-A-GAZ", STATION, period.baseline, period.reporting),
        "monthly",
    )
    quality = page.quality["ECOLE-A"]
    assert quality.r2 == pytest.approx(single.model.r2, rel=1e-12)
    assert quality.cvrmse == pytest.approx(single.model.cvrmse, rel=1e-12)
    assert detail.baseline.model.r2 == pytest.approx(single.model.r2, rel=1e-12)
    # 12 % less than the weather-adjusted baseline, as generated (hourly setback law, no noise)
    assert single.savings.savings_pct == pytest.approx(12.0, abs=1.5)
    # the figure frames cover the reporting season day by day and hour by hour
    n_days = (page.periods.reporting[1] - page.periods.reporting[0]).days + 1
    assert detail.carpet.shape == (n_days, 24)
    assert len(detail.cusum) == n_days
    carpet_kwh = float(detail.carpet.sum().sum())
    assert carpet_kwh == pytest.approx(single.savings.observed_kwh, rel=1e-6)

    # 2024-2025 predates the contract: its reference would be 01/10/2023-30/09/2024, when only
    # three months were measured, so no model is shown, and the page says why
    early = building_detail(engine, CONTRACT, "2024-2025", "ECOLE-A", as_of=AS_OF)
    assert early.baseline is None and early.signature is None and early.cusum is None
    assert early.model_note.startswith("données insuffisantes")
    early_page = savings_portfolio(engine, CONTRACT, "2024-2025", as_of=AS_OF)
    assert early_page.periods.baseline == (dt.date(2023, 10, 1), dt.date(2024, 9, 30))
    assert not early_page.quality["ECOLE-A"].sufficient


# --- over HTTP: scope and rights (Flask test client, raw Dash callback requests) -------------


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    build_town(engine)
    seed_users(engine)  # the contractor is bound to TEST-CONTRAT
    return create_app(db_url)


def adjustments_count(db_url) -> int:
    with session_scope(get_engine(db_url)) as s:
        return s.scalar(select(func.count()).select_from(Adjustment))


def test_contractor_sees_only_its_contract(app):
    client = signed_in_client(app, "exploitant")
    assert client.get("/economies").status_code == 200
    own = post_callback(client, "savings-detail", detail_values(CONTRACT, "ECOLE-A"))
    assert own.status_code == 200
    for graph in ("monthly", "signature", "cusum", "carpet"):
        assert f"savings-fig-{graph}" in own.text
    # another contract's building, asked for under either contract: refused on the server
    assert post_callback(client, "savings-detail", detail_values(OTHER, "GYM-C")).status_code == 403
    other = post_callback(client, "savings-detail", detail_values(CONTRACT, "GYM-C"))
    assert other.status_code == 403 and "Gymnase Curie" not in other.text
    table = post_callback(client, "savings-portfolio", detail_values(OTHER, None))
    assert table.status_code == 403
    seasons_of_other = post_callback(client, "savings-season", {"savings-contract.value": OTHER})
    assert seasons_of_other.status_code == 403
    # its own table lists its two buildings, not the other contract's
    mine = post_callback(client, "savings-portfolio", detail_values(CONTRACT, None))
    assert mine.status_code == 200
    assert "École Anatole-France" in mine.text and "Salle Louise-Michel" in mine.text
    assert "Gymnase Curie" not in mine.text
    # a deep link to another contract's building says so instead of opening it
    routed = post_callback(
        client, "_pages_content",
        {"_pages_location.pathname": "/economies", "_pages_location.search": "?batiment=GYM-C"},
    )  # fmt: skip
    assert routed.status_code == 200 and "savings-notice" in routed.text


def test_finance_reads_but_may_not_add_an_adjustment(app, db_url):
    programmer = signed_in_client(app, "programmation")  # no savings.view at all
    assert programmer.get("/economies").status_code == 403
    no_table = post_callback(programmer, "savings-portfolio", detail_values(CONTRACT, None))
    assert no_table.status_code == 403
    finance = signed_in_client(app, "finances")
    assert finance.get("/economies").status_code == 200
    read = post_callback(finance, "savings-detail", detail_values(OTHER, "GYM-C"))
    assert read.status_code == 200 and "savings-fig-carpet" in read.text
    assert "savings-adj-form" not in read.text  # no form for a reader
    refused = post_callback(finance, "savings-adj-message", adjustment_values(OTHER, "GYM-C"))
    assert refused.status_code == 403
    assert adjustments_count(db_url) == 0
    contractor = signed_in_client(app, "exploitant")
    refused = post_callback(
        contractor, "savings-adj-message", adjustment_values(CONTRACT, "ECOLE-A")
    )
    assert refused.status_code == 403
    assert adjustments_count(db_url) == 0

    manager = signed_in_client(app, "gestionnaire")
    form = post_callback(manager, "savings-detail", detail_values(OTHER, "GYM-C"))
    assert "savings-adj-form" in form.text
    elsewhere = post_callback(manager, "savings-detail", detail_values(CONTRACT, "GYM-C"))
    assert elsewhere.status_code == 200 and "ne fait pas partie du contrat" in elsewhere.text
    bad = post_callback(
        manager, "savings-adj-message",
        adjustment_values(OTHER, "GYM-C") | {"savings-adj-from.value": "31/02/2026"},
    )  # fmt: skip
    assert bad.status_code == 200 and "illisible" in bad.text
    assert adjustments_count(db_url) == 0
    done = post_callback(manager, "savings-adj-message", adjustment_values(OTHER, "GYM-C"))
    assert done.status_code == 200 and "enregistré" in done.text
    with session_scope(get_engine(db_url)) as s:
        adj = s.scalars(select(Adjustment)).one()
        assert (adj.effective_from, adj.kind, adj.nb_factor) == (dt.date(2026, 3, 1), "closed", 0)
        assert adj.author_login == "gestionnaire"
        entry = s.get(LogbookEntry, adj.logbook_entry_id)
        assert entry.kind == "adjustment" and "désamiantage" in entry.text
    # the closed building's target is now zero from 01/03/2026: the table shows the new target
    after = savings_portfolio(get_engine(db_url), OTHER, SEASON, as_of=AS_OF)
    target = after.buildings.iloc[0]["target_mwh_pci"]
    table = post_callback(manager, "savings-portfolio", detail_values(OTHER, None))
    assert table.status_code == 200 and fr_number(target, 2) in table.text


# --- in a real browser -------------------------------------------------------------------------


@pytest.mark.browser
def test_manager_opens_a_building_and_its_four_figures(live_app, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    build_town(live_app.engine)
    expected = savings_portfolio(live_app.engine, CONTRACT, SEASON, as_of=AS_OF)
    bonus = expected.buildings.set_index("building_code").loc["ECOLE-A", "bonus_eur"]
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page(f"/economies?contrat={CONTRACT}&saison={SEASON}"))
    table = wait_for(browser, "#savings-table", timeout=30, text="École Anatole-France")
    assert "Salle Louise-Michel" in table.text
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-building='ECOLE-A']")
    assert fr_eur(bonus) in row.get_attribute("textContent")
    assert "COSTIC" in browser.find_element(By.ID, "savings-terms").text

    button = row.find_element(By.CSS_SELECTOR, ".link-button")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    detail = wait_for(browser, "#savings-building-detail", timeout=30)
    assert "École Anatole-France" in detail.text
    WebDriverWait(browser, 30).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#savings-building-detail .main-svg")) >= 4
    )
    for graph in ("monthly", "signature", "cusum", "carpet"):
        plot = browser.find_element(By.CSS_SELECTOR, f"#savings-fig-{graph} .js-plotly-plot")
        assert plot.find_elements(By.CSS_SELECTOR, ".main-svg")
    heatmaps = browser.find_elements(By.CSS_SELECTOR, "#savings-fig-carpet .heatmaplayer image")
    bars = browser.find_elements(By.CSS_SELECTOR, "#savings-fig-monthly .bars .point")
    assert heatmaps and len(bars) == 2 * 8  # real and target for October..May
    captions = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".figure-caption"))
    assert "COSTIC" in captions and STATION in captions and "01/10/2025" in captions
    assert "batiment=ECOLE-A" in browser.current_url  # the detail can be shared by its URL
