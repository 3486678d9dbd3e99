"""Columns of a file: the common French headers of the generic long format, columns named by
the user (`--columns`), the message of a file no format recognises, and the Enedis daily-index
export's supplier-calendar trailer (read for what it says, never as rejected rows)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from carnet.kinds import Quality
from carnet_cli.main import main
from ingest.formats.generic import parse_columns
from ingest.importer import import_file
from tests.helpers.ingest_support import SAMPLES, load_samples, readings, utc


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _write(path, lines, encoding="utf-8"):
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def _message(engine, batch_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT message FROM import_batch WHERE id = :b"), {"b": batch_id}
        ).scalar_one()


# --- common French headers, without --columns ---------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "timestamp", "value"),
    [
        ("Point de mesure", "Date et heure", "Valeur"),
        ("Point", "Date/Heure", "Index"),
        ("Capteur", "Horodatage", "Relevé"),
        ("Compteur", "Horodate", "Valeur [°C]"),
        ("POINT DE MESURE", "Date", "Mesure"),
    ],
)
def test_common_french_headers_are_generic_long(town, tmp_path, channel, timestamp, value):
    path = _write(
        tmp_path / "releves.csv",
        [
            f"{channel};{timestamp};{value}",
            "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5",
            "MAIRIE-CONSEIL-T;01/11/2024 11:00;19,75",
        ],
    )
    report = import_file(town, path)
    assert report.format == "generic-long", report.message
    assert (report.status, report.exit_status) == ("ok", 0)
    assert (report.rows_inserted, report.rows_rejected) == (2, 0)
    got = readings(town, "MAIRIE-CONSEIL-T")
    assert got["ts"].tolist() == [
        utc("2024-11-01T10:00:00+01:00"),
        utc("2024-11-01T11:00:00+01:00"),
    ]
    assert got["value"].tolist() == pytest.approx([19.5, 19.75])


def test_a_unit_in_the_value_header_is_read(town, tmp_path):
    """`Valeur (kWh)` is the value column, in kWh: an energy in another unit is converted, a
    point of another kind refused; a bracketed word that is no unit is said and ignored."""
    kwh = _write(
        tmp_path / "kwh.csv",
        [
            "Point de mesure;Date et heure;Valeur (kWh)",
            "MAIRIE-ELEC-IDX;01/11/2024 00:00;12345",
            "MAIRIE-GAZ;01/11/2024 00:00;1000",
        ],
    )
    report = import_file(town, kwh)
    assert report.format == "generic-long"
    assert (report.rows_inserted, report.rows_rejected) == (1, 1)
    assert report.rejected[0]["reason"] == "unité « kWh » différente de celle du point (m3)"
    wh = _write(
        tmp_path / "wh.csv",
        ["Compteur;Horodatage;Index (Wh)", "MAIRIE-ELEC-IDX;02/11/2024 00:00;12400000"],
    )
    assert import_file(town, wh).exit_status == 0
    assert readings(town, "MAIRIE-ELEC-IDX")["value"].tolist() == pytest.approx([12345, 12400])
    remark = _write(
        tmp_path / "remarque.csv",
        ["Capteur;Date;Relevé (brut)", "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5"],
    )
    report = import_file(town, remark)
    assert (report.exit_status, report.rows_inserted) == (0, 1)
    assert report.notes == [
        "« brut » dans l'en-tête « Relevé (brut) » n'est pas une unité connue : les valeurs "
        "sont lues dans l'unité de leur point"
    ]


def test_quality_header_in_french_and_cp1252(town, tmp_path):
    path = _write(
        tmp_path / "tableur.csv",
        [
            "Point de mesure;Date et heure;Valeur;Qualité",
            "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5;mesuré",
            "MAIRIE-CONSEIL-T;01/11/2024 11:00;19,0;estimé",
        ],
        encoding="cp1252",
    )
    report = import_file(town, path)
    assert report.format == "generic-long" and report.exit_status == 0
    got = readings(town, "MAIRIE-CONSEIL-T")
    assert got["quality"].tolist() == [Quality.MEASURED, Quality.ESTIMATED]


def test_the_issue_file_imports_through_the_cli(town, tmp_path, capsys):
    path = _write(
        tmp_path / "mairie.csv",
        ["Point de mesure;Date et heure;Valeur", "MAIRIE-CONSEIL-T;01/11/2024 10:00;20,5"],
    )
    assert main(["import", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert (report["format"], report["status"], report["rows_inserted"]) == (
        "generic-long",
        "ok",
        1,
    )


def test_sample_files_keep_their_formats(town):
    """The new aliases steal no file from the other formats."""
    expected = {
        "enedis_courbe_de_charge.csv": "enedis-load-curve",
        "enedis_index_quotidien.csv": "enedis-daily-index",
        "grdf_quotidien.csv": "grdf-daily",
        "meteo_quotidien.csv": "weather-daily",
        "meteo_horaire.csv": "weather-hourly",
        "generic_long.csv": "generic-long",
        "generic_long_fr.csv": "generic-long",
        "generic_wide.csv": "generic-wide",
        "enregistreur_chaufferie.csv": "logger",
    }
    for name, fmt in expected.items():
        assert import_file(town, SAMPLES / name).format == fmt, name


# --- --columns ----------------------------------------------------------------------------------


def test_columns_name_the_roles(town, tmp_path, capsys):
    path = _write(
        tmp_path / "export.csv",
        [
            "Quand;Sonde [n°];Mesure (°C);État",
            "01/11/2024 10:00;MAIRIE-CONSEIL-T;19,5;E",
            "01/11/2024 11:00;MAIRIE-CONSEIL-T;19,0;",
        ],
    )
    assert main(["import", str(path)]) == 2  # no format reads "Quand" by itself
    assert "format non reconnu" in capsys.readouterr().out
    spec = "channel=SONDE,timestamp=quand,value=Mesure,quality=etat"  # case, accents, units
    assert main(["import", str(path), "--columns", spec, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert (report["format"], report["rows_inserted"], report["rows_rejected"]) == (
        "generic-long",
        2,
        0,
    )
    got = readings(town, "MAIRIE-CONSEIL-T")
    assert got["value"].tolist() == pytest.approx([19.5, 19.0])
    assert got["quality"].tolist() == [Quality.ESTIMATED, Quality.MEASURED]


def test_columns_with_a_unit_column_convert_energies_and_refuse_the_rest(town, tmp_path):
    path = _write(
        tmp_path / "unites.csv",
        [
            "Compteur;Jour;Index;Unité",
            "MAIRIE-ELEC-IDX;01/11/2024 00:00;12345000;Wh",
            "MAIRIE-ELEC-IDX;02/11/2024 00:00;12,4;MWh",
            "MAIRIE-ELEC-IDX;03/11/2024 00:00;12450;kWh",
            "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5;°C",
            "MAIRIE-GAZ;01/11/2024 00:00;1000;kWh",
        ],
    )
    report = import_file(
        town, path, columns="channel=Compteur,timestamp=Jour,value=Index,unit=Unité"
    )
    assert (report.rows_inserted, report.rows_rejected) == (4, 1)
    assert report.rejected[0]["line_no"] == 6
    assert "unité « kWh » différente de celle du point (m3)" in report.rejected[0]["reason"]
    idx = readings(town, "MAIRIE-ELEC-IDX")
    assert idx["value"].tolist() == pytest.approx([12345.0, 12400.0, 12450.0])
    assert readings(town, "MAIRIE-CONSEIL-T")["value"].tolist() == [19.5]


def test_columns_as_a_dict_and_a_named_column_absent(town, tmp_path):
    path = _write(
        tmp_path / "capteurs.csv",
        ["Capteur;Quand;Mesure", "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5"],
    )
    ok = import_file(
        town, path, columns={"channel": "Capteur", "timestamp": "Quand", "value": "Mesure"}
    )
    assert (ok.status, ok.rows_inserted) == ("ok", 1)
    bad = import_file(town, path, columns="channel=Capteur,timestamp=Horaire,value=Mesure")
    assert (bad.status, bad.exit_status, bad.format) == ("unreadable", 2, "generic-long")
    assert "colonne(s) « Horaire » introuvable(s)" in bad.message
    assert "colonnes trouvées : « Capteur », « Quand », « Mesure »" in bad.message


def test_bad_columns_are_usage_errors(town, tmp_path, capsys):
    path = _write(tmp_path / "x.csv", ["Capteur;Quand;Mesure", "MAIRIE-CONSEIL-T;01/11/2024;1"])
    cases = {
        "channel=Capteur,value=Mesure": "indiquez aussi timestamp",
        "channel=Capteur,timestamp=Quand,valeur=Mesure,value=Mesure": "le rôle value est donné deux fois",
        "channel=Capteur,timestamp=Quand,value=Mesure,couleur=Rouge": "rôle inconnu « couleur »",
        "channel=Capteur;timestamp=Quand": "n'est pas de la forme rôle=colonne",
    }
    for spec, why in cases.items():
        assert main(["import", str(path), "--columns", spec]) == 2, spec
        assert why in capsys.readouterr().err, spec
        with pytest.raises(ValueError, match=why):
            parse_columns(spec)
    code = main(
        [
            "import",
            str(path),
            "--format",
            "grdf-daily",
            "--columns",
            "channel=a,timestamp=b,value=c",
        ]
    )
    assert code == 2
    assert "ne s'applique qu'au format generic-long" in capsys.readouterr().err
    with town.connect() as conn:  # usage errors open no batch
        assert conn.execute(text("SELECT COUNT(*) FROM import_batch")).scalar_one() == 0


def test_missing_named_column_through_the_cli(town, tmp_path, capsys):
    path = _write(
        tmp_path / "x.csv", ["Capteur;Quand;Mesure", "MAIRIE-CONSEIL-T;01/11/2024 10:00;1"]
    )
    assert (
        main(["import", str(path), "--columns", "channel=Sonde,timestamp=Quand,value=Valeur"]) == 2
    )
    out = capsys.readouterr().out
    assert "colonne(s) « Sonde », « Valeur » introuvable(s)" in out
    assert "colonnes trouvées : « Capteur », « Quand », « Mesure »" in out


# --- an unrecognised file ------------------------------------------------------------------------


def test_unrecognised_file_lists_found_and_expected_columns(town, tmp_path, capsys):
    path = _write(
        tmp_path / "inconnu.csv",
        ["Sonde;Heure;Lecture", "MAIRIE-CONSEIL-T;01/11/2024 10:00;19,5"],
    )
    report = import_file(town, path)
    assert (report.status, report.exit_status) == ("unreadable", 2)
    msg = report.message
    assert "format non reconnu" in msg
    assert "colonnes trouvées : « Sonde », « Heure », « Lecture »" in msg
    assert "attendues pour enedis-load-curve" in msg and "grdf-daily : date, volume" in msg
    assert "generic-long : point, horodatage, valeur" in msg
    assert 'indiquez-les avec --columns "channel=…,timestamp=…,value=…"' in msg
    assert main(["import", str(path), "--format", "generic-long"]) == 2
    out = capsys.readouterr().out
    assert "n'est pas au format generic-long : colonnes trouvées : « Sonde », « Heure »" in out
    assert "attendues pour generic-long : point, horodatage, valeur" in out
    assert "en-tête channel,timestamp,value introuvable" not in out
    assert "--columns" in out


# --- the Enedis supplier-calendar trailer --------------------------------------------------------

CALENDAR_HEADER = ";".join(
    ["Periode", "Identifiant calendrier fournisseur", "Libelle calendrier fournisseur"]
    + [
        f"{what} classe temporelle {i}"
        for i in range(1, 11)
        for what in ("Identifiant", "Libelle", "Cadran")
    ]
    + ["Identifiant calendrier distributeur", "Libelle calendrier distributeur"]
    + [
        f"{what} classe temporelle distributeur {i}"
        for i in range(1, 5)
        for what in ("Identifiant", "Libelle", "Cadran")
    ]
)


def _calendar_row(period: str) -> str:
    supplier = ["HC", "Heures Creuses", "EAS F1", "HP", "Heures Pleines", "EAS F2"] + [""] * 24
    distributor = [
        "HCH", "Heures Creuses Hiver", "EAS D1", "HPH", "Heures Pleines Hiver", "EAS D2",
        "HCE", "Heures Creuses Ete", "EAS D3", "HPE", "Heures Pleines Ete", "EAS D4",
    ]  # fmt: skip
    return ";".join(
        [period, "FC000012", "Option Heures Creuses"]
        + supplier
        + ["DI000003", "Grille TURPE"]
        + distributor
    )


def _enedis_with_calendar(tmp_path, periods, extra=()):
    lines = (SAMPLES / "enedis_index_quotidien.csv").read_text(encoding="utf-8").splitlines()
    lines = lines[:6]  # the metadata block, its header and three days (no meter change)
    lines += ["", CALENDAR_HEADER, *[_calendar_row(p) for p in periods], *extra]
    return _write(tmp_path / "Enedis_Conso_Index.csv", lines)


def test_enedis_supplier_calendar_is_a_note_not_rejected_rows(town, tmp_path, capsys):
    path = _enedis_with_calendar(tmp_path, ["Du 2024-03-01T00:00:00+01:00 au"])
    report = import_file(town, path)
    assert report.format == "enedis-daily-index"
    assert (report.status, report.exit_status) == ("ok", 0)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (3, 3, 0)
    note = (
        "calendrier fournisseur FC000012 « Option Heures Creuses » depuis le 01/03/2024 : "
        "EAS F1 = HC (Heures Creuses), EAS F2 = HP (Heures Pleines) ; calendrier distributeur "
        "DI000003 « Grille TURPE » : EAS D1 = HCH (Heures Creuses Hiver), EAS D2 = HPH (Heures "
        "Pleines Hiver), EAS D3 = HCE (Heures Creuses Ete), EAS D4 = HPE (Heures Pleines Ete)"
    )
    assert report.notes == [note]
    assert note in _message(town, report.batch_id)  # kept with the batch
    got = readings(town, "MAIRIE-ELEC-IDX")
    assert got["value"].tolist() == pytest.approx([12345.678, 12401.678, 12450.0])
    with town.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM rejected_row")).scalar_one() == 0
    assert main(["import", str(path)]) == 0  # again through the CLI: nothing new, still ok
    out = capsys.readouterr().out
    assert "note : calendrier fournisseur FC000012" in out and "EAS F1 = HC" in out


def test_enedis_calendar_across_chunks_with_two_periods_and_a_stray_line(town, tmp_path):
    path = _enedis_with_calendar(
        tmp_path,
        [
            "Du 2024-01-01T00:00:00+01:00 au 2024-03-02T00:00:00+01:00",
            "Du 2024-03-02T00:00:00+01:00 au",
        ],
        extra=["n'importe quoi;FC000012"],
    )
    report = import_file(town, path, chunk_lines=2)  # header and periods in other chunks
    assert (report.rows_inserted, report.rows_rejected) == (3, 1)
    assert [n.split(" : ")[0] for n in report.notes] == [
        "calendrier fournisseur FC000012 « Option Heures Creuses » du 01/01/2024 au 02/03/2024",
        "calendrier fournisseur FC000012 « Option Heures Creuses » depuis le 02/03/2024",
    ]
    (rej,) = report.rejected
    assert rej["line_no"] == 11
    assert "ligne du calendrier fournisseur illisible" in rej["reason"]
    assert rej["raw"] == "n'importe quoi;FC000012"
