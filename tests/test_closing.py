"""Closing a month: the signed figures of `carnet settle --json` and `carnet export finance`
stay byte for byte what they were after a later import, a weather correction and an adjustment,
which wait as a pending regularisation instead (SQLite and PostgreSQL, the small town of
tests/helpers/contract_town.py: October 2025, two buildings, daily index readings)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from carnet.closing import periods_touched, split_closed
from carnet.db import session_scope
from carnet.models import (
    Adjustment,
    AuditEvent,
    ClosedPeriod,
    QuarantinedReading,
    Reading,
)
from carnet.store import write_readings
from carnet.timeutil import TZ_NAME, local_midnight_epoch
from tests.helpers.cli import run

SEASON = "2025-2026"
MONTH = "2025-10"


def settle_json(capsys, month=MONTH) -> tuple[int, str]:
    args = ["settle", "--contract", "C1", "--season", SEASON, "--json"]
    return run(capsys, *(args + (["--month", month] if month else [])))


def finance_csv(capsys, tmp_path, name: str, month=MONTH) -> bytes:
    out = tmp_path / name
    status, text = run(capsys, "export", "finance", "--contract", "C1", "--month", month,
                       "--output", str(out))  # fmt: skip
    assert status == 0, text
    return out.read_bytes()


def finance_json(capsys, month=MONTH) -> str:
    status, out = run(capsys, "export", "finance", "--contract", "C1", "--month", month, "--json")
    assert status == 0, out
    return out


def close(capsys, *extra) -> tuple[int, str]:
    return run(capsys, "settle", "close", "--contract", "C1", *extra)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def midnight_iso(day: str) -> str:
    return pd.Timestamp(day).tz_localize(TZ_NAME).isoformat()


def test_periods_touched_and_split_name_the_closed_month(contract_town, engine, capsys):
    ids = contract_town["ids"]
    assert close(capsys, "--month", MONTH, "--user", "gestionnaire")[0] == 0
    stamps = local_midnight_epoch(pd.date_range("2025-09-30", "2025-11-02", freq="D"))
    frame = pd.concat(
        [pd.DataFrame({"channel_id": ids[c], "ts": stamps, "value": 1.0}) for c in ids],
        ignore_index=True,
    )
    with engine.connect() as conn:
        refs = periods_touched(conn, frame)
        open_rows, held = split_closed(conn, frame)
    assert [(r.contract_code, r.period_kind, r.period) for r in refs] == [("C1", "month", MONTH)]
    assert refs[0].closed_by == "gestionnaire"
    # every channel of the contract (gas, hot water, weather station), October's 31 days only
    inside = (stamps >= local_midnight_epoch([dt.date(2025, 10, 1)])[0]) & (
        stamps < local_midnight_epoch([dt.date(2025, 11, 1)])[0]
    )
    assert len(held) == inside.sum() * len(ids) and len(open_rows) == len(frame) - len(held)
    assert set(held["closed_period_id"]) == {refs[0].id}
    assert set(held["reason_code"]) == {"closed_period"}
    day = pd.Timestamp.now(tz=TZ_NAME).strftime("%d/%m/%Y")
    assert held["reason"].iloc[0] == (
        f"période arrêtée : C1 octobre 2025 (arrêtée le {day} par gestionnaire)"
    )


def test_closed_month_is_byte_identical_after_import_weather_and_adjustment(
    contract_town,
    engine,
    tmp_path,
    capsys,
):
    status, out = close(capsys, "--month", MONTH, "--user", "gestionnaire")
    assert status == 0, out
    assert "octobre 2025 arrêté le" in out and "par gestionnaire" in out
    with session_scope(engine) as s:
        row = s.scalar(select(ClosedPeriod))
        assert (row.period_kind, row.period, row.status) == ("month", MONTH, "closed")
        assert row.first_day == dt.date(2025, 10, 1) and row.last_day == dt.date(2025, 10, 31)
        assert len(row.fingerprint) == 64
        # inputs: 5 channels (2 gas, hot water, Tn, Tx, hourly T) over 31 days
        assert row.inputs["days"] == 31 and row.inputs["readings"] > 0
        audit = s.scalars(select(AuditEvent).where(AuditEvent.entity == "closed_period")).all()
        assert [(a.action, a.actor) for a in audit] == [("close", "gestionnaire")]
        signed = row.figures
    status, json_before = settle_json(capsys)
    assert status == 0
    data = json.loads(json_before)
    assert data["closed"]["closed_by"] == "gestionnaire"
    assert data["closed"]["marker"].startswith("arrêté le ")
    # the stored figures are those the live settlement gave
    assert {k: v for k, v in data.items() if k != "closed"} == signed["months"][MONTH]
    csv_before = finance_csv(capsys, tmp_path, "before.csv")
    fin_json_before = finance_json(capsys)
    assert "arrêté le" in csv_before.decode("utf-8-sig")
    _, table_before = run(
        capsys, "settle", "--contract", "C1", "--season", SEASON, "--month", MONTH
    )
    assert f"Mois {MONTH} arrêté le" in table_before and "chiffres signés" in table_before

    ids = contract_town["ids"]
    with engine.connect() as conn:
        stored_gas = conn.execute(
            select(Reading.ts, Reading.value)
            .where(Reading.channel_id == ids["MAIRIE-GAZ"])
            .order_by(Reading.ts)
        ).all()
    # 1. a later file corrects the town hall's index from 15/10 (+50 m3) and adds November
    lines = ["channel,timestamp,value"]
    for ts, value in stored_gas:
        day = pd.Timestamp(ts, unit="s", tz="UTC").tz_convert(TZ_NAME)
        if day >= pd.Timestamp("2025-10-15", tz=TZ_NAME):
            lines.append(f"MAIRIE-GAZ,{day.isoformat()},{value + 50.0}")
    lines.append(f"MAIRIE-GAZ,{midnight_iso('2025-11-02')},{stored_gas[-1][1] + 400.0}")
    path = write(tmp_path, "correction.csv", "\n".join(lines) + "\n")
    status, out = run(capsys, "import", str(path), "--format", "generic-long")
    assert status == 1, out
    assert "période arrêtée C1 octobre 2025" in out
    # 2. a weather correction: Tn of 05/10 was wrong
    path = write(tmp_path, "meteo.csv", "station;date;tn;tx\nLESQ;05/10/2025;-3,0;4,0\n")
    status, out = run(capsys, "import", str(path))
    assert status == 1 and "période arrêtée C1 octobre 2025" in out, out
    # 3. a retroactive adjustment over October
    status, out = run(capsys, "adjust", "--contract", "C1", "--building", "ECOLE", "--from",
                      "2025-10-10", "--kind", "area_added", "--factor", "1.2", "--why",
                      "Extension livrée", "--author", "gestionnaire")  # fmt: skip
    assert status == 1 and "en attente" in out and "octobre 2025" in out, out

    assert settle_json(capsys) == (0, json_before)
    assert finance_csv(capsys, tmp_path, "after.csv") == csv_before
    assert finance_json(capsys) == fin_json_before
    assert run(capsys, "settle", "--contract", "C1", "--season", SEASON, "--month", MONTH) == (
        0,
        table_before,
    )
    with session_scope(engine) as s:
        held = s.scalars(
            select(QuarantinedReading).where(QuarantinedReading.reason_code == "closed_period")
        ).all()
        # 17 corrected index readings (15/10 .. 31/10 and the one of 01/11 that closes
        # October 31) minus 01/11 which is November's; plus the Tn of 05/10
        gas = [q for q in held if q.channel_id == ids["MAIRIE-GAZ"]]
        assert len(gas) == 17 and {q.status for q in held} == {"held"}
        assert [q.value for q in held if q.channel_id == ids["TN"]] == [-3.0]
        assert {q.closed_period_id for q in held} == {row.id}
        # nothing of it reached the record; November's reading did
        stored = dict(
            s.execute(
                select(Reading.ts, Reading.value).where(Reading.channel_id == ids["MAIRIE-GAZ"])
            ).all()
        )
        assert all(stored[q.ts] == dict(stored_gas)[q.ts] for q in gas)
        nov2 = int(local_midnight_epoch([dt.date(2025, 11, 2)])[0])
        assert stored[nov2] == stored_gas[-1][1] + 400.0
        adj = s.scalar(select(Adjustment))
        assert adj.status == "pending"

    # re-importing the same correction holds nothing twice, and still says so
    status, out = run(
        capsys, "import", str(tmp_path / "correction.csv"), "--format", "generic-long"
    )
    assert status == 1 and "période arrêtée C1 octobre 2025" in out
    with session_scope(engine) as s:
        n = s.scalar(
            select(func.count())
            .select_from(QuarantinedReading)
            .where(QuarantinedReading.reason_code == "closed_period")
        )
        assert n == 19  # 17 index readings, Tn and Tx of 05/10

    status, out = run(capsys, "settle", "pending", "--contract", "C1", "--json")
    assert status == 0, out
    (pending,) = json.loads(out)
    assert pending["period"] == MONTH and pending["held_rows"] == 19
    assert pending["adjustment_ids"] == [adj.id]
    # the record no longer has the inputs that were signed: the reading of 01/11 00:00 is
    # November's (written) and ends the index interval of 31/10, whose rollup moved; the
    # signed figures did not (above), and the pending figures include that move
    assert pending["inputs_unchanged"] is False
    assert len(pending["batch_ids"]) == 2
    moved = {b["building_code"]: b for b in pending["buildings"]}
    # the index +50 m3 from 15/10: 14/10 consumed 50 m3 more, once
    assert moved["MAIRIE"]["delta_actual_mwh_pci"] == pytest.approx(
        50 * 11.2 / 1000 / 1.11, abs=1e-4
    )
    assert pending["total"]["summary"].startswith("+")
    status, table = run(capsys, "settle", "pending", "--contract", "C1")
    assert status == 0 and "octobre 2025" in table and "MWh PCI" in table


def test_closing_is_refused_twice_in_progress_and_for_others(contract_town, engine, capsys):
    assert close(capsys, "--month", MONTH, "--user", "gestionnaire")[0] == 0
    status, out = close(capsys, "--month", MONTH, "--user", "gestionnaire")
    assert status == 2 and "déjà arrêté" in out
    status, out = close(capsys, "--month", "2025-11", "--user", "agent1")
    assert status == 3 and "gestionnaire seulement" in out
    today = pd.Timestamp.now(tz=TZ_NAME).date()
    year = today.year - 1 if today <= dt.date(today.year, 5, 20) else today.year
    unfinished = f"{year}-{year + 1}"  # the season in progress, or the next one
    status, out = close(capsys, "--season", unfinished, "--user", "gestionnaire")
    assert status == 2 and "n'est pas terminée" in out, out
    status, out = close(capsys, "--month", f"{year + 1}-05", "--user", "gestionnaire")
    assert status == 2 and "n'est pas terminé" in out, out
    status, out = close(capsys, "--month", "2025-07", "--user", "gestionnaire")
    assert status == 2 and "hors de la saison" in out
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ClosedPeriod)) == 1


def test_season_close_covers_its_months(contract_town, engine, tmp_path, capsys):
    csv_live = finance_csv(capsys, tmp_path, "live.csv")
    status, out = close(capsys, "--season", SEASON, "--user", "gestionnaire")
    assert status == 0, out
    status, out = settle_json(capsys, month=None)
    season = json.loads(out)
    assert season["closed"]["period_kind"] == "season"
    status, out = settle_json(capsys)
    month = json.loads(out)
    assert month["closed"]["period"] == SEASON and month["month"] == MONTH
    # a month of a closed season is closed: by the season, and cannot be closed alone
    status, out = close(capsys, "--month", MONTH, "--user", "gestionnaire")
    assert status == 2 and "fait partie de la saison" in out
    csv_closed = finance_csv(capsys, tmp_path, "closed.csv")
    live, closed = (b.decode("utf-8-sig").splitlines() for b in (csv_live, csv_closed))
    signed = ("Arrêté", "Statut")  # who signed, and the status that says so
    keep = [i for i, h in enumerate(live[0].split(";")) if h not in signed]
    assert [[r.split(";")[i] for i in keep] for r in live] == [
        [r.split(";")[i] for i in keep] for r in closed
    ]
    assert all("arrêté le" in r for r in closed[1:])
    # a new reading of the season's station waits
    ts = int(local_midnight_epoch([dt.date(2026, 1, 5)])[0])
    counts = write_readings(engine, pd.DataFrame({"channel_id": [contract_town["ids"]["TN"]], "ts": [ts],
                                                  "value": [2.5]}))  # fmt: skip
    assert counts.held == 1 and counts.inserted == 0
    assert [p.period for p in counts.held_periods] == [SEASON]
    assert (
        settle_json(capsys, month=None)[1]
        == json.dumps(season, ensure_ascii=False, indent=2) + "\n"
    )


def test_split_closed_costs_a_few_queries_whatever_the_rows(contract_town, engine, capsys):
    """Vectorised: a million readings are split with the same statements as ten."""
    from sqlalchemy import event

    assert close(capsys, "--month", MONTH, "--user", "gestionnaire")[0] == 0
    ids = np.array(list(contract_town["ids"].values()))
    lo = int(local_midnight_epoch([dt.date(2025, 9, 1)])[0])
    n = 1_000_000
    rng = np.random.default_rng(1)
    big = pd.DataFrame(
        {"channel_id": rng.choice(ids, n), "ts": lo + rng.integers(0, 120 * 86400, n),
         "value": 1.0}
    )  # fmt: skip
    counted = []
    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: counted.append(1))
        _, held_small = split_closed(conn, big.iloc[:10])
        small = len(counted)
        counted.clear()
        open_rows, held = split_closed(conn, big)
        assert len(counted) == small
    day = pd.to_datetime(big["ts"], unit="s", utc=True).dt.tz_convert(TZ_NAME).dt.date
    expected = (day >= dt.date(2025, 10, 1)) & (day <= dt.date(2025, 10, 31))
    assert len(held) == int(expected.sum()) and len(open_rows) + len(held) == n
