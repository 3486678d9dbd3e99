"""The finance service's monthly export: same numbers as the settlement, French CSV, and only
for the roles that may file it."""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from carnet.frcsv import to_french_csv
from carnet_cli.main import main
from contract.terms import season_of_month
from dashboards.app import create_app
from tests.helpers.browser import seed_users
from tests.helpers.contract_town import PRICE, expected_building
from tests.helpers.web_client import sign_in

CENT = Decimal("0.01")


def _eur(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(CENT, ROUND_HALF_UP)


def _read_french_csv(payload: bytes) -> pd.DataFrame:
    assert payload.startswith("\ufeff".encode())
    return pd.read_csv(
        io.BytesIO(payload), sep=";", decimal=",", encoding="utf-8-sig", dtype={"Mois": str}
    )


def test_cli_export_matches_the_settlement_by_hand(contract_town, tmp_path, capsys):
    out = tmp_path / "finances.csv"
    args = ["export", "finance", "--contract", "C1", "--month", "2025-10", "--output", str(out)]
    assert main(args) == 0
    assert "2 bâtiment(s)" in capsys.readouterr().out
    frame = _read_french_csv(out.read_bytes()).set_index("Code bâtiment")
    for code in ("MAIRIE", "ECOLE"):
        exp = expected_building(code, contract_town)
        row = frame.loc[code]
        assert row["Mois"] == "octobre 2025"
        assert row["Consommation réelle (MWh PCI)"] == pytest.approx(exp["actual"], abs=1e-3)
        assert row["Objectif corrigé N'B (MWh PCI)"] == pytest.approx(exp["target"], abs=1e-3)
        bonus = (Decimal(repr(exp["bonus"])) * PRICE).quantize(CENT, ROUND_HALF_UP)
        penalty = (Decimal(repr(exp["penalty"])) * PRICE).quantize(CENT, ROUND_HALF_UP)
        assert _eur(row["Intéressement dû à l'exploitant (€)"]) == bonus
        assert _eur(row["Pénalité due par l'exploitant (€)"]) == penalty
        assert _eur(row["Solde en faveur de l'exploitant (€)"]) == bonus - penalty
        p1 = (Decimal(str(round(exp["actual"], 12))) * PRICE).quantize(CENT, ROUND_HALF_UP)
        assert abs(_eur(row["Valeur P1 de la consommation (€)"]) - p1) <= CENT
    total = frame.loc["TOTAL"]
    for col in ("Intéressement dû à l'exploitant (€)", "Pénalité due par l'exploitant (€)"):
        assert _eur(total[col]) == sum(_eur(v) for v in frame.drop(index="TOTAL")[col])


def test_cli_refuses_a_month_outside_the_season_and_an_unknown_contract(contract_town, capsys):
    assert main(["export", "finance", "--contract", "C1", "--month", "2025-07"]) == 2
    assert "hors de la saison" in capsys.readouterr().err
    assert main(["export", "finance", "--contract", "NOPE", "--month", "2025-10"]) == 2
    assert "contrat inconnu" in capsys.readouterr().err


def test_download_for_finance_and_manager_only(contract_town, db_url):
    from carnet.db import get_engine

    seed_users(get_engine(db_url))
    app = create_app(db_url)
    url = "/export/finances/C1/2025-10.csv"
    assert app.server.test_client().get(url).status_code in (302, 401)
    for login, status in (
        ("finances", 200),
        ("gestionnaire", 200),
        ("exploitant", 403),
        ("programmation", 403),
        ("agent", 403),
    ):
        client = app.server.test_client()
        assert sign_in(client, login).status_code == 302
        response = client.get(url)
        assert response.status_code == status, login
        if status == 200:
            assert response.headers["Content-Disposition"].endswith('C1-2025-10.csv"')
            frame = _read_french_csv(response.data)
            assert set(frame["Code bâtiment"]) == {"MAIRIE", "ECOLE", "TOTAL"}
    client = app.server.test_client()
    sign_in(client, "finances")
    assert client.get("/export/finances/NOPE/2025-10.csv").status_code == 404
    assert client.get("/export/finances/C1/2025-13.csv").status_code == 404


def test_french_csv_conventions():
    frame = pd.DataFrame(
        {"Bâtiment": ["Salle « A »; B"], "Montant (€)": [Decimal("1234.50")], "x": [0.125]}
    )
    text = to_french_csv(frame).decode("utf-8")
    assert text.startswith("\ufeffBâtiment;Montant (€);x\r\n")
    assert '"Salle « A »; B";1234,50;0,125\r\n' in text
    assert season_of_month("2026-01") == "2025-2026" and season_of_month("2025-10") == "2025-2026"


def test_page_callback_shows_the_month_to_finance_and_refuses_others(contract_town, db_url):
    from carnet.db import get_engine
    from tests.helpers.web_client import body, callback

    seed_users(get_engine(db_url))
    app = create_app(db_url)
    values = {"fin-contract.value": "C1", "fin-month.value": "2025-10"}
    client = app.server.test_client()
    sign_in(client, "finances")
    response = callback(client, "fin-body", values)
    assert response.status_code == 200
    text = body(response)
    assert "Télécharger le fichier CSV" in text and "/export/finances/C1/2025-10.csv" in text
    exp = expected_building("MAIRIE", contract_town)
    assert f"{exp['actual']:.2f}".replace(".", ",") in text
    refused = app.server.test_client()
    sign_in(refused, "programmation")
    assert callback(refused, "fin-body", values).status_code == 403
