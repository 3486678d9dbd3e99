"""Hostile files, generated at test time: every one is read without guessing, at a bounded
cost (asserted in bytes and rows), and never produces a traceback.

Each file states what it attacks: ambiguous numbers, stray bytes in a UTF-8 file, UTF-16,
quoted fields spanning lines, NUL and control characters, year 9999, a field, a line or a
header over the limits, many unknown columns, XLSX zip bombs and huge shared strings. The
peak memory of `carnet import` is measured in a subprocess (`resource.getrusage`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import text

from carnet.kinds import Quality
from carnet_cli.main import main
from ingest import limits
from ingest.importer import import_file
from tests.helpers.ingest_support import (
    assert_accounted,
    count,
    load_samples,
    readings,
    rejected,
    utc,
)

PEAK_RSS_BYTES = 300 * 1024 * 1024


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _batch(engine, batch_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT status, rows_read, rows_inserted, rows_updated, rows_unchanged,"
                " rows_rejected, rows_quarantined FROM import_batch WHERE id = :b"
            ),
            {"b": batch_id},
        ).one()
    return dict(row._mapping)


def _rejected_bytes(engine, batch_id: int) -> tuple[int, int, int]:
    """(rows, total characters of raw text, longest raw) stored for a batch."""
    with engine.connect() as conn:
        n, total, longest = conn.execute(
            text(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(raw)), 0), COALESCE(MAX(LENGTH(raw)), 0)"
                " FROM rejected_row WHERE batch_id = :b"
            ),
            {"b": batch_id},
        ).one()
    return int(n), int(total), int(longest)


# --- numbers -----------------------------------------------------------------------------------


def test_ambiguous_numbers_are_rejected_with_both_readings(town, tmp_path):
    path = tmp_path / "virgule.csv"
    path.write_text(
        "point;horodate;valeur\n"
        "MAIRIE-CONSEIL-T;01/12/2024 07:00;20,5\n"  # the file's decimal comma
        "MAIRIE-CONSEIL-T;01/12/2024 08:00;19,5\n"
        "MAIRIE-CONSEIL-T;01/12/2024 09:00;1.280\n"  # 1,28 or 1 280?
        "MAIRIE-CONSEIL-T;01/12/2024 10:00;1,234.5\n"  # comma as thousands: contrary
        "MAIRIE-CONSEIL-T;01/12/2024 11:00;20.25\n"  # a dot that cannot group thousands
        "MAIRIE-CONSEIL-T;01/12/2024 12:00;21,25\n"
        "MAIRIE-GAZ;01/10/2024 00:00;1\u00a0234,5\n"  # blank thousands
        "MAIRIE-GAZ;01/11/2024 00:00;1.240,5\n"  # dot thousands, comma decimals
        "MAIRIE-GAZ;01/12/2024 00:00;1 250\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert_accounted(report)
    assert (report.rows_read, report.rows_rejected, report.rows_quarantined) == (9, 2, 0)
    rej = rejected(town, report.batch_id).set_index("line_no")["reason"]
    assert rej[4].startswith("nombre ambigu « 1.280 » : 1,28 ou 1\u00a0280 ? (le fichier a la")
    assert "contraire" in rej[5] and "1,234.5" in rej[5]
    got = readings(town, "MAIRIE-CONSEIL-T").set_index("ts")["value"]
    assert got[utc("2024-12-01T08:00:00+01:00")] == 19.5
    assert got[utc("2024-12-01T11:00:00+01:00")] == 20.25
    assert utc("2024-12-01T09:00:00+01:00") not in got.index  # never stored as 1.28
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1234.5, 1240.5, 1250.0]


def test_decimal_point_file_rejects_contrary_and_ambiguous_commas(town, tmp_path):
    path = tmp_path / "point.csv"
    path.write_text(
        "point;horodate;valeur\n"
        "MAIRIE-CONSEIL-T;01/12/2024 06:00;19.5\n"  # the file's decimal point
        "MAIRIE-CONSEIL-T;01/12/2024 07:00;20.75\n"
        "MAIRIE-CONSEIL-T;01/12/2024 08:00;19.25\n"
        "MAIRIE-CONSEIL-T;01/12/2024 09:00;1.234,5\n"  # dot as thousands: contrary
        "MAIRIE-CONSEIL-T;01/12/2024 10:00;1,280\n",  # 1,28 or 1 280?
        encoding="utf-8",
    )
    report = import_file(town, path)
    rej = rejected(town, report.batch_id).set_index("line_no")["reason"]
    assert "contraire" in rej[5]
    assert rej[6].startswith("nombre ambigu « 1,280 » : 1,28 ou 1\u00a0280 ? (le fichier a le")
    assert readings(town, "MAIRIE-CONSEIL-T")["value"].tolist() == [19.5, 20.75, 19.25]


def test_ambiguous_gas_index_invents_no_meter_replacement(town, tmp_path):
    """The first round read 1.280 as 1,28 and logged a "Changement de compteur"."""
    path = tmp_path / "gaz.csv"
    path.write_text(
        "point;horodate;valeur\n"
        "MAIRIE-GAZ;01/11/2024 00:00;1 275,5\n"
        "MAIRIE-GAZ;02/11/2024 00:00;1.280\n"
        "MAIRIE-GAZ;03/11/2024 00:00;1 284,0\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert_accounted(report)
    assert [r["line_no"] for r in report.rejected] == [3]
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1275.5, 1284.0]
    assert count(town, "index_reset") == 0 and report.meter_changes == []


# --- encodings -------------------------------------------------------------------------------


def _quality_file(stray_line: int | None = None) -> bytes:
    lines = ["point;horodate;valeur;qualité"]
    for h in range(8):
        lines.append(f"MAIRIE-CONSEIL-T;01/12/2024 {h:02d}:00;19,{h};{'estimé' if h % 2 else ''}")
    data = [ln.encode("utf-8") for ln in lines]
    if stray_line is not None:  # one cp1252 "é" (0xE9) on that line, the rest is UTF-8
        data[stray_line - 1] = data[stray_line - 1].replace("é".encode(), b"\xe9")
    return b"\n".join(data) + b"\n"


def test_one_stray_byte_keeps_the_utf8_header_and_the_estimated_flags(town, tmp_path):
    path = tmp_path / "presque-utf8.csv"
    path.write_bytes(_quality_file(stray_line=5))  # line 5: 03:00, estimated
    report = import_file(town, path)
    assert_accounted(report)
    assert report.rows_inserted == 8 and report.rows_rejected == 0
    got = readings(town, "MAIRIE-CONSEIL-T")
    estimated = [Quality.ESTIMATED if h % 2 else Quality.MEASURED for h in range(8)]
    assert got["quality"].tolist() == estimated  # line 5 included
    assert any("octets hors UTF-8" in n and "lignes 5" in n for n in report.notes)


def test_utf16_files_with_bom_read_as_utf8(town, tmp_path):
    content = _quality_file().decode("utf-8")
    for name, data in (
        ("le.csv", b"\xff\xfe" + content.encode("utf-16-le")),
        ("be.csv", b"\xfe\xff" + content.encode("utf-16-be")),
    ):
        (tmp_path / name).write_bytes(data)
    le = import_file(town, tmp_path / "le.csv")
    assert le.format == "generic-long" and le.rows_inserted == 8
    be = import_file(town, tmp_path / "be.csv")
    assert be.rows_unchanged == 8  # the same values, flags included
    assert readings(town, "MAIRIE-CONSEIL-T")["quality"].tolist()[:2] == [0, Quality.ESTIMATED]


# --- quoted fields -----------------------------------------------------------------------------


def test_quoted_fields_spanning_lines_keep_physical_line_numbers(town, tmp_path):
    path = tmp_path / "enregistreur.csv"
    path.write_text(
        "Date/Heure;T départ (°C);T retour (°C);Heures brûleur;Commentaire\n"
        '01/12/2024 06:00:00;62,5;45,0;1520,0;"visite ; purge\nfaite le matin"\n'
        "01/12/2024 07:00:00;---;49,5;1520,8;\n"
        '01/12/2024 08:00:00;"61,\n5";50,0;1521,6;\n'
        '01/12/2024 09:00:00;66,0;48,0;1522,3;"jamais refermé\n'
        "01/12/2024 10:00:00;65,0;47,5;1523,0;\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert_accounted(report)
    assert report.format == "logger"
    by_line = {r["line_no"]: r["reason"] for r in report.rejected}
    assert "« --- »" in by_line[4]  # physical line 4: line 2-3 was one record
    assert "« 61,\n5 »" in by_line[5]  # one field across lines: rejected, never "61"
    assert "guillemet" in by_line[7]  # an unclosed quote: that line only
    flow = readings(town, "JAURES-DEPART-T")
    assert flow["value"].tolist() == [62.5, 65.0]  # 06:00 and 10:00 (after the bad quote)


# --- NUL, control characters, timestamps out of range --------------------------------------------


def test_nul_and_control_characters_are_rejected_rows(town, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(
        b"point;horodate;valeur\n"
        b"MAIRIE-CONSEIL-T;01/12/2024 08:00;19,5\n"
        b"MAIRIE-CONSEIL-T;01/12/2024 09:00;1\x009,5\n"
        b"MAIRIE-CONSEIL-T;01/12/2024 10:00;19,\x015\n"
        b'MAIRIE-CONSEIL-T;01/12/2024 11:00;"19,\x006"\n'
    )
    report = import_file(town, path)  # PostgreSQL refuses NUL in text: never sent to it
    assert_accounted(report)
    assert (report.rows_inserted, report.rows_rejected, report.exit_status) == (1, 3, 1)
    rej = rejected(town, report.batch_id)
    assert rej["line_no"].tolist() == [3, 4, 5]
    assert "U+0000 (NUL)" in rej["reason"].iloc[0] and "U+0001" in rej["reason"].iloc[1]
    assert rej["raw"].iloc[0] == "MAIRIE-CONSEIL-T;01/12/2024 09:00;1\u24009,5"
    assert not any("\x00" in (r or "") for r in rej["raw"])


def test_timestamps_beyond_the_admitted_years_are_rejected_not_crashed(town, tmp_path):
    path = tmp_path / "an9999.csv"
    path.write_text(
        "channel,timestamp,value\n"
        "MAIRIE-CONSEIL-T,2024-12-01T08:00:00+01:00,19.5\n"
        "MAIRIE-CONSEIL-T,9999-12-31T23:00:00Z,19.5\n"
        "MAIRIE-CONSEIL-T,9999-12-31T23:30:00-05:00,19.5\n"  # year 10000 in UTC
        "MAIRIE-CONSEIL-T,31/12/9999 23:00,19.5\n"
        "MAIRIE-CONSEIL-T,0001-01-01T00:00:00Z,19.5\n"
        "MAIRIE-CONSEIL-T,99999-01-01T00:00:00Z,19.5\n",  # beyond any datetime
        encoding="utf-8",
    )
    assert main(["import", str(path)]) == 1
    report = import_file(town, path)
    assert_accounted(report)
    assert report.rows_rejected == 5 and report.rows_unchanged == 1
    reasons = [r["reason"] for r in report.rejected]
    assert sum("hors de la plage admise" in r for r in reasons) == 4
    grdf = tmp_path / "grdf.csv"
    grdf.write_text(
        "PCE;GI000123\nDate;Index de début;Index de fin;Volume (m3);Énergie (kWh);Coefficient\n"
        "31/12/9999;100;110;10,0;112,0;11,2\n",
        encoding="utf-8",
    )
    gas = import_file(town, grdf)
    assert gas.rows_rejected == 1 and "date hors de la plage admise" in gas.rejected[0]["reason"]


# --- limits per line ---------------------------------------------------------------------------


def test_fields_lines_and_columns_over_the_limits_are_rejected_rows(town, tmp_path):
    path = tmp_path / "longs.csv"
    good = "MAIRIE-CONSEIL-T;01/12/2024 {h}:00;19,5\n"
    path.write_text(
        "point;horodate;valeur\n"
        + good.format(h="08")
        + "MAIRIE-CONSEIL-T;01/12/2024 09:00;"
        + "9" * (128 * 1024)
        + "\n"  # a 128 KiB field
        + "MAIRIE-CONSEIL-T;01/12/2024 10:00;"
        + "9" * (limits.MAX_FIELD_CHARS + 1)
        + "\n"
        + "MAIRIE-CONSEIL-T;01/12/2024 11:00;19,5"
        + ";" * limits.MAX_COLUMNS
        + "\n"
        + good.format(h="12"),
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert_accounted(report)
    assert (report.rows_inserted, report.rows_rejected) == (2, 3)
    by_line = {r["line_no"]: r["reason"] for r in report.rejected}
    assert by_line[3].startswith("ligne trop longue")
    assert by_line[4].startswith("champ trop long : 4\u00a0097 caractères")
    assert by_line[5].startswith("trop de colonnes : 503")
    n, total, longest = _rejected_bytes(town, report.batch_id)
    assert n == 3 and longest <= limits.MAX_RAW_CHARS


def test_header_wider_than_the_column_limit_is_unreadable(town, tmp_path):
    path = tmp_path / "large.csv"
    path.write_text(
        "horodate;" + ";".join(f"C{i}" for i in range(limits.MAX_COLUMNS + 100)) + "\n",
        encoding="utf-8",
    )
    report = import_file(town, path)
    assert report.status == "unreadable" and report.exit_status == 2
    assert "en-tête de plus de 500 colonnes (500 au plus par ligne)" in report.message


def test_formats_sorted_at_the_end_refuse_more_rows_than_they_may_hold(town, tmp_path, monkeypatch):
    """The Enedis load curve keeps its rows (as numbers) until the end of the file: bounded."""
    from tests.helpers.ingest_support import SAMPLES

    monkeypatch.setattr(limits, "MAX_DEFERRED_ROWS", 3)  # the sample holds more rows
    report = import_file(town, SAMPLES / "enedis_courbe_de_charge.csv", chunk_lines=2)
    assert report.status == "unreadable" and report.exit_status == 2
    assert "plus de 3 lignes" in report.message and "découpez-le" in report.message
    assert _batch(town, report.batch_id)["rows_read"] == 0 and count(town, "reading") == 0


def _wide_unknown(path, n_lines: int, n_cols: int = limits.MAX_COLUMNS) -> int:
    """A wide file of `n_cols - 1` unknown channel columns; returns its size in bytes."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("horodate;" + ";".join(f"INCONNU-{i:03d}" for i in range(n_cols - 1)) + "\n")
        cells = ";".join("1" for _ in range(n_cols - 1))
        for k in range(n_lines):
            f.write(f"0{1 + k % 9}/12/2024 {k % 24:02d}:{k % 60:02d};{cells}\n")
    return path.stat().st_size


def test_many_unknown_columns_cost_a_bounded_number_of_rejected_rows(town, tmp_path):
    """The first round kept the whole line for every rejected cell: 800 MB for 170 KB."""
    path = tmp_path / "inconnues.csv"
    size = _wide_unknown(path, 400)
    report = import_file(town, path)
    assert_accounted(report)
    values = 400 * (limits.MAX_COLUMNS - 1)
    assert report.rows_rejected == values and report.rows_inserted == 0
    assert report.exit_status == 1
    n, total, longest = _rejected_bytes(town, report.batch_id)
    kept = limits.MAX_REJECTED_KEPT + limits.MAX_REASON_GROUPS + 1
    assert n <= kept and total <= kept * limits.MAX_RAW_CHARS  # vs size * 499 before
    assert total < size * 6
    summary = [r for r in rejected(town, report.batch_id)["reason"] if r.startswith("[résumé")]
    assert len(summary) == 1
    assert f"{values - limits.MAX_REJECTED_KEPT:,}".replace(",", "\u00a0") in summary[0]
    strict = import_file(town, path, strict=True)
    assert strict.status == "failed" and _rejected_bytes(town, strict.batch_id)[0] <= kept


def test_rejects_beyond_the_kept_ones_are_summarised_by_reason(town, tmp_path, monkeypatch):
    from ingest import rejects

    monkeypatch.setattr(rejects, "KEEP_REJECTED_IN_REPORT", 2)
    monkeypatch.setattr(limits, "MAX_REASON_GROUPS", 1)  # then « autres motifs »
    path = tmp_path / "motifs.csv"
    lines = ["channel,timestamp,value"]
    for h in range(4):
        lines += [
            f"MAIRIE-CONSEIL-T,2024-12-01T0{h}:00:00Z,x{h}",  # unreadable value
            f"INCONNU-{h},2024-12-01T0{h}:00:00Z,19.5",  # unknown channel
            f"MAIRIE-CONSEIL-T,2024-13-0{h + 1}T00:00:00Z,19.5",  # unreadable timestamp
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(town, path, chunk_lines=4)
    assert_accounted(report)
    assert report.rows_rejected == 12
    rej = rejected(town, report.batch_id)
    assert len(rej) == 2 + 2  # two kept whole, one reason summarised, then the others
    summaries = rej["reason"][rej["reason"].str.startswith("[résumé")].tolist()
    counted = [int(re.search(r"\] (\d+) rejet", r).group(1)) for r in summaries]
    assert sum(counted) == 12 - 2 and any("(autres motifs)" in r for r in summaries)
    assert all(raw for raw in rej["raw"])  # each summary keeps its sample's text
    assert any("résumés par motif" in n for n in report.notes)


# --- XLSX ------------------------------------------------------------------------------------

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName='
    '"/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.sharedStrings+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org'
    '/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006'
    '/relationships"><sheets><sheet name="F1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
    'sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org'
    b'/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = b"</sheetData></worksheet>"


def _xlsx(path, sheet_chunks, shared_chunks=None) -> None:
    """A workbook written part by part (the parts are streamed, never held whole)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (
            ("[Content_Types].xml", _CT),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _WB),
            ("xl/_rels/workbook.xml.rels", _WB_RELS),
        ):
            z.writestr(name, data)
        for name, chunks in (
            ("xl/worksheets/sheet1.xml", sheet_chunks),
            ("xl/sharedStrings.xml", shared_chunks),
        ):
            if chunks is None:
                continue
            with z.open(name, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)


def _bomb_rows(megabytes: int):
    yield _SHEET_HEAD
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000
    for _ in range(megabytes * (1 << 20) // len(row) + 1):
        yield row
    yield _SHEET_TAIL


def _shared(n: int, pad: str = ""):
    yield f'<?xml version="1.0" encoding="UTF-8"?><sst count="{n}" uniqueCount="{n}">'.encode()
    for start in range(0, n, 1000):
        yield "".join(
            f"<si><t>s{i}{pad}</t></si>" for i in range(start, min(n, start + 1000))
        ).encode()
    yield b"</sst>"


_ONE_CELL = [_SHEET_HEAD + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + _SHEET_TAIL]


@pytest.mark.parametrize(
    ("name", "build", "message"),
    [
        ("bombe.xlsx", lambda p: _xlsx(p, _bomb_rows(200)), "une fois décompressé"),
        ("taux.xlsx", lambda p: _xlsx(p, _bomb_rows(16)), "fois (100 au plus)"),
        ("chaines.xlsx", lambda p: _xlsx(p, _ONE_CELL, _shared(210_000)), "chaînes partagées"),
        (
            "grosses.xlsx",
            lambda p: _xlsx(p, _ONE_CELL, _shared(170_000, "é" * 60)),
            "les chaînes partagées « xl/sharedStrings.xml » fait",
        ),
    ],
)
def test_hostile_workbooks_are_refused_before_expanding(town, tmp_path, name, build, message):
    path = tmp_path / name
    build(path)
    assert path.stat().st_size < 4 * 1024 * 1024  # small on disk
    report = import_file(town, path)
    assert report.status == "unreadable" and report.exit_status == 2
    assert report.message.startswith(f"classeur XLSX refusé : {name}") and message in report.message
    assert main(["import", str(path)]) == 2
    assert _batch(town, report.batch_id)["rows_read"] == 0


def test_workbook_cells_over_the_limits_are_rejected_rows(town, tmp_path):
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["point", "horodate", "valeur"])
    ws.append(["MAIRIE-CONSEIL-T", "01/12/2024 08:00", 19.5])
    ws.append(["MAIRIE-CONSEIL-T", "01/12/2024 09:00", "x" * (limits.MAX_FIELD_CHARS + 10)])
    ws.append(["MAIRIE-CONSEIL-T", "01/12/2024 10:00", 12.041])  # a number: never ambiguous
    ws.append(["MAIRIE-CONSEIL-T", "01/12/2024 11:00", "1.280"])  # text: ambiguous
    ws.append(["MAIRIE-CONSEIL-T", "31/12/9999 12:00", 19.5])
    ws.append(["MAIRIE-CONSEIL-T", "01/12/2024 13:00", 19.5] + ["x"] * limits.MAX_COLUMNS)
    path = tmp_path / "releves.xlsx"
    wb.save(path)
    report = import_file(town, path)
    assert_accounted(report)
    assert report.format == "generic-long"
    by_line = {r["line_no"]: r["reason"] for r in report.rejected}
    assert sorted(by_line) == [3, 5, 6, 7]
    assert by_line[3].startswith("champ trop long") and "ambigu" in by_line[5]
    assert "hors de la plage" in by_line[6] and by_line[7].startswith("trop de colonnes")
    assert readings(town, "MAIRIE-CONSEIL-T")["value"].tolist() == [19.5, 12.041]


# --- batches never claim what they did not write ---------------------------------------------


def _refuse_rejected_rows(engine) -> None:
    """A real database refusal (as PostgreSQL refused NUL bytes): a trigger on rejected_row."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                    " RAISE EXCEPTION 'refus du serveur'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON rejected_row"
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON rejected_row"
                    " BEGIN SELECT RAISE(ABORT, 'refus du serveur'); END"
                )
            )


def test_an_unexpected_failure_leaves_a_batch_that_claims_nothing(town, tmp_path, capsys):
    path = tmp_path / "refus.csv"
    path.write_text(
        "channel,timestamp,value\n"
        + "".join(f"MAIRIE-CONSEIL-T,2024-12-01T0{h}:00:00Z,19.5\n" for h in range(4))
        + "MAIRIE-CONSEIL-T,2024-12-01T05:00:00Z,abc\n",
        encoding="utf-8",
    )
    _refuse_rejected_rows(town)
    report = import_file(town, path, chunk_lines=2)  # two chunks written before the refusal
    assert report.status == "failed" and report.exit_status == 1
    assert "erreur inattendue" in report.message and "rien n'a été importé" in report.message
    stored = _batch(town, report.batch_id)
    assert stored["status"] == "failed"
    assert [stored[k] for k in stored if k.startswith("rows_")] == [0] * 6
    assert count(town, "reading") == 0 and count(town, "rejected_row") == 0
    capsys.readouterr()
    assert main(["import", str(path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


# --- from the page ---------------------------------------------------------------------------


def test_page_upload_of_hostile_files_answers_in_french(db_url, tmp_path):
    import base64

    from carnet.db import get_engine
    from dashboards.app import create_app
    from tests.helpers.browser import LOGIN_OF_ROLE, dash_callback_payload, password_of, seed_users
    from tests.helpers.web_client import page_content, sign_in

    engine = get_engine(db_url)
    seed_users(engine)
    load_samples(engine)
    app = create_app(db_url)
    assert app.server.config["MAX_CONTENT_LENGTH"] >= limits.UPLOAD_REQUEST_BYTES
    client = app.server.test_client()
    login = LOGIN_OF_ROLE["manager"]
    assert sign_in(client, login, password_of(login)).status_code == 302
    page = json.dumps(page_content(client, "/imports").get_json(), ensure_ascii=False)
    assert f"{limits.fr_size(limits.MAX_UPLOAD_BYTES)} au plus par envoi" in page
    assert f'"max_size": {limits.MAX_UPLOAD_BYTES}' in page  # shown = enforced
    bomb = tmp_path / "bombe.xlsx"
    _xlsx(bomb, _bomb_rows(200))
    files = {
        "bombe.xlsx": bomb.read_bytes(),
        "nul.csv": b"point;horodate;valeur\nMAIRIE-CONSEIL-T;01/12/2024 08:00;1\x009,5\n",
    }
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(
        deps,
        "imp-result",
        {
            "imp-upload.contents": [
                "data:application/octet-stream;base64," + base64.b64encode(d).decode()
                for d in files.values()
            ],
            "imp-upload.filename": list(files),
            "imp-format.value": "",
            "imp-strict.value": [],
        },
    )
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    body = json.dumps(response.get_json(), ensure_ascii=False)
    assert "classeur XLSX refusé : bombe.xlsx" in body and "bombe zip" in body
    assert "caractère de contrôle U+0000 (NUL)" in body


# --- peak memory, in a subprocess running carnet import ---------------------------------------

_MEASURE = (
    "import json, resource, sys\n"
    "from carnet_cli.main import main\n"
    "status = main(['import', '--json', *sys.argv[1:]])\n"
    # VmHWM belongs to this program's own address space; ru_maxrss would carry over, across
    # exec, the size of the (large) test worker that forked it
    "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
    "peak = int(hwm[0].split()[1]) * 1024 if hwm else"
    " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
    "print(json.dumps({'status': status, 'peak_bytes': peak}), file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def _carnet_import(path) -> tuple[int, int, list[dict]]:
    """(exit status, peak resident bytes, JSON reports) of `carnet import PATH`, run alone."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    measured = json.loads(done.stderr.strip().splitlines()[-1])
    return done.returncode, measured["peak_bytes"], json.loads(done.stdout)


def test_peak_memory_is_bounded_whatever_the_file(town, tmp_path):
    long_line = tmp_path / "ligne-geante.csv"
    with open(long_line, "w", encoding="utf-8") as f:
        f.write("point;horodate;valeur\nMAIRIE-CONSEIL-T;01/12/2024 08:00;")
        for _ in range(100):  # one line of 100 MB: never held whole
            f.write("9" * (1 << 20))
        f.write("\nMAIRIE-CONSEIL-T;01/12/2024 09:00;19,5\n")
    status, peak, [report] = _carnet_import(long_line)
    assert status == 1 and (report["rows_inserted"], report["rows_rejected"]) == (1, 1)
    assert peak < PEAK_RSS_BYTES, peak
    n, total, _ = _rejected_bytes(town, report["batch_id"])
    assert n == 1 and total <= limits.MAX_RAW_CHARS

    bomb = tmp_path / "bombe.xlsx"
    _xlsx(bomb, _bomb_rows(200))
    status, peak, [report] = _carnet_import(bomb)
    assert status == 2 and report["status"] == "unreadable" and peak < PEAK_RSS_BYTES

    wide = tmp_path / "inconnues.csv"
    _wide_unknown(wide, 2000)  # 2 MB, a million rejected values
    status, peak, [report] = _carnet_import(wide)
    assert status == 1 and report["rows_rejected"] == 2000 * (limits.MAX_COLUMNS - 1)
    assert peak < PEAK_RSS_BYTES, peak
    n, total, _ = _rejected_bytes(town, report["batch_id"])
    assert n <= limits.MAX_REJECTED_KEPT + limits.MAX_REASON_GROUPS + 1
    assert total <= n * limits.MAX_RAW_CHARS
