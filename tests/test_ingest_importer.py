"""The batch: idempotent re-import, overlapping files, strict mode, contractor scope,
streaming line numbers, unreadable files and the CLI's exit statuses and listings."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from carnet.access import Actor, scope_of
from carnet.db import session_scope
from carnet.models import Contract, ImportBatch
from carnet.roles import CONTRACTOR
from carnet_cli.main import main
from ingest.importer import import_file
from tests.helpers.ingest_support import SAMPLES, count, load_samples, readings, rejected, utc


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _long(path, rows):
    path.write_text(
        "channel,timestamp,value\n" + "".join(f"{c},{t},{v}\n" for c, t, v in rows),
        encoding="utf-8",
    )
    return path


def test_reimport_changes_nothing_and_says_so(town):
    first = import_file(town, SAMPLES / "generic_long.csv")
    n = count(town, "reading")
    again = import_file(town, SAMPLES / "generic_long.csv")
    assert count(town, "reading") == n
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert again.rows_unchanged == first.rows_inserted
    assert again.previous_batch_id == first.batch_id
    assert f"lot n° {first.batch_id}" in again.message
    assert again.sha256 == first.sha256 and len(again.sha256) == 64


def test_overlapping_file_updates_only_what_differs(town, tmp_path):
    day = [f"2024-12-01T{h:02d}:00:00+01:00" for h in range(6)]
    import_file(town, _long(tmp_path / "a.csv", [("MAIRIE-CONSEIL-T", t, 19) for t in day[:4]]))
    b = _long(
        tmp_path / "b.csv",
        [("MAIRIE-CONSEIL-T", day[2], 19), ("MAIRIE-CONSEIL-T", day[3], 20.5)]
        + [("MAIRIE-CONSEIL-T", t, 21) for t in day[4:]],
    )
    report = import_file(town, b)
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (2, 1, 1)
    values = readings(town, "MAIRIE-CONSEIL-T")["value"].tolist()
    assert values == [19, 19, 19, 20.5, 21, 21]
    assert readings(town, "MAIRIE-CONSEIL-T")["batch_id"].tolist()[3] == report.batch_id


def test_strict_is_all_or_nothing(town, tmp_path):
    path = _long(
        tmp_path / "s.csv",
        [
            ("MAIRIE-CONSEIL-T", "2024-12-01T00:00:00Z", 19),
            ("MAIRIE-CONSEIL-T", "2024-12-01T01:00:00Z", "x"),
            ("MAIRIE-CONSEIL-T", "2024-12-01T02:00:00Z", 20),
        ],
    )
    report = import_file(town, path, strict=True, chunk_lines=1)
    assert report.status == "failed" and report.exit_status == 1
    assert count(town, "reading") == 0
    assert (report.rows_read, report.rows_rejected) == (3, 3)
    rej = rejected(town, report.batch_id)
    assert rej["line_no"].tolist() == [3]  # the line at fault, with its text
    assert rej["raw"].iloc[0] == "MAIRIE-CONSEIL-T,2024-12-01T01:00:00Z,x"
    loose = import_file(town, path)
    assert (loose.rows_inserted, loose.rows_rejected) == (2, 1)


def test_strict_rolls_back_a_meter_change_too(town):
    report = import_file(town, SAMPLES / "grdf_quotidien.csv", strict=True)
    assert report.status == "ok"  # a clean file passes strict mode
    assert count(town, "index_reset") == 1


def test_contractor_only_into_its_contract_channels(town):
    with session_scope(town) as s:
        contract_id = s.scalar(select(Contract.id).where(Contract.code == "CHAUFF-2024"))
    allowed = scope_of(town, Actor("exploitant", CONTRACTOR, contract_id)).channel_ids
    wide = import_file(town, SAMPLES / "generic_wide.csv", allowed_channel_ids=allowed)
    # MAIRIE is in the contract, ECOLE-JAURES is not: its 6 values are refused
    assert (wide.rows_inserted, wide.rows_rejected) == (3, 6)
    reasons = {r["reason"] for r in wide.rejected}
    assert "le point de mesure JAURES-DEPART-T n'appartient pas à votre contrat" in reasons
    assert all(r["raw"] for r in wide.rejected)
    assert readings(town, "JAURES-DEPART-T").empty


def test_streaming_keeps_line_numbers_and_repeated_hour_order_across_chunks(town, tmp_path):
    path = tmp_path / "fr.csv"
    lines = ["point;horodate;valeur"]
    lines += [f"MAIRIE-CONSEIL-T;27/10/2024 0{h}:00;{h},5" for h in (0, 1, 2)]
    lines += ["", "MAIRIE-CONSEIL-T;27/10/2024 02:00;2,6", "MAIRIE-CONSEIL-T;bad;1"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(town, path, chunk_lines=2)
    assert report.rows_inserted == 4
    t = readings(town, "MAIRIE-CONSEIL-T").set_index("ts")["value"]
    assert t[utc("2024-10-27T00:00:00Z")] == 2.5 and t[utc("2024-10-27T01:00:00Z")] == 2.6
    assert [r["line_no"] for r in report.rejected] == [7]  # blank line 5 still counted


def test_unreadable_files(town, tmp_path):
    missing = import_file(town, tmp_path / "absent.csv")
    assert missing.status == "unreadable" and missing.exit_status == 2
    junk = tmp_path / "junk.csv"
    junk.write_text("bonjour\nrien à voir\n")
    report = import_file(town, junk)
    assert report.exit_status == 2 and "format non reconnu" in report.message
    with session_scope(town) as s:
        statuses = s.scalars(select(ImportBatch.status)).all()
    assert statuses == ["unreadable", "unreadable"]


def test_cli_exit_statuses_and_listings(town, tmp_path, capsys):
    assert main(["import", str(SAMPLES / "grdf_quotidien.csv")]) == 0
    assert main(["import", str(SAMPLES / "generic_long.csv")]) == 1
    out = capsys.readouterr().out
    assert "generic-long" in out and "ligne 11" in out
    junk = tmp_path / "x.csv"
    junk.write_text("???\n")
    assert main(["import", str(SAMPLES / "meteo_quotidien.csv"), str(junk)]) == 2
    capsys.readouterr()
    assert main(["batches", "--json"]) == 0
    batches = json.loads(capsys.readouterr().out)
    assert [b["status"] for b in batches][:2] == ["unreadable", "partial"]
    long_batch = next(b for b in batches if b["source"].endswith("generic_long.csv"))
    assert main(["import", "--rejected", str(long_batch["id"]), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["line_no"] for r in listed["rejected"]] == [11, 12, 13]
    assert main(["batches", "--rejected", "999"]) == 2
    assert main(["import", str(SAMPLES / "grdf_quotidien.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["rows_unchanged"] == report["rows_read"] and report["previous_batch_id"]


def test_damaged_xlsx_is_unreadable(town, tmp_path):
    path = tmp_path / "grdf.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    report = import_file(town, path)
    assert report.status == "unreadable" and "XLSX illisible" in report.message
