"""Pending regularisations of a closed month: their figures are the difference of two
settlements computed independently (by hand from the readings, and by the engine once the
rows are really applied); reopening applies them and the month can be closed again; booking
puts the difference on its own line of a later month's finance export (SQLite, PostgreSQL)."""

from __future__ import annotations

import io
import json
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from carnet.closing import closed_marker
from carnet.db import session_scope
from carnet.models import (
    Adjustment,
    AuditEvent,
    ClosedPeriod,
    ImportBatch,
    QuarantinedReading,
    Reading,
    Regularisation,
)
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch
from tests.helpers.cli import run
from tests.helpers.contract_town import DAYS, DJU_REF, KWH_PER_M3, NB, PRICE, Q_ECS, R, costic

SEASON = "2025-2026"
MONTH = "2025-10"
CENT = Decimal("0.01")


def eur(x: float) -> Decimal:
    return (Decimal(repr(float(x))) * PRICE).quantize(CENT, ROUND_HALF_UP)


def by_hand(code: str, gas: np.ndarray, dju: np.ndarray, ecs: np.ndarray, factor=None) -> dict:
    """The month's clause for one building from its daily m3 and DJU (DESIGN.md formulas)."""
    nb_day = np.full(len(dju), NB[code]) if factor is None else NB[code] * factor
    target = float(np.sum(nb_day * dju / DJU_REF))
    qt = float(gas.sum()) * KWH_PER_M3 / 1000 / R
    nc = qt - (float(ecs[: len(gas)].sum()) * Q_ECS if code == "ECOLE" else 0.0)
    e = target - nc
    bonus = penalty = 0.0
    if abs(e) > 0.02 * target:
        bonus = 0.5 * min(e, 0.15 * target) if e > 0 else 0.0
        penalty = abs(e) if e < 0 else 0.0
    return {"actual": nc, "target": target, "bonus": eur(bonus), "penalty": eur(penalty)}


def close(capsys, month=MONTH):
    status, out = run(capsys, "settle", "close", "--contract", "C1", "--month", month,
                      "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out


def settle_json(capsys, month=MONTH) -> dict:
    status, out = run(capsys, "settle", "--contract", "C1", "--season", SEASON, "--month", month,
                      "--json")  # fmt: skip
    assert status == 0, out
    return json.loads(out)


def pending(capsys) -> list[dict]:
    status, out = run(capsys, "settle", "pending", "--contract", "C1", "--json")
    assert status == 0, out
    return json.loads(out)


def later_data(engine, town_data, held: int = 18, updated: int = 1, batch_id=None) -> dict:
    """The town hall's index +50 m3 from 15/10 (so 14/10 consumed 50 m3 more) and Tn of 05/10
    -3 °C instead of the stored value, written through the store (as batch `batch_id`)."""
    ids = town_data["ids"]
    with engine.connect() as conn:
        rows = conn.execute(
            select(Reading.ts, Reading.value).where(Reading.channel_id == ids["MAIRIE-GAZ"])
        ).all()
    from_15 = int(local_midnight_epoch([pd.Timestamp("2025-10-15")])[0])
    gas = pd.DataFrame(
        [(ids["MAIRIE-GAZ"], ts, v + 50.0) for ts, v in rows if ts >= from_15],
        columns=["channel_id", "ts", "value"],
    )
    tn_ts = int(local_midnight_epoch([pd.Timestamp("2025-10-05")])[0])
    counts = write_readings(engine, gas, batch_id)
    counts = counts + write_readings(
        engine,
        pd.DataFrame({"channel_id": [ids["TN"]], "ts": [tn_ts], "value": [-3.0]}),
        batch_id,
    )
    # 01/11 00:00 is November's: written, unless the whole season is closed
    assert (counts.held, counts.updated) == (held, updated)
    return {"tn_day": 4, "tn": -3.0}


def expected_delta(town_data, closed_payload) -> dict:
    """Per building: (new by hand) - (what was signed), MWh and euros."""
    i = np.arange(len(DAYS))
    tn = 2.0 + (i % 7) * 1.5
    tx = tn + 4.0 + (i % 5) * 2.5
    tn[3], tx[3] = 19.0, 24.0
    tn[4] = -3.0
    dju = np.array([costic(a, b) for a, b in zip(tn, tx, strict=True)])
    gas = {k: v.copy() for k, v in town_data["gas"].items()}
    gas["MAIRIE"][13] += 50.0  # the interval 14/10 -> 15/10
    factor = np.ones(len(DAYS))
    factor[9:] = 1.2
    signed = {b["building_code"]: b for b in closed_payload["buildings"]}
    out = {}
    for code in ("MAIRIE", "ECOLE"):
        new = by_hand(code, gas[code], dju, town_data["ecs"], factor if code == "ECOLE" else None)
        old = signed[code]
        out[code] = {
            "actual": new["actual"] - old["actual_mwh_pci"],
            "target": new["target"] - old["target_mwh_pci"],
            "bonus": new["bonus"] - Decimal(old["bonus_eur"]),
            "penalty": new["penalty"] - Decimal(old["penalty_eur"]),
        }
    return out


def test_pending_is_the_difference_of_two_settlements_then_reopen_and_close_again(
    contract_town,
    engine,
    capsys,
):
    close(capsys)
    signed = settle_json(capsys)
    later_data(engine, contract_town)
    status, out = run(capsys, "adjust", "--contract", "C1", "--building", "ECOLE", "--from",
                      "2025-10-10", "--kind", "area_added", "--factor", "1.2", "--why",
                      "Extension livrée", "--author", "gestionnaire")  # fmt: skip
    assert status == 1, out
    (p,) = pending(capsys)
    assert p["held_rows"] == 18 and len(p["adjustment_ids"]) == 1
    got = {b["building_code"]: b for b in p["buildings"]}
    # 1. by hand, from the readings and the formulas
    for code, exp in expected_delta(contract_town, signed).items():
        assert got[code]["delta_actual_mwh_pci"] == pytest.approx(exp["actual"], abs=2e-4)
        assert got[code]["delta_target_mwh_pci"] == pytest.approx(exp["target"], abs=2e-4)
        assert Decimal(got[code]["delta_bonus_cents"]) / 100 == pytest.approx(
            exp["bonus"], abs=CENT
        )
        assert Decimal(got[code]["delta_penalty_cents"]) / 100 == pytest.approx(
            exp["penalty"], abs=CENT
        )
    assert got["MAIRIE"]["delta_actual_mwh_pci"] == pytest.approx(
        50 * KWH_PER_M3 / 1000 / R, abs=1e-4
    )
    assert p["total"]["delta_net_cents"] == sum(
        got[c]["delta_bonus_cents"] - got[c]["delta_penalty_cents"] for c in got
    )
    # 2. the engine on the record once the rows are applied: reopen
    status, out = run(capsys, "settle", "reopen", "--contract", "C1", "--month", MONTH,
                      "--why", "Index du compteur corrigé par GRDF", "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out
    assert "18 relevé(s) en attente appliqué(s)" in out and "1 ajustement(s)" in out
    live = settle_json(capsys)
    assert live["closed"] is None
    rows_live = {b["building_code"]: b for b in live["buildings"]}
    rows_signed = {b["building_code"]: b for b in signed["buildings"]}
    for code in ("MAIRIE", "ECOLE"):
        for k in ("actual_mwh_pci", "target_mwh_pci", "gap_mwh"):
            assert got[code][f"delta_{k}"] == pytest.approx(
                rows_live[code][k] - rows_signed[code][k], abs=1e-9
            )
        for k in ("bonus", "penalty"):
            diff = Decimal(rows_live[code][f"{k}_eur"]) - Decimal(rows_signed[code][f"{k}_eur"])
            assert Decimal(got[code][f"delta_{k}_cents"]) / 100 == diff
    assert pending(capsys) == []
    with session_scope(engine) as s:
        first = s.scalar(select(ClosedPeriod))
        assert first.status == "reopened" and first.reopened_by == "gestionnaire"
        assert first.reopen_reason == "Index du compteur corrigé par GRDF"
        statuses = set(s.scalars(select(QuarantinedReading.status)).all())
        assert statuses == {"applied"}
        assert s.scalar(select(Adjustment.status)) == "active"
        actions = [a.action for a in s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "closed_period").order_by(AuditEvent.id)
        )]  # fmt: skip
        assert actions == ["close", "reopen"]
    # close again: a new row, with the figures as they now stand
    close(capsys)
    again = settle_json(capsys)
    assert {k: v for k, v in again.items() if k != "closed"} == {
        k: v for k, v in live.items() if k != "closed"
    }
    with session_scope(engine) as s:
        rows = s.scalars(select(ClosedPeriod).order_by(ClosedPeriod.id)).all()
        assert [r.status for r in rows] == ["reopened", "closed"]
        assert rows[0].fingerprint != rows[1].fingerprint
    with pytest.raises(SystemExit) as exit_:  # --why is required
        run(capsys, "settle", "reopen", "--contract", "C1", "--month", MONTH)
    assert exit_.value.code == 2 and "--why" in capsys.readouterr().err


def _read_csv(payload: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(payload), sep=";", decimal=",", encoding="utf-8-sig",
                       dtype={"Mois": str, "Origine": str, "Arrêté": str},
                       keep_default_na=False)  # fmt: skip


def test_book_regularisation_in_a_later_month(contract_town, engine, tmp_path, capsys):
    close(capsys)
    out_oct = tmp_path / "oct.csv"
    assert run(capsys, "export", "finance", "--contract", "C1", "--month", MONTH,
               "--output", str(out_oct))[0] == 0  # fmt: skip
    oct_before = out_oct.read_bytes()
    with session_scope(engine) as s:  # the file that brought the correction
        batch = ImportBatch(source="correction-grdf.csv", origin="csv", status="ok")
        s.add(batch)
        s.flush()
        batch_id = batch.id
    later_data(engine, contract_town, batch_id=batch_id)
    (p,) = pending(capsys)
    status, out = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                      MONTH, "--why", "x", "--user", "gestionnaire")  # fmt: skip
    assert status == 2 and "mois ultérieur" in out
    status, out = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                      "2025-11", "--why", "Correction GRDF", "--user", "agent1")  # fmt: skip
    assert status == 3
    status, out = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                      "2025-11", "--why", "Correction GRDF", "--user", "gestionnaire",
                      "--json")  # fmt: skip
    assert status == 0, out
    regs = json.loads(out)
    moved = {b["building_code"]: b for b in p["buildings"]}
    assert sum(r["delta_cents"] for r in regs) == p["total"]["delta_net_cents"]
    for r in regs:
        assert r["booked_month"] == "2025-11"
        assert r["details"]["origin"] == f"régularisation d'octobre 2025 (lot n° {batch_id})"
    with session_scope(engine) as s:
        codes = {r.id: r for r in s.scalars(select(Regularisation))}
        assert len(codes) == len(regs)
        assert set(s.scalars(select(QuarantinedReading.status)).all()) == {"applied"}
        notes = set(s.scalars(select(QuarantinedReading.decision_note)).all())
        assert all("comptée en novembre 2025" in n for n in notes)
        # the readings are now in the record; October's signed figures did not move
        tn = s.scalar(select(Reading.value).where(
            Reading.channel_id == contract_town["ids"]["TN"],
            Reading.ts == int(local_midnight_epoch([pd.Timestamp("2025-10-05")])[0]),
        ))  # fmt: skip
        assert tn == -3.0
    assert run(capsys, "export", "finance", "--contract", "C1", "--month", MONTH,
               "--output", str(out_oct))[0] == 0  # fmt: skip
    assert out_oct.read_bytes() == oct_before
    out_nov = tmp_path / "nov.csv"
    status, out = run(capsys, "export", "finance", "--contract", "C1", "--month", "2025-11",
                      "--output", str(out_nov))  # fmt: skip
    assert status == 0 and "ligne(s) de régularisation" in out
    nov = _read_csv(out_nov.read_bytes())
    lines = nov[nov["Origine"] != ""]
    assert list(nov["Code bâtiment"]).index("TOTAL") < lines.index.min()  # after the total
    assert len(lines) == len(regs)
    for line in lines.to_dict("records"):
        exp = moved[line["Code bâtiment"]]
        assert line["Origine"] == f"régularisation d'octobre 2025 (lot n° {batch_id})"
        net = Decimal(str(line["Solde en faveur de l'exploitant (€)"])).quantize(CENT)
        assert net == Decimal(exp["delta_net_cents"]) / 100
        assert line["Consommation réelle (MWh PCI)"] == pytest.approx(
            exp["delta_actual_mwh_pci"], abs=1e-3
        )
    # nothing more to book: the difference is booked
    left = pending(capsys)
    assert left == [], json.dumps(left, indent=1)
    status, out = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                      "2025-12", "--why", "encore", "--user", "gestionnaire")  # fmt: skip
    assert status == 2 and "rien à régulariser" in out
    # a closed month takes no regularisation
    close(capsys, "2025-11")
    status, out = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                      "2025-11", "--why", "x", "--user", "gestionnaire")  # fmt: skip
    assert status == 2 and "choisissez un mois ouvert" in out


def test_reopened_month_inside_closed_season_is_refused(contract_town, engine, capsys):
    close(capsys)
    status, out = run(capsys, "settle", "close", "--contract", "C1", "--season", SEASON,
                      "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out
    status, out = run(capsys, "settle", "reopen", "--contract", "C1", "--month", MONTH,
                      "--why", "essai", "--user", "gestionnaire")  # fmt: skip
    assert status == 2 and "rouvrez d'abord la saison" in out
    later_data(engine, contract_town, held=19, updated=0)
    # nothing reached the record: both closed periods still have the inputs they signed
    listed = pending(capsys)
    assert {x["period"] for x in listed} == {MONTH, SEASON}
    assert all(x["inputs_unchanged"] is True for x in listed)
    assert {x["period"]: x["held_rows"] for x in listed} == {MONTH: 0, SEASON: 19}
    # reopening the season: October is still closed by itself, its rows keep waiting
    status, out = run(capsys, "settle", "reopen", "--contract", "C1", "--season", SEASON,
                      "--why", "révision", "--user", "gestionnaire")  # fmt: skip
    assert status == 0 and "1 relevé(s) en attente appliqué(s), 18 encore en attente" in out, out
    with session_scope(engine) as s:
        held = s.scalars(select(QuarantinedReading)).all()
        oct_row = s.scalar(select(ClosedPeriod).where(ClosedPeriod.period == MONTH))
        waiting = [q for q in held if q.status == "held"]
        assert len(waiting) == 18 and {q.closed_period_id for q in waiting} == {oct_row.id}
        assert {q.reason for q in waiting} == {
            f"période arrêtée : C1 octobre 2025 ({closed_marker(oct_row.closed_at, 'gestionnaire', True)})"
        }
        (applied,) = [q for q in held if q.status == "applied"]
        nov1 = int(local_midnight_epoch([pd.Timestamp("2025-11-01")])[0])
        assert applied.ts == nov1
        assert s.scalar(select(Reading.value).where(Reading.ts == nov1,
                        Reading.channel_id == contract_town["ids"]["MAIRIE-GAZ"])) == applied.value  # fmt: skip


def test_a_signed_season_is_the_previous_season_of_the_next(contract_town, engine, capsys):
    """The two-season NB-revision alert reads the previous season's deviation as signed."""
    from carnet.frames import contract_terms
    from carnet.frames_settlement import settlement_frames
    from contract import ContractTerms, settle_frames, settlement_plan
    from contract.regularisation import with_signed_previous

    terms = ContractTerms.from_record(contract_terms(engine, "C1"))
    data = settlement_frames(engine, settlement_plan(terms, SEASON))
    report = settle_frames(terms, SEASON, data)
    assert report.season_complete
    dev = dict(
        zip(report.buildings["building_code"], report.buildings["deviation_pct"], strict=True)
    )
    # the signed previous season: the town hall off in the same direction, the school opposite
    signed = {
        "buildings": [
            {"building_code": "MAIRIE", "deviation_pct": 20.0 * np.sign(dev["MAIRIE"])},
            {"building_code": "ECOLE", "deviation_pct": -20.0 * np.sign(dev["ECOLE"])},
        ]
    }
    out = with_signed_previous(settle_frames(terms, SEASON, data), signed, terms)
    alerts = dict(zip(out.buildings["building_code"], out.buildings["alerts"], strict=True))
    assert ("nb_revision_2_seasons" in alerts["MAIRIE"]) == (abs(dev["MAIRIE"]) > 8.0)
    assert "nb_revision_2_seasons" not in alerts["ECOLE"]
    assert set(out.total["alerts"]) == {a for row in alerts.values() for a in row}
    prev = dict(
        zip(out.buildings["building_code"], out.buildings["previous_deviation_pct"], strict=True)
    )
    assert prev["MAIRIE"] == 20.0 * np.sign(dev["MAIRIE"])
    # a closed month of a closed season is booked only once the season is reopened
    close(capsys)
    status, out_ = run(capsys, "settle", "close", "--contract", "C1", "--season", SEASON,
                       "--user", "gestionnaire")  # fmt: skip
    assert status == 0, out_
    status, out_ = run(capsys, "settle", "book", "--contract", "C1", "--month", MONTH, "--into",
                       "2025-11", "--why", "x", "--user", "gestionnaire")  # fmt: skip
    assert status == 2 and "rouvrez-la d'abord" in out_
