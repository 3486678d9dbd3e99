"""`carnet portfolio export`: the whole portfolio written back as the file `portfolio load` reads,
so that export then load changes nothing (the demo town, every table compared), and a fresh
database loaded from the export holds the same portfolio."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import yaml
from sqlalchemy import func, select

from carnet import db as carnet_db
from carnet.db import session_scope
from carnet.models import AuditEvent, User
from carnet.portfolio import load_portfolio
from carnet.portfolio_export import export_portfolio, write_portfolio
from tests.helpers.backup_support import read_tables
from tests.helpers.cli import run
from tests.helpers.demo_copy import copy_demo

TODAY = dt.date(2026, 11, 25)
# the readings are compared by count and sums (millions of rows): a load never writes them
BULK = ("reading", "daily_rollup")


def _aggregates(engine) -> dict:
    with engine.connect() as conn:
        return {
            t: pd.read_sql_query(
                f"SELECT COUNT(*) AS n, SUM(channel_id) AS c, SUM(value) AS v FROM {t}", conn
            )
            .round(6)
            .to_dict("records")
            for t in BULK
        }


def _tables(db_url) -> dict[str, pd.DataFrame]:
    tables = read_tables(db_url, where={t: "1 = 0" for t in BULK})
    return {t: f for t, f in tables.items() if t not in ("audit_event", *BULK)}


# the demo's boiler room on a Modbus gateway (a site file's `gateways:`, loaded as the file is)
GATEWAYS = {
    "gateways": [
        {"code": "GW-MAIRIE", "host": "10.0.12.7", "port": 502, "timeout_s": 1.5, "retries": 2,
         "description": "Passerelle de la chaufferie",
         "devices": [
             {"unit": 1, "map": "generic-boiler", "name": "Chaudière 1", "poll_s": 60,
              "building": "MAIRIE", "equipment": "MAIRIE-CHAUD-1",
              "channels": {"flow_temp": "MAIRIE-CHAUD-1-TD", "burner_hours": "MAIRIE-CHAUD-1-HF",
                           "fault_code": "MAIRIE-CHAUD-1-DEF"}},
             {"unit": 5, "map": "gas-pulse-counter", "channels": {}},
         ]},
        {"code": "GW-SERIE", "type": "serial", "port": "/dev/ttyUSB0", "framer": "rtu",
         "baudrate": 19200, "parity": "E",
         "devices": [{"unit": 3, "map": "generic-boiler"}]},
    ]
}  # fmt: skip


def test_demo_town_export_then_load_changes_nothing(engine, db_url, tmp_path, capsys):
    copy_demo(db_url, today=TODAY)
    with session_scope(engine) as s:
        load_portfolio(s, GATEWAYS)
    before, bulk_before = _tables(db_url), _aggregates(engine)
    with session_scope(engine) as s:
        audit_before = s.scalar(select(func.count()).select_from(AuditEvent))
    path = tmp_path / "patrimoine.yaml"
    status, out = run(capsys, "portfolio", "export", str(path))
    assert status == 0, out
    assert f"{path} écrit" in out and "buildings: 12" in out
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert {"stations", "buildings", "contracts", "users", "gateways"} <= set(doc)
    assert [g["code"] for g in doc["gateways"]] == ["GW-MAIRIE", "GW-SERIE"]
    assert (
        doc["gateways"][0]["devices"][0]["channels"]
        == GATEWAYS["gateways"][0]["devices"][0]["channels"]
    )
    assert doc["gateways"][0]["port"] == 502 and doc["gateways"][1]["port"] == "/dev/ttyUSB0"
    assert not any("password" in str(k) for u in doc["users"] for k in u)

    status, out = run(capsys, "portfolio", "load", str(path))
    assert status == 0, out
    assert "aucun changement" in out
    after = _tables(db_url)
    assert set(after) == set(before) and len(after["modbus_device"]) == 3
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame, obj=table)
    bulk_after = _aggregates(engine)  # PostgreSQL sums floats in any order: rounding apart
    for table, (row,) in bulk_before.items():
        (got,) = bulk_after[table]
        assert (got["n"], got["c"]) == (row["n"], row["c"])
        assert got["v"] == pytest.approx(row["v"], rel=1e-12)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_declared_quantities_and_profiles_survive_into_a_fresh_database(engine, tmp_path, capsys):
    doc = {
        "quantities": [
            {"code": "temp_flue_c", "label": "Température des fumées", "unit": "degC",
             "kind": "instant", "range": [0, 300]},
            {"code": "nox_mg_m3", "label": "Oxydes d'azote", "unit": "mg/m3", "kind": "instant",
             "range": [0, None]},
        ],
        "stations": [{"code": "LILLE", "name": "Lille-Lesquin", "channels": [
            {"code": "LILLE-T", "quantity": "temp_outdoor_c", "kind": "instant",
             "unit": "degC"}]}],
        "buildings": [{
            "code": "GYM", "name": "Gymnase", "station": "LILLE", "heated_area_m2": 1200.5,
            "schedule": {"mon": ["08:00-18:00"]},
            "rooms": [{"code": "GYM-SALLE", "name": "Salle", "bookable": True}],
            "equipment": [
                {"code": "GYM-CHAUF", "kind": "boiler_room"},
                {"code": "GYM-CH1", "kind": "boiler", "parent": "GYM-CHAUF", "power_kw": 250,
                 "fuel": "gas", "installed_on": dt.date(2012, 9, 1)},
            ],
            "channels": [
                {"code": "GYM-GAZ", "quantity": "gas_volume_m3", "kind": "index", "unit": "m3",
                 "kwh_per_unit": 11.2, "external_ref": "GI123456"},
                {"code": "GYM-FUMEES", "quantity": "temp_flue_c", "kind": "instant",
                 "unit": "degC", "equipment": "GYM-CH1"},
            ],
        }],
        "contracts": [{
            "code": "P2", "contractor": "Exploitant", "starts_on": dt.date(2024, 7, 1),
            "price_eur_per_mwh_pci": "61.2345", "degree_days": {"method": "costic",
                                                                "station": "LILLE"},
            "terms": {"p1_revision": {"formula": "P1 = P1o × G/Go"}},
            "buildings": [{"building": "GYM", "channel": "GYM-GAZ", "nb_mwh_pci": 210.5,
                           "dju_ref": 2450}],
        }],
        "users": [{"login": "exploitant", "role": "contractor", "contract": "P2",
                   "email": "exploitant@example.org"}],
        "import_profiles": [{"code": "gardien", "columns": {"timestamp": "Quand",
                                                            "value": "Mesure"},
                             "decimal": ",", "channel": "GYM-FUMEES"}],
    }  # fmt: skip
    with session_scope(engine) as s:
        load_portfolio(s, doc, actor="test")
        exported = export_portfolio(s)
        s.execute(User.__table__.update().values(password_hash="secret-hash"))
    quantities = {q["code"]: q for q in exported["quantities"]}
    assert quantities["nox_mg_m3"]["range"] == [0.0, None]
    assert exported["contracts"][0]["price_eur_per_mwh_pci"] == "61.2345"
    assert exported["import_profiles"][0]["channel"] == "GYM-FUMEES"
    with session_scope(engine) as s:
        again = export_portfolio(s)
        assert not load_portfolio(s, again, actor="test").changed
    assert "secret-hash" not in yaml.safe_dump(again)
    assert again == exported
    # the exported file loaded into an empty database exports the same portfolio
    path = tmp_path / "patrimoine.yaml"
    with session_scope(engine) as s:
        write_portfolio(s, path)
    fresh = carnet_db.make_engine(f"sqlite:///{tmp_path / 'neuve.sqlite'}")
    carnet_db.upgrade(fresh)
    try:
        with session_scope(fresh) as s:
            load_portfolio(s, path, actor="test")
        with session_scope(fresh) as s:
            assert export_portfolio(s) == exported
    finally:
        fresh.dispose()
