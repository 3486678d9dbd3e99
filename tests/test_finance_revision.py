"""The finance month with revised prices: P1/P2/P3 computed by hand from the index file,
the index import (good lines, bad lines with their number, re-import), the missing index named,
the workbook read back equal to the engine's lines, the season summary, who may download, and
a closed month's prices kept at the index values its close read."""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select, text

from carnet import db as carnet_db
from carnet.closing import ClosingError
from carnet.db import session_scope
from carnet.models import ClosedPeriod, Contract, PriceIndex
from carnet.periods import close_period
from carnet.price_indices import index_frame
from carnet_cli.main import main
from contract.periods import RULES, PeriodRules
from contract.revision import MissingIndexError, revise
from contract.terms import month_label, parse_revision, price_terms
from dashboards.app import create_app
from dashboards.finances_data import finance_month
from ingest.importer import import_file
from tests.helpers.browser import seed_users
from tests.helpers.contract_town import PRICE, R
from tests.helpers.web_client import sign_in

TERMS = {
    "p1_revision": {
        "fixed": 0.15,
        "terms": [
            {"index": "PEG", "weight": 0.60, "base": 28.0},
            {"index": "ICHT", "weight": 0.25, "base": 125.0},
        ],
    },
    "p2_eur_per_month": 1200,
    "p2_revision": {"fixed": 0.125, "terms": [{"index": "ICHT", "weight": 0.875, "base": 125.0}]},
    "p3_eur_per_month": 450,
}
INDICES = (
    "indice;mois;valeur\n"
    "PEG;2025-09;29,0\n"
    "PEG;10/2025;30,8\n"
    "ICHT;2025-09;126,4\n"
    "ICHT;2025-11;128,0\n"
)
D = Decimal


@pytest.fixture
def town(contract_town):
    """The contract CLI's town (tests/helpers/contract_town.py)."""
    return contract_town


def by_hand_p1(peg: str, icht: str) -> Decimal:
    factor = D("0.15") + D("0.60") * D(peg) / D("28.0") + D("0.25") * D(icht) / D("125.0")
    return (PRICE * factor).quantize(D("0.0001"), ROUND_HALF_UP)


def by_hand_p2(icht: str) -> Decimal:
    factor = D("0.125") + D("0.875") * D(icht) / D("125.0")
    return (D(1200) * factor).quantize(D("0.01"), ROUND_HALF_UP)


@pytest.fixture
def revised(town, engine, tmp_path):
    with session_scope(engine) as s:
        s.scalars(select(Contract).where(Contract.code == "C1")).one().terms = TERMS
    path = tmp_path / "indices.csv"
    path.write_text(INDICES, encoding="utf-8")
    report = import_file(engine, path)
    assert (report.format, report.status, report.rows_inserted) == ("indices", "ok", 4)
    return town


def test_revised_prices_by_hand_for_two_months():
    indices = pd.DataFrame(
        {
            "name": ["PEG", "PEG", "ICHT", "ICHT"],
            "month": ["2025-09", "2025-10", "2025-09", "2025-11"],
            "value": [29.0, 30.8, 126.4, 128.0],
        }
    )
    revision = parse_revision(TERMS["p1_revision"], "p1_revision")
    got = revise("p1", PRICE, revision, ["2025-10", "2025-11"], indices)
    # October: PEG of October, ICHT of September (the last published); November: the reverse
    assert list(got.prices["price"]) == [by_hand_p1("30.8", "126.4"), by_hand_p1("30.8", "128.0")]
    assert list(got.prices["stale"]) == [True, True]
    used = got.used.set_index(["month", "index"])["used_month"].to_dict()
    assert used == {
        ("2025-10", "PEG"): "2025-10",
        ("2025-10", "ICHT"): "2025-09",
        ("2025-11", "PEG"): "2025-10",
        ("2025-11", "ICHT"): "2025-11",
    }
    with pytest.raises(MissingIndexError, match="indice « PEG » manquant.*août 2025"):
        revise("p1", PRICE, revision, ["2025-08"], indices)
    with pytest.raises(ValueError, match="doivent faire 1"):
        price_terms({"p1_revision": {"fixed": 0.2, "terms": [{"index": "PEG", "weight": 0.7,
                                                               "base": 28}]}})  # fmt: skip
    with pytest.raises(ValueError, match="p2_eur_per_month"):
        price_terms({"p2_revision": TERMS["p2_revision"]})
    assert month_label("2026-01") == "janvier 2026"


def test_index_import_rejects_bad_lines_and_reimport_changes_nothing(town, engine, tmp_path):
    path = tmp_path / "indices.csv"
    path.write_text(
        INDICES + "PEG;2025-13;31,0\n;2025-12;30,0\nPEG;2025-12;n.d.\nICHT;12/2025;-1\n",
        encoding="utf-8",
    )
    first = import_file(engine, path)
    assert first.format == "indices" and first.status == "partial"
    assert (first.rows_inserted, first.rows_rejected) == (4, 4)
    lines = {r["line_no"]: r["reason"] for r in first.rejected}
    assert set(lines) == {6, 7, 8, 9}
    assert "mois illisible « 2025-13 »" in lines[6] and "nom d'indice vide" in lines[7]
    assert "illisible" in lines[8] and "nulle ou négative" in lines[9]
    stored = index_frame(engine)
    assert stored.to_dict("records") == [
        {"name": "ICHT", "month": "2025-09", "value": 126.4},
        {"name": "ICHT", "month": "2025-11", "value": 128.0},
        {"name": "PEG", "month": "2025-09", "value": 29.0},
        {"name": "PEG", "month": "2025-10", "value": 30.8},
    ]
    again = import_file(engine, path)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 4)
    assert again.previous_batch_id == first.batch_id
    assert index_frame(engine).equals(stored)
    with session_scope(engine) as s:
        batches = set(s.scalars(select(PriceIndex.import_batch_id)))
    assert batches == {first.batch_id}
    # a corrected publication replaces the value, under the new batch
    fix = tmp_path / "correctif.csv"
    fix.write_text("indice;mois;valeur\nPEG;2025-10;30,9\n", encoding="utf-8")
    third = import_file(engine, fix)
    assert (third.rows_inserted, third.rows_updated) == (0, 1)
    assert index_frame(engine, ["PEG"])["value"].tolist() == [29.0, 30.9]


def test_missing_index_is_a_clear_error(town, engine, capsys):
    with session_scope(engine) as s:
        s.scalars(select(Contract).where(Contract.code == "C1")).one().terms = TERMS
    assert main(["export", "finance", "--contract", "C1", "--month", "2025-10"]) == 2
    err = capsys.readouterr().err
    assert "indice « PEG » manquant" in err and "octobre 2025" in err


def test_csv_and_xlsx_equal_the_engine_with_prices_by_hand(revised, engine, tmp_path, capsys):
    fm = finance_month(engine, "C1", "2025-10")
    lines = fm.frame.set_index("building_code")
    p1 = by_hand_p1("30.8", "126.4")
    assert set(lines.loc[["MAIRIE", "ECOLE", "TOTAL"], "p1_price_eur_per_mwh_pci"]) == {p1}
    for code in ("MAIRIE", "ECOLE"):
        mwh = D(str(lines.loc[code, "actual_mwh_pci"]))
        assert lines.loc[code, "p1_value_eur"] == (mwh * p1).quantize(D("0.01"), ROUND_HALF_UP)
        assert lines.loc[code, "actual_mwh_pcs"] == pytest.approx(
            lines.loc[code, "actual_mwh_pci"] * R, abs=1e-3
        )
    total = lines.loc["TOTAL"]
    assert total["p2_eur"] == by_hand_p2("126.4") and total["p3_eur"] == D("450.00")
    assert total["total_eur"] == (
        total["p1_value_eur"] + total["p2_eur"] + total["p3_eur"] + total["net_to_contractor_eur"]
    )
    assert "ICHT septembre 2025 = 126,4 (dernière valeur publiée)" in total["indices_used"]
    assert (
        total["status"].startswith("provisoire")
        and "ICHT (valeur de septembre 2025)" in (total["status"])
    )

    csv_path, xlsx_path = tmp_path / "f.csv", tmp_path / "f.xlsx"
    for path in (csv_path, xlsx_path):
        args = [
            "export",
            "finance",
            "--contract",
            "C1",
            "--month",
            "2025-10",
            "--output",
            str(path),
        ]
        assert main(args) == 0
        assert "2 bâtiment(s), mois 2025-10" in capsys.readouterr().out
    csv = pd.read_csv(csv_path, sep=";", decimal=",", encoding="utf-8-sig", dtype={"Mois": str})
    csv = csv.set_index("Code bâtiment")
    assert csv.loc["TOTAL", "Mois"] == "octobre 2025"
    assert csv.loc["TOTAL", "Du"] == "01/10/2025" and csv.loc["TOTAL", "Au"] == "31/10/2025"
    assert D(str(csv.loc["TOTAL", "P2 conduite et entretien (€)"])) == by_hand_p2("126.4")

    wb = openpyxl.load_workbook(xlsx_path)
    assert wb.sheetnames == ["Synthèse", "C1", "Notes"]
    ws = wb["C1"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    sheet = pd.read_excel(xlsx_path, sheet_name="C1").set_index("Code bâtiment")
    assert list(sheet.columns) == header[:2] + header[3:]  # index: « Code bâtiment »
    col = {h: i + 1 for i, h in enumerate(header)}
    for code, rec in lines.iterrows():
        row = sheet.loc[code]
        for name, fr in (
            ("actual_mwh_pci", "Consommation réelle (MWh PCI)"),
            ("actual_mwh_pcs", "Consommation réelle (MWh PCS)"),
            ("target_mwh_pci", "Objectif corrigé N'B (MWh PCI)"),
            ("p1_value_eur", "Valeur P1 de la consommation (€)"),
            ("bonus_eur", "Intéressement dû à l'exploitant (€)"),
            ("penalty_eur", "Pénalité due par l'exploitant (€)"),
            ("total_eur", "Total du mois : P1 + P2 + P3 + solde (€)"),
        ):
            assert row[fr] == pytest.approx(float(rec[name]), abs=1e-9), (code, fr)
        assert row["Mois"] == "octobre 2025" and row["Statut"] == rec["status"]
    first = ws.cell(row=2, column=col["Du"])
    assert first.value == dt.datetime(2025, 10, 1) and first.number_format == "dd/mm/yyyy"
    assert "€" in ws.cell(row=2, column=col["Valeur P1 de la consommation (€)"]).number_format
    assert "MWh" in ws.cell(row=2, column=col["Consommation réelle (MWh PCI)"]).number_format
    assert isinstance(ws.cell(row=2, column=col["Consommation réelle (MWh PCI)"]).value, float)
    assert ws.column_dimensions["B"].width >= 10
    summary = pd.read_excel(xlsx_path, sheet_name="Synthèse")
    assert list(summary["Code bâtiment"]) == ["TOTAL"]
    notes = pd.read_excel(xlsx_path, sheet_name="Notes", header=2)
    p1_note = notes.set_index("Terme").loc["Prix P1", "Valeur"]
    assert p1_note == "P1 = 92,5 €/MWh PCI × (0,15 + 0,6 × PEG_m / 28 + 0,25 × ICHT_m / 125)"
    assert "dernière valeur publiée" in notes.set_index("Terme").loc["Indice ICHT (P1)", "Valeur"]


def test_season_summary_export(revised, engine, tmp_path, capsys):
    out = tmp_path / "saison.xlsx"
    args = ["export", "finance", "--contract", "C1", "--season", "2025-2026", "--output", str(out)]
    assert main(args) == 0
    assert "saison 2025-2026, 8 mois" in capsys.readouterr().out
    summary = pd.read_excel(out, sheet_name="Synthèse")
    assert list(summary["Mois"]) == [
        "octobre 2025", "novembre 2025", "décembre 2025", "janvier 2026", "février 2026",
        "mars 2026", "avril 2026", "mai 2026", "saison 2025-2026",
    ]  # fmt: skip
    months = summary.iloc[:-1]
    season = summary.iloc[-1]
    for fr in ("Valeur P1 de la consommation (€)", "P2 conduite et entretien (€)"):
        assert season[fr] == pytest.approx(months[fr].sum(), abs=0.005)
    nov = months.set_index("Mois").loc["novembre 2025"]
    assert nov["Prix P1 révisé (€/MWh PCI)"] == pytest.approx(float(by_hand_p1("30.8", "128.0")))
    assert nov["P2 conduite et entretien (€)"] == pytest.approx(float(by_hand_p2("128.0")))
    assert "jour(s) sans données" in nov["Statut"]
    assert len(pd.read_excel(out, sheet_name="C1")) == 8 * 3  # 2 buildings and TOTAL a month


def test_a_season_stops_at_the_last_settled_day(revised, engine):
    from carnet.frames import contract_terms
    from contract.terms import ContractTerms
    from dashboards.finances_data import finance_season, season_month_list

    terms = ContractTerms.from_record(contract_terms(engine, "C1"))
    assert season_month_list(terms, "2025-2026", dt.date(2025, 11, 1)) == ["2025-10"]
    assert season_month_list(terms, "2025-2026", dt.date(2025, 11, 2)) == [
        "2025-10",
        "2025-11",
    ]
    months, summary = finance_season(engine, "C1", "2025-2026", dt.date(2025, 11, 15))
    assert [m.month for m in months] == ["2025-10", "2025-11"]
    assert "mois en cours (données jusqu'au 14/11/2025)" in months[1].frame["status"].iloc[-1]
    assert summary["status"].iloc[-1] == "provisoire"
    with pytest.raises(ValueError, match="pas encore commencé"):
        finance_season(engine, "C1", "2025-2026", dt.date(2025, 10, 1))


def test_downloads_for_finance_and_manager_only(revised, db_url):
    seed_users(carnet_db.get_engine(db_url))
    app = create_app(db_url)
    urls = ("/export/finances/C1/2025-10.xlsx", "/export/finances/C1/saison/2025-2026.xlsx")
    for login, status in (("finances", 200), ("gestionnaire", 200), ("exploitant", 403)):
        client = app.server.test_client()
        assert sign_in(client, login).status_code == 302
        for url in urls:
            response = client.get(url)
            assert response.status_code == status, (login, url)
            if status == 200:
                wb = openpyxl.load_workbook(io.BytesIO(response.data))
                assert wb.sheetnames == ["Synthèse", "C1", "Notes"]
    client = app.server.test_client()
    sign_in(client, "finances")
    assert client.get("/export/finances/C1/2025-10.pdf").status_code == 404
    assert client.get("/export/finances/C1/saison/2025.xlsx").status_code == 404


def test_a_0003_database_holding_data_upgrades_to_price_indices(revised, engine):
    before = index_frame(engine)
    carnet_db.downgrade(engine, "0003")
    assert "price_index" not in carnet_db.table_names(engine)
    with engine.connect() as conn:
        contracts = conn.execute(text("SELECT code, terms FROM contract")).all()
    carnet_db.upgrade(engine)
    assert "price_index" in carnet_db.table_names(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code, terms FROM contract")).all() == contracts
    assert index_frame(engine).empty  # the 0003 schema had no place for them: import again
    assert len(before) == 4


def test_reverting_an_index_batch_restores_the_values_before_it(town, engine, tmp_path):
    from carnet.batches import BatchRevertRefused, revert_batch

    path = tmp_path / "indices.csv"
    path.write_text(INDICES, encoding="utf-8")
    first = import_file(engine, path)
    fix = tmp_path / "correctif.csv"
    fix.write_text("indice;mois;valeur\nPEG;2025-10;30,9\nPEG;2025-11;31,4\n", encoding="utf-8")
    second = import_file(engine, fix)
    assert (second.rows_inserted, second.rows_updated) == (1, 1)
    with pytest.raises(BatchRevertRefused, match=f"lot n° {second.batch_id}"):
        revert_batch(engine, first.batch_id, actor="gestionnaire", why="mauvais fichier")
    message = revert_batch(engine, second.batch_id, actor="gestionnaire", why="correctif erroné")
    assert "2 valeur(s) d'indice de prix annulée(s)" in message
    assert index_frame(engine, ["PEG"]).to_dict("records") == [
        {"name": "PEG", "month": "2025-09", "value": 29.0},
        {"name": "PEG", "month": "2025-10", "value": 30.8},
    ]
    with session_scope(engine) as s:
        assert set(s.scalars(select(PriceIndex.import_batch_id))) == {first.batch_id}
    revert_batch(engine, first.batch_id, actor="gestionnaire", why="mauvais fichier")
    assert index_frame(engine).empty


# --- a closed month keeps the index values its close read (issue 12) ---------------------------


def _export(capsys, tmp_path, name: str, month: str) -> bytes:
    """`carnet export finance --month` to a CSV file (the lines of `finance_month`)."""
    out = tmp_path / name
    status, text = run_cli(capsys, "export", "finance", "--contract", "C1", "--month", month,
                           "--output", str(out))  # fmt: skip
    assert status == 0, text
    return out.read_bytes()


def run_cli(capsys, *argv) -> tuple[int, str]:
    status = main(list(argv))
    got = capsys.readouterr()
    return status, got.out + got.err


def _total(fm) -> dict:
    return fm.frame[fm.frame["building_code"] == "TOTAL"].iloc[0].to_dict()


def _correct(engine, tmp_path, text: str, name: str = "correctif.csv"):
    fix = tmp_path / name
    fix.write_text("indice;mois;valeur\n" + text, encoding="utf-8")
    assert import_file(engine, fix).status == "ok"


def _close(capsys, month="2025-10"):
    status, out = run_cli(capsys, "settle", "close", "--contract", "C1", "--month", month,
                          "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out


def test_a_closed_month_keeps_its_index_values_an_open_month_takes_the_new_ones(
    revised, engine, tmp_path, capsys
):
    _close(capsys)
    with session_scope(engine) as s:
        stored = s.scalar(select(ClosedPeriod)).figures
    assert stored["version"] == 2
    assert sorted(stored["indices"]["2025-10"], key=lambda r: r["name"]) == [
        {"name": "ICHT", "month": "2025-10", "used_month": "2025-09", "value": 126.4},
        {"name": "PEG", "month": "2025-10", "used_month": "2025-10", "value": 30.8},
    ]
    csv_before = _export(capsys, tmp_path, "before.csv", "2025-10")
    signed = _total(finance_month(engine, "C1", "2025-10"))
    assert signed["p1_price_eur_per_mwh_pci"] == by_hand_p1("30.8", "126.4")
    assert signed["p2_eur"] == by_hand_p2("126.4")
    # October's PEG corrected, October's ICHT published late, after the close
    _correct(engine, tmp_path, "PEG;2025-10;31,5\nICHT;2025-10;127,0\n")
    assert _export(capsys, tmp_path, "after.csv", "2025-10") == csv_before
    fm = finance_month(engine, "C1", "2025-10")
    assert _total(fm) == signed and "indices actuels" not in " ".join(fm.notes["Valeur"])
    # the open month reads the current values: November falls back to the corrected PEG
    november = _total(finance_month(engine, "C1", "2025-11"))
    assert november["p1_price_eur_per_mwh_pci"] == by_hand_p1("31.5", "128.0")
    assert "PEG octobre 2025 = 31,5" in november["indices_used"]
    # reopened then closed again: the close stores the values of the day
    status, out = run_cli(capsys, "settle", "reopen", "--contract", "C1", "--month", "2025-10",
                          "--why", "indice PEG corrigé", "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out
    _close(capsys)
    again = _total(finance_month(engine, "C1", "2025-10"))
    assert again["p1_price_eur_per_mwh_pci"] == by_hand_p1("31.5", "127.0")
    assert again["p2_eur"] == by_hand_p2("127.0")
    assert again["p1_value_eur"] != signed["p1_value_eur"]
    assert again["total_eur"] - again["p1_value_eur"] - again["p2_eur"] == (
        signed["total_eur"] - signed["p1_value_eur"] - signed["p2_eur"]
    )  # P3 and the settlement's balance are the same
    assert _export(capsys, tmp_path, "again.csv", "2025-10") != csv_before


def test_a_month_closed_before_indices_were_stored_exports_with_the_current_ones(
    revised, engine, tmp_path, capsys
):
    _close(capsys)
    with session_scope(engine) as s:  # what a close of version 1 stored: no index values
        row = s.scalar(select(ClosedPeriod))
        row.figures = {k: v for k, v in row.figures.items() if k != "indices"} | {"version": 1}
    _correct(engine, tmp_path, "PEG;2025-10;31,5\n")
    fm = finance_month(engine, "C1", "2025-10")
    total = _total(fm)
    assert total["p1_price_eur_per_mwh_pci"] == by_hand_p1("31.5", "126.4")
    assert total["status"].startswith("arrêté le ")
    assert total["status"].endswith(" ; indices actuels : arrêté avant leur enregistrement")
    notes = fm.notes.set_index("Terme")["Valeur"]
    assert notes["Statut"] == total["status"]
    csv = _export(capsys, tmp_path, "old.csv", "2025-10").decode("utf-8-sig")
    assert "indices actuels : arrêté avant leur enregistrement" in csv


def test_an_index_value_written_during_the_close_refuses_it(revised, engine, tmp_path):
    class WritesAnIndex(PeriodRules):
        """The engine, with a corrected index imported while the figures are computed."""

        @staticmethod
        def figures(*args, **kwargs):
            got = RULES.figures(*args, **kwargs)
            _correct(engine, tmp_path, "PEG;2025-10;31,5\n")
            return got

    with pytest.raises(ClosingError, match="ont changé pendant l'arrêt"):
        close_period(engine, "C1", month="2025-10", actor="gestionnaire", rules=WritesAnIndex())
    with session_scope(engine) as s:
        assert s.scalar(select(ClosedPeriod)) is None
    ref = close_period(engine, "C1", month="2025-10", actor="gestionnaire", rules=RULES)
    assert ref.period == "2025-10"
    total = _total(finance_month(engine, "C1", "2025-10"))
    assert total["p1_price_eur_per_mwh_pci"] == by_hand_p1("31.5", "126.4")
