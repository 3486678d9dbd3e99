"""Issue 15: the OPERAT file (`carnet export operat --year` and the portfolio page's download,
the manager only) and the « Décret tertiaire » section of the building page, against figures
recomputed here from the seeded readings."""

from __future__ import annotations

import numpy as np
import pytest
from openpyxl import load_workbook

from carnet.db import get_engine
from dashboards.app import create_app
from tests.helpers.browser import seed_users
from tests.helpers.cli import run
from tests.helpers.energy_town import KWH_PER_M3, make_energy_town
from tests.helpers.web_client import body, callback, page_content, signed_in_client

COLUMNS = [
    "Code bâtiment",
    "Bâtiment",
    "Année de consommation",
    "Catégorie d'activité",
    "Surface de plancher (m²)",
    "Assujetti (≥ 1 000 m²)",
    "Électricité (kWh)",
    "Gaz naturel (kWh PCS)",
    "Réseau de chaleur (kWh)",
    "Fioul domestique (kWh)",
    "Bois (kWh)",
    "Autre énergie (kWh)",
    "Consommation d'énergie finale (kWh)",
    "Année complète",
    "DJU de l'année (DJU COSTIC base 18 °C)",
    "Année de référence",
    "Origine de l'année de référence",
    "Consommation de référence (kWh)",
    "Consommation ajustée au climat (kWh)",
    "Objectif de l'année (kWh)",
    "Écart à l'objectif (%)",
]


@pytest.fixture
def town(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    return make_energy_town(engine)


def french_csv(data: bytes) -> list[dict]:
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").split("\r\n")
    head = lines[0].split(";")
    assert head == COLUMNS
    return [dict(zip(head, line.split(";"), strict=True)) for line in lines[1:] if line]


def fr(value: float, decimals: int = 0) -> str:
    text = f"{round(value, decimals):.{decimals}f}".replace(".", ",")
    return text.removesuffix(",0") if decimals else text


def expected_2025(town) -> dict[str, dict]:
    days, dju = town["days"], town["dju"]
    year = {y: np.asarray(days.year == y) for y in (2023, 2024, 2025)}
    dju_y = {y: float(dju[m].sum()) for y, m in year.items()}

    def gas(code, y):
        return float(town["gas_m3"][code][year[y]].sum()) * KWH_PER_M3

    elec_2025 = float(town["elec_kwh"][year[2025]].sum())
    curie, curie_ref = gas("CURIE-GAZ", 2025), gas("CURIE-GAZ", 2023)
    mairie_gas = gas("MAIRIE-GAZ", 2025)
    mairie = mairie_gas + elec_2025
    mairie_ref = gas("MAIRIE-GAZ", 2024) + float(town["elec_kwh"][year[2024]].sum())
    c_adj, m_adj = curie * dju_y[2023] / dju_y[2025], mairie * dju_y[2024] / dju_y[2025]
    c_target = curie_ref * (1 - 0.4 * 2 / 7)
    m_target = mairie_ref * (1 - 0.4 * 1 / 6)
    return {
        "CURIE": {
            "Bâtiment": "École Marie Curie",
            "Année de consommation": "2025",
            "Catégorie d'activité": "Enseignement primaire",
            "Surface de plancher (m²)": "2000",
            "Assujetti (≥ 1 000 m²)": "oui",
            "Électricité (kWh)": "",
            "Gaz naturel (kWh PCS)": fr(curie),
            "Consommation d'énergie finale (kWh)": fr(curie),
            "Année complète": "oui",
            "DJU de l'année (DJU COSTIC base 18 °C)": fr(dju_y[2025], 1),
            "Année de référence": "2023",
            "Origine de l'année de référence": "première année complète",
            "Consommation de référence (kWh)": fr(curie_ref),
            "Consommation ajustée au climat (kWh)": fr(c_adj),
            "Objectif de l'année (kWh)": fr(c_target),
            "Écart à l'objectif (%)": fr((c_adj - c_target) / c_target * 100, 1),
        },
        "MAIRIE": {
            "Surface de plancher (m²)": "1100",  # its tertiary area, not the heated one
            "Catégorie d'activité": "Bureaux",
            "Électricité (kWh)": fr(elec_2025),
            "Gaz naturel (kWh PCS)": fr(mairie_gas),
            "Consommation d'énergie finale (kWh)": fr(mairie),
            "Année de référence": "2024",
            "Origine de l'année de référence": "déclarée",
            "Consommation de référence (kWh)": fr(mairie_ref),
            "Consommation ajustée au climat (kWh)": fr(m_adj),
            "Objectif de l'année (kWh)": fr(m_target),
        },
        "GYM": {"Surface de plancher (m²)": "800", "Assujetti (≥ 1 000 m²)": "non"},
    }


def check(rows: list[dict], town) -> None:
    by_code = {r["Code bâtiment"]: r for r in rows}
    assert set(by_code) == {"CURIE", "MAIRIE", "GYM"}
    for code, fields in expected_2025(town).items():
        for column, value in fields.items():
            assert by_code[code][column] == value, (code, column)


def test_cli_writes_the_operat_csv_and_workbook(town, capsys, tmp_path):
    out = tmp_path / "operat.csv"
    status, text = run(capsys, "export", "operat", "--year", "2025", "--output", str(out))
    assert status == 0, text
    assert "3 bâtiment(s), année 2025, 3 complète(s)" in text
    check(french_csv(out.read_bytes()), town)
    xlsx = tmp_path / "operat.xlsx"
    status, text = run(capsys, "export", "operat", "--year", "2025", "--output", str(xlsx))
    assert status == 0, text
    sheet = load_workbook(xlsx).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    curie = next(r for r in rows[1:] if r[0] == "CURIE")
    assert curie[COLUMNS.index("Gaz naturel (kWh PCS)")] == pytest.approx(
        float(expected_2025(town)["CURIE"]["Gaz naturel (kWh PCS)"])
    )


def test_the_download_is_the_managers_and_matches_the_cli(db_url, town, capsys, tmp_path):
    app = create_app(db_url)
    manager = signed_in_client(app, "gestionnaire")
    got = manager.get("/export/operat/2025.csv")
    assert got.status_code == 200
    assert got.headers["Content-Disposition"] == 'attachment; filename="carnet-operat-2025.csv"'
    check(french_csv(got.data), town)
    out = tmp_path / "cli.csv"
    assert run(capsys, "export", "operat", "--year", "2025", "--output", str(out))[0] == 0
    assert got.data == out.read_bytes()
    assert manager.get("/export/operat/2025.xlsx").status_code == 200
    for login in ("exploitant", "finances"):
        refused = signed_in_client(app, login).get("/export/operat/2025.csv")
        assert refused.status_code == 403, login
        assert "CURIE" not in refused.text
    assert app.server.test_client().get("/export/operat/2025.csv").status_code in (302, 401)
    # the link is on the manager's portfolio page only
    assert "portfolio-operat-csv" in body(page_content(manager, "/portefeuille"))
    contractor = signed_in_client(app, "exploitant")
    assert "portfolio-operat" not in body(page_content(contractor, "/portefeuille"))


def test_building_page_shows_the_tertiaire_section(db_url, town):
    app = create_app(db_url)
    page = body(page_content(signed_in_client(app, "gestionnaire"), "/batiments/CURIE"))
    assert "bp-tertiaire" in page and "Décret tertiaire" in page
    ref = expected_2025(town)["CURIE"]
    assert "2023 (première année complète)" in page
    assert f"{int(ref['Consommation de référence (kWh)']):,}".replace(",", "\u202f") in page
    adjusted = f"{int(ref['Consommation ajustée au climat (kWh)']):,}".replace(",", "\u202f")
    assert adjusted in page and '"data-year": "2030"' in page


def test_portfolio_search_ignores_accents_and_case(db_url, town):
    app = create_app(db_url)
    client = signed_in_client(app, "gestionnaire")
    for needle in ("ecole", "ÉCOLE", "Ecole marie"):
        reply = body(callback(client, "portfolio-table-wrap", {"portfolio-search.value": needle}))
        assert "École Marie Curie" in reply, needle
        assert "Hôtel de ville" not in reply and "Gymnase" not in reply
    reply = body(callback(client, "portfolio-table-wrap", {"portfolio-search.value": "hotel"}))
    assert "Hôtel de ville" in reply and "École Marie Curie" not in reply
    # the Décret tertiaire column: the last complete year against the trajectory
    reply = body(callback(client, "portfolio-table-wrap", {"portfolio-search.value": "curie"}))
    gap = expected_2025(town)["CURIE"]["Écart à l'objectif (%)"].replace("-", "−")
    assert f"En bonne voie {gap}\u00a0%" in reply and "2025, réf. 2023" in reply


def test_buildings_list_search_ignores_accents_and_case(db_url, town):
    app = create_app(db_url)
    for login in ("gestionnaire", "agent"):
        client = signed_in_client(app, login)
        reply = body(callback(client, "buildings-table-wrap", {"buildings-search.value": "ECOLE"}))
        assert "École Marie Curie" in reply and "Hôtel de ville" not in reply, login
        reply = body(callback(client, "buildings-table-wrap", {"buildings-search.value": "jaures"}))
        assert "Gymnase Jean Jaurès" in reply and "École Marie Curie" not in reply, login
    refused = callback(signed_in_client(app, "finances"), "buildings-table-wrap",
                       {"buildings-search.value": "ecole"})  # fmt: skip
    assert refused.status_code == 403 and "Curie" not in body(refused)


def test_savings_page_says_the_season_is_provisional(db_url, town):
    app = create_app(db_url)
    client = signed_in_client(app, "gestionnaire")
    values = {"savings-contract.value": "TEST-CONTRAT", "savings-season.value": "2026-2027"}
    reply = body(callback(client, "savings-portfolio", values))
    # in progress until 20 May 2027, then missing its readings after 30 November 2026
    assert '"id": "savings-provisional"' in reply and "Chiffres provisoires : " in reply
    assert '"className": "badge badge-soon provisional"' in reply  # and on its row
    done = body(
        callback(client, "savings-portfolio", values | {"savings-season.value": "2025-2026"})
    )
    assert "savings-provisional" not in done and "savings-table" in done
