"""Import profiles saved in the portfolio file (`import_profiles:`): a town's own files read with
their columns, date format, clock, decimal mark and default channel, chosen by name
(`carnet import --profile`) or found by their header."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import ImportBatch, ImportProfile
from carnet.portfolio import load_portfolio
from carnet.portfolio_parse import PortfolioError
from tests.helpers.cli import run
from tests.helpers.ingest_support import readings

TOWN = {
    "buildings": [
        {
            "code": "GYM",
            "name": "Gymnase",
            "channels": [
                {"code": "GYM-SALLE-T", "quantity": "temp_indoor_c", "kind": "instant",
                 "unit": "degC"},
                {"code": "GYM-DEPART", "quantity": "temp_flow_c", "kind": "instant",
                 "unit": "degC"},
            ],
        }
    ],
    "import_profiles": [
        {   # the caretaker's thermometer: one channel, dotted dates, decimal comma
            "code": "thermometre-gardien",
            "columns": {"timestamp": "Quand", "value": "Mesure"},
            "date_format": "%d.%m.%Y %Hh%M",
            "timezone": "local",
            "decimal": ",",
            "channel": "GYM-SALLE-T",
        },
        {   # the contractor's export: UTC clock, decimal point
            "code": "export-exploitant",
            "columns": {"channel": "Sonde", "timestamp": "Instant UTC", "value": "Lecture"},
            "timezone": "utc",
            "decimal": ".",
        },
    ],
}  # fmt: skip


def _utc(*args) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp())


@pytest.fixture
def town(engine):
    with session_scope(engine) as s:
        load_portfolio(s, copy.deepcopy(TOWN))
    return engine


def _write(tmp_path, name: str, lines: list[str]):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_profiles_are_stored_and_reloading_changes_nothing(town):
    with session_scope(town) as s:
        rows = {p.code: p for p in s.scalars(select(ImportProfile))}
        assert rows["thermometre-gardien"].columns == {"timestamp": "Quand", "value": "Mesure"}
        assert rows["thermometre-gardien"].decimal == ","
        assert rows["thermometre-gardien"].channel_id is not None
        assert rows["export-exploitant"].timezone == "utc"
        assert not load_portfolio(s, copy.deepcopy(TOWN)).changed


def test_named_profile_reads_its_date_format_decimal_comma_and_default_channel(
    town, tmp_path, capsys
):
    path = _write(
        tmp_path, "gardien.csv", ["Quand;Mesure", "01.12.2025 08h00;19,5", "01.12.2025 09h00;20"]
    )
    status, out = run(capsys, "import", str(path), "--profile", "thermometre-gardien")
    assert status == 0, out
    assert "lu avec le profil d'import « thermometre-gardien »" in out
    got = readings(town, "GYM-SALLE-T")
    assert got["ts"].tolist() == [_utc(2025, 12, 1, 7), _utc(2025, 12, 1, 8)]  # Paris is UTC+1
    assert got["value"].tolist() == pytest.approx([19.5, 20.0])
    with session_scope(town) as s:
        assert s.scalar(select(ImportBatch.format)) == "profile"


def test_profile_found_by_the_header_without_naming_it(town, tmp_path, capsys):
    path = _write(
        tmp_path,
        "exploitant.csv",
        [
            "Sonde;Instant UTC;Lecture",
            "GYM-DEPART;2025-12-01 08:00;55.5",
            "GYM-SALLE-T;2025-12-01 08:00;19.25",
        ],
    )
    status, out = run(capsys, "import", str(path))
    assert status == 0, out
    assert "lu avec le profil d'import « export-exploitant »" in out
    flow = readings(town, "GYM-DEPART")
    assert flow["ts"].tolist() == [_utc(2025, 12, 1, 8)]  # read as UTC, not Paris time
    assert flow["value"].tolist() == pytest.approx([55.5])
    assert readings(town, "GYM-SALLE-T")["value"].tolist() == pytest.approx([19.25])


def test_a_line_the_profile_cannot_read_is_rejected_with_its_reason(town, tmp_path, capsys):
    path = _write(
        tmp_path, "gardien.csv", ["Quand;Mesure", "01.12.2025 08h00;19,5", "2025-12-01 09:00;20"]
    )
    status, out = run(capsys, "import", str(path), "--profile", "thermometre-gardien")
    assert status == 1
    assert "2025-12-01 09:00" in out  # the rejected line, named
    assert readings(town, "GYM-SALLE-T")["value"].tolist() == pytest.approx([19.5])


def test_unknown_profile_and_bad_declarations(town, tmp_path, capsys):
    path = _write(tmp_path, "x.csv", ["Quand;Mesure", "01.12.2025 08h00;19,5"])
    status, out = run(capsys, "import", str(path), "--profile", "inconnu")
    assert status == 2
    assert "profil d'import « inconnu » inconnu" in out and "thermometre-gardien" in out
    status, out = run(capsys, "import", str(path), "--profile", "x", "--columns", "value=Mesure")
    assert status == 2 and "--profile ne se combine" in out
    doc = {
        "import_profiles": [
            {"code": "sans-point", "columns": {"timestamp": "Quand", "value": "Mesure"}},
            {"code": "mauvais", "columns": {"timestamp": "Quand"}, "decimal": ";",
             "channel": "NULLE-PART"},
        ]
    }  # fmt: skip
    with pytest.raises(PortfolioError) as err, session_scope(town) as s:
        load_portfolio(s, doc)
    message = str(err.value)
    assert "import_profiles[1].columns.value: clé obligatoire absente" in message
    assert "import_profiles[1].decimal: valeur « ; » non admise" in message
    doc["import_profiles"] = doc["import_profiles"][:1]
    with pytest.raises(PortfolioError) as err, session_scope(town) as s:
        load_portfolio(s, doc)
    assert "import_profiles[0].columns.channel: indiquez la colonne du point" in str(err.value)
