"""The working group's monthly report: a real PDF in French whose figures, read back from the
file, are `carnet settle --month --json`'s; a month with missing days says so; the savings
page's download is the same report, refused outside the user's rights and scope."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from contextlib import redirect_stdout

import pytest
from pypdf import PdfReader

from carnet.access import SYSTEM
from carnet.db import get_engine, session_scope
from carnet.logbook import add_entry
from carnet.logbook_triage import close_with_answer
from carnet.rex import add_decision, open_rex
from carnet_cli.main import main as carnet_main
from dashboards.app import create_app
from dashboards.fmt import fr_eur, fr_number
from tests.helpers.browser import seed_users
from tests.helpers.savings_client import detail_values
from tests.helpers.savings_town import CONTRACT, OTHER, TownBuilding, make_town
from tests.helpers.web_client import post_callback, signed_in_client

MONTH = "2026-01"
TOWN = [
    TownBuilding("ECOLE-A", "École Anatole-France", 2.0, CONTRACT, 80.0, reporting_factor=0.88),
    TownBuilding("SALLE-B", "Salle Louise-Michel", 1.5, CONTRACT, 70.0, night_heating=True,
                 reporting_factor=1.1),
    TownBuilding("GYM-C", "Gymnase Curie", 1.2, OTHER, 50.0),
]  # fmt: skip


def build_town(engine, last: dt.date = dt.date(2026, 2, 28)) -> None:
    make_town(
        engine, TOWN, dt.date(2024, 7, 1), last,
        starts_on=dt.date(2025, 7, 1), savings_from=dt.date(2025, 10, 1),
    )  # fmt: skip


def run_json(*args: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        status = carnet_main([*args, "--json"])
    assert status == 0
    return json.loads(out.getvalue())


def pdf_text(data: bytes) -> tuple[str, int]:
    """The PDF's text (spaces of every width as plain spaces) and its number of pages."""
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[\u00a0\u202f ]+", " ", text), len(reader.pages)


def plain(text: str) -> str:
    return re.sub(r"[\u00a0\u202f ]+", " ", text)


def write_report(tmp_path, *extra: str) -> bytes:
    target = tmp_path / "rapport.pdf"
    status = carnet_main(["report", "monthly", "--contract", CONTRACT, "--month", MONTH,
                          "--output", str(target), *extra])  # fmt: skip
    assert status == 0
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    return data


def test_the_pdf_figures_are_those_of_carnet_settle(engine, tmp_path):
    build_town(engine)
    with session_scope(engine) as s:
        alarm = add_entry(s, SYSTEM, "SALLE-B", "alarm", "Chaudière en défaut (code E14)",
                          occurred_at=dt.date(2026, 1, 12), source="poller")  # fmt: skip
        add_entry(s, SYSTEM, "SALLE-B", "corrective", "Remplacement de l'allumeur",
                  occurred_at=dt.date(2026, 1, 13), cost="412,50")  # fmt: skip
        cold = add_entry(s, SYSTEM, "SALLE-B", "observation", "Salle froide au concert",
                         occurred_at=dt.date(2026, 1, 12))  # fmt: skip
        close_with_answer(s, SYSTEM, cold.id, "Allumeur remplacé le 13/01")
        add_entry(s, SYSTEM, "ECOLE-A", "observation", "Radiateur froid en classe 3",
                  occurred_at=dt.date(2026, 1, 20))  # fmt: skip
        add_entry(s, SYSTEM, "GYM-C", "alarm", "Alarme de l'autre contrat",
                  occurred_at=dt.date(2026, 1, 15), source="poller")  # fmt: skip
        rex = open_rex(s, SYSTEM, "SALLE-B", "Concert du 12/01 dans une salle froide",
                       "La chaudière s'est mise en défaut la veille", occurred_on=dt.date(2026, 1, 12),
                       entries=[alarm.id, cold.id])  # fmt: skip
        add_decision(s, SYSTEM, rex.id, "Relance vérifiée la veille de chaque concert",
                     "exploitant", dt.date(2026, 2, 15))  # fmt: skip

    month = run_json("settle", "--contract", CONTRACT, "--season", "2025-2026", "--month", MONTH)
    season = run_json("settle", "--contract", CONTRACT, "--season", "2025-2026",
                      "--as-of", "2026-01-31")  # fmt: skip
    text, pages = pdf_text(write_report(tmp_path))
    assert 2 <= pages <= 8
    assert "Rapport mensuel du groupe de travail — janv. 2026" in text
    for payload in (month, season):
        for rec in [*payload["buildings"], payload["total"]]:
            for key, decimals in (("actual_mwh_pci", 2), ("target_mwh_pci", 2), ("gap_mwh", 2),
                                  ("gap_pct", 1), ("dju", 1)):  # fmt: skip
                assert plain(fr_number(rec[key], decimals)) in text, (key, rec)
            assert plain(fr_eur(rec["bonus_eur"])) in text
            assert plain(fr_eur(rec["penalty_eur"])) in text
    assert f"Intéressement de l'exploitant : {plain(fr_eur(month['total']['bonus_eur']))}" in text
    assert month["comfort"]  # the usage performance of the month, as `carnet settle --month`
    for c in month["comfort"]:
        row = f"{c['building_code']} {c['bookings']} — {c['late_bookings']} — "
        assert row + plain(fr_number(c["energy_kwh"] / 1000, 2)) in " ".join(text.split()), c
    assert "Chaudière en défaut (code E14)" in text
    assert "Remplacement de l'allumeur" in text
    assert "Alarme de l'autre contrat" not in text  # GYM-C is not the contract's
    assert "2 signalement(s) reçu(s) dans le mois, dont 1 répondu(s) ; 1 en attente" in text
    assert "Radiateur froid en classe 3" in text
    assert "Concert du 12/01 dans une salle froide" in text
    assert "Relance vérifiée la veille de chaque concert" in text
    assert "Aucun jour de consommation manquant sur le mois." in text
    assert "SALLE-B : CUSUM des économies" in text  # it runs above its target
    assert "ECOLE-A : CUSUM" not in text  # it saves


def test_a_month_with_missing_days_says_so(engine, tmp_path):
    build_town(engine, last=dt.date(2026, 1, 24))  # the meters' files stop on 24/01
    month = run_json("settle", "--contract", CONTRACT, "--season", "2025-2026", "--month", MONTH)
    missing = {r["building_code"]: r["days_missing"] for r in month["buildings"]}
    assert missing["ECOLE-A"] >= 7 and missing["SALLE-B"] == missing["ECOLE-A"]
    text, _pages = pdf_text(write_report(tmp_path))
    total = missing["ECOLE-A"] + missing["SALLE-B"]
    assert f"{total} jour(s) de consommation manquant(s) sur le mois" in text
    assert f"ECOLE-A : {missing['ECOLE-A']} jour(s) manquant(s) (du " in text
    assert "au 31/01/2026)" in text
    assert "Aucun jour de consommation manquant" not in text


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    build_town(engine)
    seed_users(engine)  # the contractor is bound to TEST-CONTRAT
    return create_app(db_url)


def test_the_savings_page_download_is_permission_checked(app, tmp_path):
    url = f"/export/rapport/{CONTRACT}/{MONTH}.pdf"
    anonymous = app.server.test_client().get(url)
    assert anonymous.status_code in (302, 401)
    got = signed_in_client(app, "gestionnaire").get(url)
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"]
    text, _pages = pdf_text(got.data)
    cli_text, _ = pdf_text(write_report(tmp_path))
    assert text.split("Édité le")[1][12:] == cli_text.split("Édité le")[1][12:]
    contractor = signed_in_client(app, "exploitant")
    assert contractor.get(url).status_code == 200  # its own contract
    assert contractor.get(f"/export/rapport/{OTHER}/{MONTH}.pdf").status_code == 403
    assert signed_in_client(app, "finances").get(url).status_code == 403  # no carnet
    assert (
        signed_in_client(app, "gestionnaire")
        .get(f"/export/rapport/{CONTRACT}/2026-13.pdf")
        .status_code
        == 404
    )


def test_the_savings_page_links_to_the_report_of_its_last_month(app):
    # the season 2025-2026 is over: the report of its last month
    table = post_callback(signed_in_client(app, "gestionnaire"), "savings-portfolio",
                          detail_values(CONTRACT, None))  # fmt: skip
    assert table.status_code == 200
    assert f"/export/rapport/{CONTRACT}/2026-05.pdf" in table.text
    finance = post_callback(signed_in_client(app, "finances"), "savings-portfolio",
                            detail_values(CONTRACT, None))  # fmt: skip
    assert finance.status_code == 200 and "/export/rapport/" not in finance.text


def test_without_dejavu_the_builtin_helvetica_keeps_accents_and_euros(engine, monkeypatch):
    from dashboards import report_pdf
    from dashboards.report_data import monthly_report

    build_town(engine)
    month = run_json("settle", "--contract", CONTRACT, "--season", "2025-2026", "--month", MONTH)
    monkeypatch.setattr(report_pdf, "DEJAVU", report_pdf.Path("/nonexistent"))
    assert report_pdf._fonts() == ("Helvetica", "Helvetica-Bold")
    data = report_pdf.render_pdf(monthly_report(engine, SYSTEM, CONTRACT, MONTH))
    assert b"DejaVu" not in data
    text, _pages = pdf_text(data)
    assert "Intéressement de l'exploitant : " + plain(fr_eur(month["total"]["bonus_eur"])) in text
    assert "Données manquantes" in text and "Retours d'expérience ouverts" in text
