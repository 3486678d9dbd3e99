"""Reverting an import batch (issue 11 §3): what it inserted is deleted, what it replaced is
restored exactly (values, quality flags, owning batch, rollups), with its conversion factors and
meter changes; refused when a later batch built on it, when a closed period would change, or
for anyone but the manager; reverting twice changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import select, text

from carnet.batches import BatchRevertRefused, revert_batch
from carnet.db import session_scope
from carnet.models import AuditEvent, ClosedPeriod, Contract, ImportBatch, LogbookEntry
from carnet.store import write_readings
from carnet_cli.main import main
from ingest.importer import import_file
from tests.helpers.ingest_support import SAMPLES, count, load_samples

T0 = pd.Timestamp("2024-12-02T00:00:00Z")


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _file(path, rows) -> str:
    """A generic long file of (channel, hours after T0, value, quality)."""
    lines = ["channel,timestamp,value,quality"]
    for code, hours, value, quality in rows:
        stamp = (T0 + pd.Timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{code},{stamp},{value},{quality}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _readings(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT channel_id, ts, value, quality, batch_id FROM reading"
                " ORDER BY channel_id, ts"
            ),
            conn,
        ).astype({"batch_id": "Int64"})


def _rollups(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            text(
                "SELECT channel_id, day, value, energy_kwh, min_value, max_value, n_readings,"
                " coverage, estimated FROM daily_rollup ORDER BY channel_id, day"
            ),
            conn,
        )
    frame["day"] = frame["day"].astype(str)
    frame["estimated"] = frame["estimated"].astype(bool)
    return frame.reset_index(drop=True)


def _batch(engine, batch_id: int):
    with session_scope(engine) as s:
        b = s.get(ImportBatch, batch_id)
        s.expunge(b)
        return b


def _first_file(tmp_path) -> str:
    """Hourly indoor temperatures and a gas index over two days (one estimated value)."""
    rows = [("MAIRIE-CONSEIL-T", h, 19 + (h % 5) / 10, "measured") for h in range(48)]
    rows += [("MAIRIE-GAZ", h, 1000 + 4 * h, "measured") for h in range(0, 48, 3)]
    rows[10] = ("MAIRIE-CONSEIL-T", 10, 18.7, "estimated")
    return _file(tmp_path / "premier.csv", rows)


def _second_file(tmp_path) -> str:
    """Overlaps the first: 6 temperatures changed (one estimate measured now), 6 unchanged,
    12 new hours; the gas index corrected at three instants and extended."""
    rows = [("MAIRIE-CONSEIL-T", h, 19 + (h % 5) / 10, "measured") for h in range(36, 42)]
    rows += [("MAIRIE-CONSEIL-T", h, 21.5, "measured") for h in range(6, 12)]
    rows += [("MAIRIE-CONSEIL-T", h, 20.0, "measured") for h in range(48, 60)]
    rows += [("MAIRIE-GAZ", h, 1000 + 4 * h + 1, "measured") for h in (9, 12, 15)]
    rows += [("MAIRIE-GAZ", h, 1000 + 4 * h, "measured") for h in range(48, 60, 3)]
    return _file(tmp_path / "second.csv", rows)


def test_revert_of_an_insert_batch_removes_it_all_and_twice_changes_nothing(town, tmp_path):
    before_readings, before_rollups = _readings(town), _rollups(town)
    report = import_file(town, _first_file(tmp_path), user="gestionnaire")
    assert report.status == "ok" and report.rows_inserted == 64
    assert len(_readings(town)) == 64 and len(_rollups(town)) > len(before_rollups)
    assert count(town, "reading_overwrite") == 0  # nothing replaced, nothing kept

    message = revert_batch(town, report.batch_id, actor="gestionnaire", why="mauvais fichier")
    assert f"lot n° {report.batch_id}" in message and "64 relevé(s) supprimé(s)" in message
    assert_frame_equal(_readings(town), before_readings, check_dtype=False)
    assert_frame_equal(_rollups(town), before_rollups, check_dtype=False)
    batch = _batch(town, report.batch_id)
    assert batch.status == "reverted" and batch.reverted_by == "gestionnaire"
    assert batch.revert_reason == "mauvais fichier" and batch.reverted_at is not None
    with session_scope(town) as s:
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "import_batch", AuditEvent.action == "revert"
            )
        ).all()
        assert [(e.actor, e.entity_id, e.after["readings_deleted"]) for e in events] == [
            ("gestionnaire", str(report.batch_id), 64)
        ]
    n_audit = count(town, "audit_event")

    again = revert_batch(town, report.batch_id, actor="gestionnaire", why="encore")
    assert again.startswith("rien à faire") and "déjà annulé" in again
    assert count(town, "audit_event") == n_audit
    assert _batch(town, report.batch_id).revert_reason == "mauvais fichier"
    assert_frame_equal(_rollups(town), before_rollups, check_dtype=False)


def test_revert_of_an_update_batch_restores_old_values_exactly(town, tmp_path):
    first = import_file(town, _first_file(tmp_path))
    snap_readings, snap_rollups = _readings(town), _rollups(town)
    second = import_file(town, _second_file(tmp_path))
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (16, 9, 6)
    with town.connect() as conn:
        kept = pd.read_sql_query(
            text("SELECT * FROM reading_overwrite WHERE batch_id = :b"),
            conn,
            params={"b": second.batch_id},
        )
    assert len(kept) == second.rows_updated  # one image per replaced reading, no more
    assert set(kept["old_batch_id"]) == {first.batch_id}
    estimate = snap_readings[snap_readings["quality"] == 1].iloc[0]
    held = kept[(kept["channel_id"] == estimate["channel_id"]) & (kept["ts"] == estimate["ts"])]
    assert (held["old_value"].iloc[0], held["old_quality"].iloc[0]) == (18.7, 1)
    assert not _readings(town).equals(snap_readings)

    message = revert_batch(town, second.batch_id, actor="gestionnaire", why="fichier corrigé")
    assert "16 relevé(s) supprimé(s)" in message and "9 rétabli(s)" in message
    assert_frame_equal(_readings(town), snap_readings, check_dtype=False)
    assert_frame_equal(_rollups(town), snap_rollups, check_dtype=False)
    # the first batch is whole again, and may itself be reverted now
    message = revert_batch(town, first.batch_id, actor="gestionnaire", why="tout reprendre")
    assert count(town, "reading") == 0 and count(town, "daily_rollup") == 0


def test_refused_while_a_later_batch_built_on_it(town, tmp_path):
    first = import_file(town, _first_file(tmp_path))
    second = import_file(town, _second_file(tmp_path))
    snap = _readings(town)
    with pytest.raises(BatchRevertRefused) as refused:
        revert_batch(town, first.batch_id, actor="gestionnaire", why="erreur")
    assert f"le lot n° {second.batch_id} a remplacé 9 de ses relevés" in str(refused.value)
    assert f"annulez d'abord le lot n° {second.batch_id}" in str(refused.value)
    assert_frame_equal(_readings(town), snap, check_dtype=False)
    assert _batch(town, first.batch_id).status == "ok"  # the claim was rolled back

    revert_batch(town, second.batch_id, actor="gestionnaire", why="d'abord le second")
    revert_batch(town, first.batch_id, actor="gestionnaire", why="puis le premier")
    assert count(town, "reading") == 0


def test_a_file_repeating_a_key_across_chunks_is_still_one_insert(town, tmp_path):
    path = _file(
        tmp_path / "deux_fois.csv",
        [("MAIRIE-CONSEIL-T", 0, 19.0, "measured"), ("MAIRIE-CONSEIL-T", 1, 19.5, "measured")]
        + [("MAIRIE-CONSEIL-T", 0, 20.0, "measured")],
    )
    report = import_file(town, path, chunk_lines=1)
    assert (report.rows_inserted, report.rows_updated) == (2, 1)
    assert count(town, "reading_overwrite") == 0  # its own reading: no image of it kept
    revert_batch(town, report.batch_id, actor="gestionnaire", why="test")
    assert count(town, "reading") == 0


def test_refused_when_a_closed_period_would_change(town, tmp_path):
    report = import_file(town, _first_file(tmp_path))
    with session_scope(town) as s:
        contract_id = s.scalar(select(Contract.id).where(Contract.code == "CHAUFF-2024"))
        s.add(
            ClosedPeriod(
                contract_id=contract_id,
                period_kind="month",
                period="2024-12",
                first_day=dt.date(2024, 12, 1),
                last_day=dt.date(2024, 12, 31),
                status="closed",
                figures={},
                fingerprint="0" * 64,
                closed_by="gestionnaire",
                closed_at=dt.datetime(2025, 1, 5, 9, tzinfo=dt.UTC),
            )
        )
    snap, snap_rollups = _readings(town), _rollups(town)
    with pytest.raises(BatchRevertRefused) as refused:
        revert_batch(town, report.batch_id, actor="gestionnaire", why="erreur")
    text_ = str(refused.value)
    assert "période arrêtée" in text_ and "CHAUFF-2024 décembre 2024" in text_
    assert "arrêté le 05/01/2025 par gestionnaire" in text_ and "rouvrez-la d'abord" in text_
    assert_frame_equal(_readings(town), snap, check_dtype=False)
    assert_frame_equal(_rollups(town), snap_rollups, check_dtype=False)
    assert _batch(town, report.batch_id).status == "ok"
    with session_scope(town) as s:  # reopened: the revert goes through
        period = s.scalar(select(ClosedPeriod))
        period.status = "reopened"
    revert_batch(town, report.batch_id, actor="gestionnaire", why="période rouverte")
    assert count(town, "reading") == 0


def _close(engine, period: str, first: dt.date, last: dt.date) -> None:
    with session_scope(engine) as s:
        contract_id = s.scalar(select(Contract.id).where(Contract.code == "CHAUFF-2024"))
        s.add(
            ClosedPeriod(
                contract_id=contract_id,
                period_kind="month",
                period=period,
                first_day=first,
                last_day=last,
                figures={},
                fingerprint="0" * 64,
                closed_by="gestionnaire",
            )
        )


def test_refused_when_an_index_interval_reaches_into_a_closed_period(town, tmp_path):
    """Readings of 1 December only, but the gas interval from the last November reading to
    the first December one is spread over both days: a closed November would change."""
    november = _file(tmp_path / "nov.csv", [("MAIRIE-GAZ", h, 900 + h, "") for h in (-30, -27)])
    december = _file(tmp_path / "dec.csv", [("MAIRIE-GAZ", h, 900 + h, "") for h in (-21, -18)])
    import_file(town, november)  # 30/11 19:00 and 22:00 (Paris)
    second = import_file(town, december)  # 01/12 04:00 and 07:00
    _close(town, "2024-11", dt.date(2024, 11, 1), dt.date(2024, 11, 30))
    with pytest.raises(BatchRevertRefused, match="CHAUFF-2024 novembre 2024"):
        revert_batch(town, second.batch_id, actor="gestionnaire", why="erreur")
    assert count(town, "reading") == 4


def test_only_the_manager_reverts(town, tmp_path):
    report = import_file(town, _first_file(tmp_path))
    for who in ("exploitant", "culture"):
        with pytest.raises(BatchRevertRefused, match="gestionnaire seulement"):
            revert_batch(town, report.batch_id, actor=who, why="je veux")
    with pytest.raises(BatchRevertRefused, match="dites pourquoi"):
        revert_batch(town, report.batch_id, actor="gestionnaire", why="  ")
    assert count(town, "reading") == 64 and _batch(town, report.batch_id).status == "ok"


def _grdf(tmp_path, name: str, coefficient_from_oct: str) -> str:
    text_ = (SAMPLES / "grdf_quotidien.csv").read_bytes().decode("cp1252")
    text_ = text_.replace(";11,2;", f";{coefficient_from_oct};")
    path = tmp_path / name
    path.write_bytes(text_.encode("cp1252"))
    return str(path)


def _factors(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            (str(d)[:10], k, b)
            for d, k, b in conn.execute(
                text(
                    "SELECT valid_from, kwh_per_unit, batch_id FROM conversion_factor"
                    " ORDER BY valid_from"
                )
            )
        ]


def test_revert_undoes_meter_changes_and_conversion_factors(town, tmp_path):
    first = import_file(town, SAMPLES / "grdf_quotidien.csv")
    assert first.meter_changes and count(town, "index_reset") == 1
    factors = _factors(town)
    assert [(d, k) for d, k, _ in factors] == [("2024-09-29", 11.25), ("2024-10-01", 11.2)]
    snap_rollups = _rollups(town)

    second = import_file(town, _grdf(tmp_path, "grdf_coef.csv", "11,3"))
    assert second.rows_inserted == 0 and second.rows_updated == 0
    assert ("2024-10-01", 11.3, second.batch_id) in _factors(town)
    assert not _rollups(town).equals(snap_rollups)  # energy follows the coefficient
    message = revert_batch(town, second.batch_id, actor="gestionnaire", why="coefficient faux")
    assert "1 coefficient(s) de conversion rétabli(s)" in message
    assert _factors(town) == factors
    assert_frame_equal(_rollups(town), snap_rollups, check_dtype=False)

    message = revert_batch(town, first.batch_id, actor="gestionnaire", why="mauvais PCE")
    assert "1 changement(s) de compteur annulé(s)" in message
    assert count(town, "index_reset") == 0 and _factors(town) == []
    assert count(town, "reading") == 0 and count(town, "daily_rollup") == 0
    with session_scope(town) as s:  # the logbook keeps the entry, cancelled with the reason
        entry = s.scalar(select(LogbookEntry).where(LogbookEntry.kind == "meter_change"))
        assert entry.status == "cancelled"
        assert f"Lot d'import n° {first.batch_id} annulé" in entry.answer


def test_revert_from_the_command_line(town, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CARNET_USER", raising=False)
    report = import_file(town, _first_file(tmp_path))
    refused = ["batches", "revert", str(report.batch_id), "--why", "x", "--user", "exploitant"]
    assert main(refused) == 1
    assert "gestionnaire seulement" in capsys.readouterr().err
    assert main(["batches", "revert", "999", "--why", "x"]) == 2
    assert main(["batches", "revert", str(report.batch_id), "--why", "doublon"]) == 0
    assert "annulé" in capsys.readouterr().out
    assert main(["batches", "revert", str(report.batch_id), "--why", "doublon"]) == 0
    assert "rien à faire" in capsys.readouterr().out
    assert main(["batches"]) == 0
    assert "annulé" in capsys.readouterr().out
    assert main(["batches", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert (listed["status"], listed["status_fr"], listed["reverted_by"]) == (
        "reverted",
        "annulé",
        "cli",
    )
    with pytest.raises(SystemExit):  # --why is required
        main(["batches", "revert", str(report.batch_id)])


def test_the_store_keeps_images_of_replaced_readings_only(town, tmp_path):
    """Inserts and unchanged re-imports keep no image; a write without a batch keeps none."""
    path = _first_file(tmp_path)
    import_file(town, path)
    import_file(town, path)  # all unchanged
    assert count(town, "reading_overwrite") == 0
    cid = int(_readings(town)["channel_id"].iloc[0])
    frame = pd.DataFrame({"channel_id": [cid], "ts": [int(T0.timestamp())], "value": [25.0]})
    counts = write_readings(town, frame)
    assert counts.updated == 1 and count(town, "reading_overwrite") == 0
    later = write_readings(town, frame.assign(value=26.0), batch_id=4242)
    assert later.updated == 1
    with town.connect() as conn:
        kept = conn.execute(text("SELECT * FROM reading_overwrite")).mappings().one()
    assert (kept["batch_id"], kept["old_value"], kept["old_batch_id"]) == (4242, 25.0, None)
