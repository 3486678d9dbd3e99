"""Quarantine (carnet.quarantine) and its CLI: holding, listing, each decision with its audit
event, the manager-only rule, declared meter replacements, and the importer's accounting of
held readings (exit 1, summary, strict mode, re-import)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select, text

from carnet.db import session_scope
from carnet.kinds import Quality
from carnet.models import AuditEvent, ImportBatch, IndexReset, LogbookEntry
from carnet.portfolio import load_portfolio
from carnet.quarantine import (
    LIST_COLUMNS,
    QuarantineError,
    accept,
    declare_replacement,
    hold,
    list_held,
    reject,
)
from carnet.users import set_user
from carnet_cli.main import main
from ingest.importer import import_file
from tests.helpers.ingest_support import channel_id, count, daily, load_samples, readings, utc

GAS_LIMIT = {
    "buildings": [
        {
            "code": "MAIRIE",
            "name": "Hôtel de ville",
            "channels": [
                # 250 kW at 11.2 kWh/m3: at most 22,3 m3 an hour
                {
                    "code": "MAIRIE-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": 11.2,
                    "max_kw": 250,
                },
            ],
        }
    ]
}


@pytest.fixture
def town(engine):
    load_samples(engine)
    with session_scope(engine) as s:
        load_portfolio(s, GAS_LIMIT)
        set_user(s, "agent1", "agent")
    return engine


def _gas_file(path, rows):
    path.write_text(
        "channel,timestamp,value\n" + "".join(f"MAIRIE-GAZ,{t},{v}\n" for t, v in rows),
        encoding="utf-8",
    )
    return path


HOURS = [f"2025-01-10T{h:02d}:00:00+01:00" for h in range(8)]


def _audit(engine, entity="quarantined_reading"):
    with session_scope(engine) as s:
        return [
            (e.actor, e.action, e.entity_id, e.before, e.after)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.entity == entity))
        ]


def run(capsys, *argv) -> tuple[int, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out + out.err


# --- the importer holds what is implausible -------------------------------------------------


def test_a_jump_is_held_with_file_line_raw_and_reason(town, tmp_path):
    path = _gas_file(
        tmp_path / "g.csv",
        [(HOURS[0], 1000), (HOURS[1], 1010), (HOURS[2], 51018), (HOURS[3], 1020)],
    )
    report = import_file(town, path)
    assert (report.rows_inserted, report.rows_quarantined) == (3, 1)
    assert report.rows_read == 4 and report.exit_status == 1 and report.status == "partial"
    assert "1 relevé mis en quarantaine (saut d'index) : voir carnet quarantine list." in (
        report.message
    )
    held = list_held(town)
    assert list(held.columns) == LIST_COLUMNS
    row = held.iloc[0]
    assert (row.channel_code, row.building_code, row.value, row.unit) == (
        "MAIRIE-GAZ",
        "MAIRIE",
        51018.0,
        "m3",
    )
    assert (row.file, int(row.line_no), row.reason_code, row.status) == (
        str(path),
        4,
        "jump",
        "held",
    )
    assert row.raw == f"MAIRIE-GAZ,{HOURS[2]},51018"
    assert row["at"] == dt.datetime(2025, 1, 10, 1, tzinfo=dt.UTC)
    assert row.reason.startswith("+50\u202f008 m³ en 1 h, soit 560\u202f090 kW")
    assert "au-delà de la limite du point de mesure (250 kW)" in row.reason
    assert int(row.batch_id) == report.batch_id
    # nothing of it is stored; the reading after it was compared with 1010, not 51018
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1000, 1010, 1020]
    with town.connect() as conn:
        n = conn.execute(
            text("SELECT rows_quarantined FROM import_batch WHERE id = :b"),
            {"b": report.batch_id},
        ).scalar()
    assert n == 1
    # importing the same file again holds nothing twice and says the same
    again = import_file(town, path)
    assert (again.rows_unchanged, again.rows_quarantined, again.exit_status) == (3, 1, 1)
    assert count(town, "quarantined_reading") == 1


def test_strict_mode_fails_the_file_on_a_held_reading(town, tmp_path):
    path = _gas_file(tmp_path / "g.csv", [(HOURS[0], 1000), (HOURS[1], 51018)])
    report = import_file(town, path, strict=True)
    assert report.status == "failed" and report.exit_status == 1
    assert report.rows_inserted == 0 and report.rows_rejected == 2
    assert count(town, "reading") == 0 and count(town, "quarantined_reading") == 0
    reasons = [r["reason"] for r in report.rejected]
    assert any(r.startswith("invraisemblable (saut d'index) : +50\u202f018 m³") for r in reasons)


def test_the_importer_never_guesses_a_meter_replacement(town, tmp_path):
    """A drop to less than half was a 'replacement' with a logbook entry: it is held now."""
    path = _gas_file(tmp_path / "g.csv", [(HOURS[0], 1000), (HOURS[1], 1.28), (HOURS[2], 1001)])
    report = import_file(town, path)
    assert report.rows_quarantined == 1 and report.meter_changes == []
    assert count(town, "index_reset") == 0 and count(town, "logbook_entry") == 0
    assert list_held(town)["reason_code"].tolist() == ["drop"]


# --- decisions ---------------------------------------------------------------------------


def _held_jump(town, tmp_path):
    import_file(
        town,
        _gas_file(
            tmp_path / "g.csv",
            [(HOURS[0], 1000), (HOURS[1], 1010), (HOURS[2], 1040), (HOURS[3], 1050)],
        ),
    )
    held = list_held(town)
    assert held["value"].tolist() == [1040.0]
    return int(held["id"].iloc[0])


def test_accept_writes_the_reading_refreshes_rollups_and_audits(town, tmp_path):
    qid = _held_jump(town, tmp_path)
    before = daily(town, "MAIRIE-GAZ")["value"].sum()
    msg = accept(town, qid, actor="gestionnaire", why="relevé vérifié sur place")
    assert msg.startswith(f"relevé n° {qid} accepté (MAIRIE-GAZ le 10/01/2025 02:00 : 1\u202f040")
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1000, 1010, 1040, 1050]
    assert before == pytest.approx(1050 - 1000) == daily(town, "MAIRIE-GAZ")["value"].sum()
    row = list_held(town, status=None).iloc[0]
    assert (row.status, row.decided_by, row.decision_note) == (
        "accepted",
        "gestionnaire",
        "relevé vérifié sur place",
    )
    assert row.decided_at.tzinfo is not None
    [(actor, action, entity_id, b, a)] = _audit(town)
    assert (actor, action, entity_id) == ("gestionnaire", "accept", str(qid))
    assert b["status"] == "held" and a["status"] == "accepted"
    assert a["decision_note"] == "relevé vérifié sur place" and a["decided_at"]
    assert list_held(town).empty
    # a second decision is refused and changes nothing
    with pytest.raises(QuarantineError, match="déjà décidé .accepté par gestionnaire"):
        reject(town, qid, actor="gestionnaire", why="non")
    assert len(_audit(town)) == 1


def test_reject_stores_nothing_and_audits(town, tmp_path):
    qid = _held_jump(town, tmp_path)
    msg = reject(town, qid, actor="gestionnaire", why="index estimé faux")
    assert "rejeté" in msg and "ne sera pas enregistré" in msg
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1000, 1010, 1050]
    [(actor, action, entity_id, _, after)] = _audit(town)
    assert (actor, action, entity_id, after["status"]) == (
        "gestionnaire",
        "reject",
        str(qid),
        "rejected",
    )
    # the same file again: a rejected reading is not held twice, nor stored
    import_file(town, tmp_path / "g.csv")
    assert count(town, "quarantined_reading") == 1
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1000, 1010, 1050]


def test_refusals_why_unknown_id_and_roles(town, tmp_path):
    qid = _held_jump(town, tmp_path)
    with pytest.raises(QuarantineError, match="dites pourquoi"):
        accept(town, qid, actor="gestionnaire", why="  ")
    with pytest.raises(QuarantineError, match="aucun relevé en quarantaine n° 999"):
        accept(town, 999, actor="gestionnaire", why="x")
    for login in ("agent1", "exploitant", "culture"):  # agent, contractor, programmer
        with pytest.raises(QuarantineError, match="n'a pas le droit .*gestionnaire seulement"):
            accept(town, qid, actor=login, why="x")
    assert _audit(town) == [] and list_held(town)["status"].tolist() == ["held"]
    # the operator (a login that is no Carnet user) acts as the manager
    assert "accepté" in accept(town, qid, actor="root", why="vu")


def test_declare_replacement_records_the_meter_change_and_accepts_the_rest(town, tmp_path):
    # the meter was changed between 02:00 and 03:00 and nobody said so: 03:00 reads 4
    path = _gas_file(
        tmp_path / "g.csv",
        [
            (HOURS[0], 1000),
            (HOURS[1], 1010),
            (HOURS[2], 1020),
            (HOURS[3], 4),
            (HOURS[4], 12),
            (HOURS[5], 20),
        ],
    )
    report = import_file(town, path)
    assert report.rows_quarantined == 3 and report.quarantine_reasons == {"drop": 3}
    first = int(list_held(town).sort_values("ts")["id"].iloc[0])
    with pytest.raises(QuarantineError, match="inférieur au relevé précédent"):
        declare_replacement(
            town, first, actor="gestionnaire", old_final_value=1000, new_start_value=0, why="x"
        )
    with pytest.raises(QuarantineError, match="supérieur au relevé"):
        declare_replacement(
            town, first, actor="gestionnaire", old_final_value=1025, new_start_value=5, why="x"
        )
    msg = declare_replacement(
        town,
        first,
        actor="gestionnaire",
        old_final_value=1025,
        new_start_value=0,
        why="compteur remplacé par GRDF",
    )
    assert "ancien index clos à 1\u202f025 m3, nouvel index ouvert à 0 m3" in msg
    with session_scope(town) as s:
        reset = s.scalar(select(IndexReset))
        entry = s.get(LogbookEntry, reset.logbook_entry_id)
        assert (reset.ts, reset.old_final_value, reset.new_start_value) == (
            utc(HOURS[3]),
            1025.0,
            0.0,
        )
        assert (entry.kind, entry.author_login, entry.source) == (
            "meter_change",
            "gestionnaire",
            "user",
        )
        assert "compteur remplacé par GRDF" in entry.text
    got = readings(town, "MAIRIE-GAZ")
    assert got["value"].tolist() == [1000, 1010, 1020, 4]
    assert got["quality"].tolist()[-1] == Quality.RESET
    actions = [(a[1], a[4].get("status")) for a in _audit(town)]
    assert actions == [("replace", "replaced")]
    assert [a[0] for a in _audit(town, "index_reset")] == ["gestionnaire"]
    # the CLI's follow-up: the two readings after it are plausible now, accepted and audited
    from ingest.plausibility import recheck_held

    lines = recheck_held(
        town,
        channel_id(town, "MAIRIE-GAZ"),
        actor="gestionnaire",
        after_ts=utc(HOURS[3]),
        decision_id=first,
    )
    assert len(lines) == 2 and list_held(town).empty
    assert readings(town, "MAIRIE-GAZ")["value"].tolist() == [1000, 1010, 1020, 4, 12, 20]
    # consumption across the replacement: (1025 - 1020) + (4 - 0), then +8, +8
    assert daily(town, "MAIRIE-GAZ")["value"].sum() == pytest.approx(20 + 5 + 4 + 16)
    notes = [a[4]["decision_note"] for a in _audit(town)[1:]]
    assert notes == [f"plausible après la décision sur le relevé n° {first}"] * 2


def test_replacement_refused_when_later_readings_continue_the_old_index(town, tmp_path):
    path = _gas_file(tmp_path / "g.csv", [(HOURS[0], 1000), (HOURS[1], 12), (HOURS[2], 1002)])
    import_file(town, path)
    qid = int(list_held(town)["id"].iloc[0])
    with pytest.raises(QuarantineError, match="continue l'ancien index"):
        declare_replacement(
            town, qid, actor="gestionnaire", old_final_value=1001, new_start_value=0, why="x"
        )
    assert count(town, "index_reset") == 0 and count(town, "logbook_entry") == 0


def test_hold_takes_closed_period_and_skips_what_waits_already(town):
    cid = channel_id(town, "MAIRIE-GAZ")
    held = pd.DataFrame(
        {
            "channel_id": [cid],
            "ts": [utc(HOURS[0])],
            "value": [5.0],
            "quality": [1],
            "reason_code": ["closed_period"],
            "reason": ["période close"],
            "line_no": [3],
            "raw": ["x"],
        }
    )
    with town.begin() as conn:
        assert hold(conn, held, batch_id=None, file=None) == 1
        assert hold(conn, held, batch_id=None, file=None) == 0
    got = list_held(town, channel_ids=[cid])
    assert got["reason_code"].tolist() == ["closed_period"] and got["file"].tolist() == [None]
    assert list_held(town, channel_ids=[]).empty
    assert list_held(town, channel_ids=[cid + 1000]).empty
    with pytest.raises(QuarantineError, match="statut inconnu"):
        list_held(town, status="nope")
    # waiting on a closed period: applied by reopening it, not accepted here
    qid = int(got["id"].iloc[0])
    with pytest.raises(QuarantineError, match="attend la réouverture d'une période close"):
        accept(town, qid, actor="gestionnaire", why="x")
    with pytest.raises(QuarantineError, match="attend la réouverture"):
        declare_replacement(
            town, qid, actor="gestionnaire", old_final_value=1, new_start_value=0, why="x"
        )
    assert "rejeté" in reject(town, qid, actor="gestionnaire", why="doublon du distributeur")
    assert count(town, "reading") == 0


def test_held_raw_lines_come_back_byte_for_byte_whatever_they_hold(town):
    """The held rows go in by the driver's bulk path (COPY on PostgreSQL): a raw line with a
    tab, a backslash, a quote or a line break, a missing value and an absent line number come
    back as they were, with their creation time."""
    cid = channel_id(town, "MAIRIE-GAZ")
    raws = ["a\tb;1,5", "c:\\compteurs\\n2;\\N", '"12;5";x\r\ny', "", None]
    held = pd.DataFrame(
        {
            "channel_id": [cid] * 5,
            "ts": [utc(h) for h in HOURS[:5]],
            "value": [1.5, float("nan"), -2.0, 1e12, 0.0],
            "quality": [0, 1, 0, 0, 0],
            "reason_code": ["range"] * 5,
            "reason": ["valeur hors plage\t« 1 »"] * 5,
            "line_no": [2, 3, None, 5, 6],
            "raw": raws,
        }
    )
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with town.begin() as conn:
        assert hold(conn, held, batch_id=None, file="relevés\\été.csv") == 5
    got = list_held(town, channel_ids=[cid]).sort_values("ts")
    assert got["raw"].tolist() == raws
    assert got["line_no"].tolist()[:2] == [2, 3] and pd.isna(got["line_no"].iloc[2])
    assert got["value"].iloc[0] == 1.5 and pd.isna(got["value"].iloc[1])
    assert got["value"].tolist()[2:] == [-2.0, 1e12, 0.0]
    assert set(got["file"]) == {"relevés\\été.csv"}
    assert set(got["reason"]) == {"valeur hors plage\t« 1 »"}
    with town.connect() as conn:
        created = conn.execute(text("SELECT MIN(created_at) FROM quarantined_reading")).scalar()
    created = pd.Timestamp(created)
    created = created.tz_localize("UTC") if created.tzinfo is None else created
    assert created >= pd.Timestamp(before)
    with town.begin() as conn:  # the same rows again: already waiting, not held twice
        assert hold(conn, held, batch_id=None, file="relevés\\été.csv") == 0


# --- a replacement declared before the file ---------------------------------------------


def test_meter_replace_then_import_accepts_the_drop(town, tmp_path, capsys):
    import_file(town, _gas_file(tmp_path / "a.csv", [(HOURS[0], 1000), (HOURS[1], 1010)]))
    status, out = run(
        capsys,
        "meter",
        "replace",
        "--channel",
        "MAIRIE-GAZ",
        "--at",
        "10/01/2025 02:30",
        "--old-final",
        "1 015",
        "--new-start",
        "0,5",
        "--why",
        "compteur G16 remplacé",
        "--user",
        "gestionnaire",
    )
    assert status == 0, out
    assert "changement de compteur sur MAIRIE-GAZ le 10/01/2025 02:30" in out
    report = import_file(
        town, _gas_file(tmp_path / "b.csv", [(HOURS[2], 1012), (HOURS[3], 7), (HOURS[4], 15)])
    )
    assert report.rows_quarantined == 0 and report.exit_status == 0, report.message
    got = readings(town, "MAIRIE-GAZ")
    # 02:00 is the old meter's last hour; the new one opened at 0,5 at 02:30
    assert got["value"].tolist() == [1000, 1010, 1012, 0.5, 7, 15]
    assert got["quality"].tolist() == [0, 0, 0, Quality.RESET, 0, 0]
    # (1010 - 1000) + (1012 - 1010) + (1015 - 1012) + (7 - 0,5) + (15 - 7)
    assert daily(town, "MAIRIE-GAZ")["value"].sum() == pytest.approx(10 + 2 + 3 + 6.5 + 8)
    with session_scope(town) as s:
        entry = s.scalar(select(LogbookEntry))
        assert (entry.kind, entry.author_login) == ("meter_change", "gestionnaire")
    [(actor, action, _, _, after)] = _audit(town, "index_reset")
    assert (actor, action, after["why"]) == ("gestionnaire", "create", "compteur G16 remplacé")
    # declared twice: refused
    status, out = run(
        capsys,
        "meter",
        "replace",
        "--channel",
        "MAIRIE-GAZ",
        "--at",
        "10/01/2025 02:30",
        "--old-final",
        "1015",
        "--new-start",
        "0",
    )
    assert status == 2 and "déjà enregistré" in out


def test_cli_list_and_decisions(town, tmp_path, capsys):
    qid = _held_jump(town, tmp_path)
    status, out = run(capsys, "quarantine", "list")
    assert status == 0 and f"n° {qid}" in out and "saut d'index" in out
    assert "g.csv, ligne 4" in out
    status, out = run(capsys, "quarantine", "list", "--json")
    [item] = json.loads(out)
    assert (item["id"], item["channel"], item["value"], item["line_no"]) == (
        qid,
        "MAIRIE-GAZ",
        1040.0,
        4,
    )
    assert item["at"] == "2025-01-10T01:00:00+00:00" and item["status"] == "held"
    status, out = run(capsys, "quarantine", "accept", str(qid), "--why", "vu", "--user", "agent1")
    assert status == 3 and "n'a pas le droit" in out
    status, out = run(capsys, "quarantine", "accept", str(qid), "--why", "vu", "--user", "nobody")
    assert status == 2 and "utilisateur inconnu" in out
    status, out = run(
        capsys, "quarantine", "reject", str(qid), "--why", "faux", "--user", "gestionnaire"
    )
    assert status == 0 and "rejeté" in out
    status, out = run(capsys, "quarantine", "accept", str(qid), "--why", "vu")
    assert status == 2 and "déjà décidé" in out
    status, out = run(capsys, "quarantine", "list")
    assert "aucun relevé en quarantaine en attente" in out
    status, out = run(capsys, "quarantine", "list", "--all", "--json")
    assert json.loads(out)[0]["decided_by"] == "gestionnaire"
    with session_scope(town) as s:
        batch = s.scalar(select(ImportBatch))
        assert batch.rows_quarantined == 1


def test_meter_replace_after_the_file_releases_what_it_explains(town, tmp_path, capsys):
    path = _gas_file(
        tmp_path / "g.csv", [(HOURS[0], 1000), (HOURS[1], 1010), (HOURS[2], 3), (HOURS[3], 9)]
    )
    assert import_file(town, path).rows_quarantined == 2
    status, out = run(capsys, "meter", "replace", "--channel", "MAIRIE-GAZ", "--at",
                      "10/01/2025 01:30", "--old-final", "1012", "--new-start", "0",
                      "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out
    assert out.count("accepté") == 2 and list_held(town).empty
    got = readings(town, "MAIRIE-GAZ")
    assert got["value"].tolist() == [1000, 1010, 0, 3, 9]
    # (1010 - 1000) + (1012 - 1010) + (0 - 0) + 3 + 6
    assert daily(town, "MAIRIE-GAZ")["value"].sum() == pytest.approx(10 + 2 + 3 + 6)
    notes = {a[4]["decision_note"] for a in _audit(town)}
    assert notes == {"plausible après le changement de compteur déclaré le 10/01/2025 01:30"}
