"""The shipped sample file on the demo town: its estimated MAIRIE-GAZ index, far below the
meter's real index, once made the closed 2024-2025 season 4 625 MWh and a 407 138,91 €
penalty. Now it waits in quarantine and the settlement stays byte for byte what it was; each
decision (accept, reject, replace) is audited and leaves the season as it was; a real meter
replacement, declared from the quarantine or ahead of the file, gives the right consumption.

Each test works on its own copy of the demo (`tests/helpers/demo_copy.py`)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select, text

from carnet import db as carnet_db
from carnet.db import session_scope
from carnet.kinds import Quality
from carnet.models import AuditEvent, IndexReset, LogbookEntry
from carnet_cli.main import main
from tests.helpers.demo_copy import demo_copy
from tests.helpers.ingest_support import SAMPLES, daily, readings

TODAY = dt.date(2026, 11, 25)
SETTLE = ("settle", "--contract", "CHAUFF-2024", "--season", "2024-2025", "--json")
MANAGER = "gestionnaire"


@pytest.fixture
def town(tmp_path, monkeypatch):
    """A copy of the demo for one test; the CLI points at it."""
    with demo_copy(tmp_path, "carnet_qcopy", today=TODAY) as url:
        monkeypatch.setenv("CARNET_DATABASE_URL", url)
        monkeypatch.setenv("CARNET_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("CARNET_USER", raising=False)
        carnet_db.reset_engines()
        yield carnet_db.get_engine(url)


def run(capsys, *argv) -> tuple[int, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out + out.err


def _settle(capsys) -> str:
    status = main(list(SETTLE))
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out


def _meter_changes(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT COUNT(*) FROM logbook_entry WHERE kind = 'meter_change'")
        ).scalar_one()


def _held(capsys, *extra) -> list[dict]:
    status, out = run(capsys, "quarantine", "list", "--json", *extra)
    assert status == 0
    return json.loads(out)


def _import_sample(capsys, town):
    changes = _meter_changes(town)
    status, out = run(capsys, "import", str(SAMPLES / "generic_long_fr.csv"))
    assert status == 1, out  # something held: a partial import
    assert "1 relevé mis en quarantaine (baisse d'index) : voir carnet quarantine list" in out
    assert _meter_changes(town) == changes  # no replacement guessed, no logbook entry
    [item] = _held(capsys)
    return item


def test_the_sample_file_waits_in_quarantine_and_the_season_is_unchanged(town, capsys):
    before = _settle(capsys)
    figures = json.loads(before)
    item = _import_sample(capsys, town)
    assert _settle(capsys) == before  # byte for byte
    assert (item["channel"], item["value"], item["reason_code"]) == ("MAIRIE-GAZ", 12041.5, "drop")
    assert item["line_no"] == 12 and item["raw"] == "MAIRIE-GAZ;01/11/2024 00:00;12 041,5;estimé"
    assert item["file"].endswith("generic_long_fr.csv")
    assert item["at"] == "2024-10-31T23:00:00+00:00"
    assert item["reason"].startswith("baisse d'index : 12\u202f041,5 m³ après 435\u202f")
    assert "ni modulo de retour à zéro, ni changement de compteur déclaré" in item["reason"]
    # the other lines of the file went in
    got = readings(town, "MAIRIE-CONSEIL-T")
    at = int(pd.Timestamp("2024-03-31T03:00:00+02:00").timestamp())
    assert got.loc[got["ts"] == at, "value"].tolist() == [16.2]
    assert figures  # the settlement has figures to protect


def test_accept_keeps_the_measured_index_and_is_audited(town, capsys):
    before = _settle(capsys)
    item = _import_sample(capsys, town)
    status, out = run(
        capsys, "quarantine", "accept", str(item["id"]), "--why", "vu avec GRDF", "--user", MANAGER
    )
    assert status == 0, out
    assert "une valeur mesurée est déjà enregistrée à cet instant" in out
    assert _settle(capsys) == before
    [event] = _events(town)
    assert (event.actor, event.action, event.entity_id) == (MANAGER, "accept", str(item["id"]))
    assert event.after["decision_note"] == "vu avec GRDF" and event.after["decided_at"]
    assert _held(capsys) == []
    [done] = _held(capsys, "--all")
    assert (done["status"], done["decided_by"]) == ("accepted", MANAGER)


def test_reject_is_audited_and_changes_nothing(town, capsys):
    before = _settle(capsys)
    item = _import_sample(capsys, town)
    status, out = run(
        capsys,
        "quarantine",
        "reject",
        str(item["id"]),
        "--why",
        "index estimé erroné",
        "--user",
        MANAGER,
    )
    assert status == 0 and "rejeté" in out
    assert _settle(capsys) == before
    [event] = _events(town)
    assert (event.actor, event.action, event.after["status"]) == (MANAGER, "reject", "rejected")
    # the contractor may not decide
    status, out = run(
        capsys, "quarantine", "accept", str(item["id"]), "--why", "x", "--user", "exploitant"
    )
    assert status == 3 and "n'a pas le droit" in out


def test_replace_on_the_sample_is_refused_by_the_record(town, capsys):
    """The real index went on after that instant: declaring a replacement there would invent
    435 000 m³, so it is refused and nothing changes."""
    before = _settle(capsys)
    item = _import_sample(capsys, town)
    status, out = run(
        capsys,
        "quarantine",
        "replace",
        str(item["id"]),
        "--old-final",
        "435273,45",
        "--new-start",
        "0",
        "--why",
        "x",
        "--user",
        MANAGER,
    )
    assert status == 2 and "continue l'ancien index" in out
    assert _settle(capsys) == before and _events(town) == []
    with session_scope(town) as s:
        assert s.scalar(select(IndexReset).where(IndexReset.ts == item["ts"])) is None


def _gas_file(path, code, rows):
    path.write_text(
        "point;horodate;valeur\n"
        + "".join(f"{code};{t};{str(v).replace('.', ',')}\n" for t, v in rows),
        encoding="utf-8",
    )
    return path


def _last(town, code) -> tuple[int, float]:
    got = readings(town, code)
    return int(got["ts"].iloc[-1]), float(got["value"].iloc[-1])


def test_replacement_declared_from_the_quarantine(town, capsys, tmp_path):
    """After the demo's last reading the meter is changed and the file does not say so: the
    drop is held, the manager declares the replacement, the readings after it follow."""
    before = _settle(capsys)
    last_ts, last = _last(town, "MAIRIE-GAZ")
    assert dt.datetime.fromtimestamp(last_ts, dt.UTC) == dt.datetime(
        2026, 11, 24, 23, tzinfo=dt.UTC
    )
    rows = [
        ("25/11/2026 01:00", last + 2),
        ("25/11/2026 02:00", last + 4),
        ("25/11/2026 03:00", 3),
        ("25/11/2026 04:00", 6),
        ("25/11/2026 05:00", 9),
    ]
    status, out = run(capsys, "import", str(_gas_file(tmp_path / "g.csv", "MAIRIE-GAZ", rows)))
    assert status == 1 and "3 relevés mis en quarantaine (baisse d'index)" in out
    first = min(_held(capsys), key=lambda r: r["ts"])
    assert first["value"] == 3
    status, out = run(
        capsys,
        "quarantine",
        "replace",
        str(first["id"]),
        "--old-final",
        f"{last + 5:.2f}",
        "--new-start",
        "0",
        "--why",
        "compteur changé par GRDF",
        "--user",
        MANAGER,
    )
    assert status == 0, out
    assert out.count("accepté") == 2  # the two readings after it, plausible now
    assert _held(capsys) == []
    got = readings(town, "MAIRIE-GAZ").tail(5)
    assert got["value"].tolist() == pytest.approx([last + 2, last + 4, 3, 6, 9])
    assert got["quality"].tolist() == [0, 0, Quality.RESET, 0, 0]
    # 25/11: +2, +2, (old final - previous) + (3 - 0), +3, +3
    day = daily(town, "MAIRIE-GAZ").loc[dt.date(2026, 11, 25), "value"]
    assert day == pytest.approx(2 + 2 + (last + 5 - (last + 4)) + 3 + 3 + 3)
    with session_scope(town) as s:
        reset = s.scalar(select(IndexReset).where(IndexReset.ts == first["ts"]))
        assert (reset.old_final_value, reset.new_start_value) == (pytest.approx(last + 5), 0.0)
        entry = s.get(LogbookEntry, reset.logbook_entry_id)
        assert (entry.kind, entry.author_login) == ("meter_change", MANAGER)
        assert "compteur changé par GRDF" in entry.text
    actions = sorted(e.action for e in _events(town))
    assert actions == ["accept", "accept", "replace"]
    assert _settle(capsys) == before


def test_meter_replace_ahead_of_the_file(town, capsys, tmp_path):
    before = _settle(capsys)
    code = "EC-MAT-CURIE-GAZ"
    last_ts, last = _last(town, code)
    status, out = run(
        capsys,
        "meter",
        "replace",
        "--channel",
        code,
        "--at",
        "25/11/2026 02:30",
        "--old-final",
        f"{last + 3:.2f}",
        "--new-start",
        "1",
        "--user",
        MANAGER,
    )
    assert status == 0, out
    rows = [
        ("25/11/2026 01:00", last + 1),
        ("25/11/2026 02:00", last + 2),
        ("25/11/2026 03:00", 2),
        ("25/11/2026 04:00", 4),
    ]
    status, out = run(capsys, "import", str(_gas_file(tmp_path / "g.csv", code, rows)))
    assert status == 0, out
    assert _held(capsys) == []
    day = daily(town, code).loc[dt.date(2026, 11, 25), "value"]
    # +1, +1, (old final - previous) + (start reading 1 - new start 1), +1, +2
    assert day == pytest.approx(1 + 1 + 1 + 0 + 1 + 2)
    assert _settle(capsys) == before


def _events(town) -> list[AuditEvent]:
    with session_scope(town) as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "quarantined_reading")
                .order_by(AuditEvent.id)
            )
        )
