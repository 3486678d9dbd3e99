"""A town's declared quantities (portfolio `quantities:`): loaded into the record, polled over
Modbus from a real loopback server, imported from CSV, checked against their own range and
labelled in French wherever a built-in quantity is."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml
from sqlalchemy import func, select

from carnet.access import SYSTEM
from carnet.buildings import building_record
from carnet.db import session_scope
from carnet.models import Channel, Quantity, QuarantinedReading, Reading
from carnet.portfolio import load_portfolio
from carnet.portfolio_parse import PortfolioError
from carnet.quantities import QUANTITY_LABELS_FR, quantity_labels
from carnet_cli.main import main as cli_main
from ingest.importer import import_file
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer, encode

FLUE_LABEL = "Température des fumées"
TOWN = {
    "quantities": [
        {
            "code": "temp_flue_c",
            "label": FLUE_LABEL,
            "unit": "degC",
            "kind": "instant",
            "range": [0, 300],
        }
    ],
    "buildings": [
        {
            "code": "GYM",
            "name": "Gymnase",
            "equipment": [{"code": "GYM-CH1", "kind": "boiler", "power_kw": 250, "fuel": "gas"}],
            "channels": [
                {
                    "code": "GYM-FUMEES",
                    "quantity": "temp_flue_c",
                    "kind": "instant",
                    "unit": "degC",
                    "equipment": "GYM-CH1",
                },
                {
                    "code": "GYM-DEPART",
                    "quantity": "temp_flow_c",
                    "kind": "instant",
                    "unit": "degC",
                },
            ],
        }
    ],
}
FLUE_MAP = {
    "model": "chaudiere-fumees",
    "points": [
        {"key": "flue_temp", "table": "holding", "address": 0, "type": "int16", "scale": 0.1,
         "unit": "degC", "description": "Température des fumées"},
    ],
}  # fmt: skip


def _load(engine, doc) -> None:
    with session_scope(engine) as s:
        load_portfolio(s, copy.deepcopy(doc))


def _problems(engine, doc) -> str:
    with pytest.raises(PortfolioError) as err, session_scope(engine) as s:
        load_portfolio(s, doc)
    return str(err.value)


def _values(engine, model, code: str) -> list[float]:
    with session_scope(engine) as s:
        cid = s.scalar(select(Channel.id).where(Channel.code == code))
        return sorted(s.scalars(select(model.value).where(model.channel_id == cid)))


def test_declared_quantity_is_stored_and_reloading_changes_nothing(engine):
    _load(engine, TOWN)
    with session_scope(engine) as s:
        q = s.scalar(select(Quantity))
        assert (q.code, q.label, q.unit, q.kind) == ("temp_flue_c", FLUE_LABEL, "degC", "instant")
        assert (q.range_min, q.range_max) == (0.0, 300.0)
        report = load_portfolio(s, copy.deepcopy(TOWN))
        assert not report.changed
        labels = quantity_labels(s)
        assert labels["temp_flue_c"] == FLUE_LABEL
        assert labels["temp_flow_c"] == QUANTITY_LABELS_FR["temp_flow_c"]  # built-ins unchanged
        record = building_record(s, SYSTEM, "GYM")
    shown = {c["code"]: c["quantity_label"] for c in record["channels"]}
    assert shown == {"GYM-FUMEES": FLUE_LABEL, "GYM-DEPART": "Température départ"}


def test_a_later_small_file_may_use_a_quantity_declared_before(engine):
    _load(engine, TOWN)
    more = {
        "buildings": [
            {
                "code": "GYM",
                "name": "Gymnase",
                "channels": [
                    {"code": "GYM-FUMEES-2", "quantity": "temp_flue_c", "kind": "instant",
                     "unit": "degC"},
                ],
            }
        ]
    }  # fmt: skip
    _load(engine, more)
    with session_scope(engine) as s:
        assert s.scalar(select(Channel.quantity).where(Channel.code == "GYM-FUMEES-2")) == (
            "temp_flue_c"
        )


def test_unknown_quantity_names_the_quantities_section_and_changes_nothing(engine):
    doc = copy.deepcopy(TOWN)
    del doc["quantities"]
    message = _problems(engine, doc)
    assert "buildings[0].channels[0].quantity: grandeur « temp_flue_c » inconnue" in message
    assert "déclarez-la dans la section quantities:" in message
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Channel)) == 0


def test_declaration_errors_unit_range_builtin_and_mismatch(engine):
    doc = copy.deepcopy(TOWN)
    doc["quantities"][0]["unit"] = "degres"
    doc["quantities"][0]["range"] = [300, 0]
    doc["quantities"].append(
        {"code": "temp_flow_c", "label": "Départ", "unit": "degC", "kind": "instant"}
    )
    message = _problems(engine, doc)
    assert "quantities[0].unit: valeur « degres » non admise" in message
    assert "quantities[0].range: plage [min, max]" in message
    assert "quantities[1].code: « temp_flow_c » est une grandeur intégrée" in message
    doc = copy.deepcopy(TOWN)
    doc["buildings"][0]["channels"][0]["unit"] = "K"
    message = _problems(engine, doc)
    assert "buildings[0].channels[0].unit: « K » ne correspond pas à la grandeur" in message


def test_polled_over_modbus_and_imported_from_csv_within_its_own_range(engine, tmp_path, capsys):
    (tmp_path / "chaudiere-fumees.yaml").write_text(yaml.safe_dump(FLUE_MAP), encoding="utf-8")
    boiler = FakeDevice(5)
    boiler.set("holding", 0, [1855])  # 185.5 °C
    with ThreadedServer([boiler]) as server:
        site = copy.deepcopy(TOWN)  # one file: the portfolio and its Modbus site
        site["gateways"] = [{
            "code": "GW-GYM", "host": "127.0.0.1", "port": server.port, **TIMEOUTS,
            "devices": [{"unit": 5, "map": "chaudiere-fumees.yaml",
                         "channels": {"flue_temp": "GYM-FUMEES"}}],
        }]  # fmt: skip
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
        assert cli_main(["portfolio", "load", str(config)]) == 0
        assert cli_main(["poll", "--config", str(config), "--once"]) == 0
        boiler.set("holding", 0, encode(3500, "int16"))  # 350 °C: above the declared 300
        assert cli_main(["poll", "--config", str(config), "--once"]) == 1  # a reading held
    out = capsys.readouterr().out
    assert "quantity: 1 créé(s)" in out
    assert f"GYM-FUMEES : 350 °C hors de la plage admise pour « {FLUE_LABEL} »" in out
    assert _values(engine, Reading, "GYM-FUMEES") == [pytest.approx(185.5)]
    assert _values(engine, QuarantinedReading, "GYM-FUMEES") == [pytest.approx(350.0)]

    start = dt.datetime(2025, 12, 1, 8, tzinfo=dt.UTC)
    lines = ["Point de mesure;Date et heure;Valeur (°C)"] + [
        f"GYM-FUMEES;{(start + dt.timedelta(hours=h)).strftime('%d/%m/%Y %H:%M')};{v}"
        for h, v in enumerate(["190,5", "-12", "210"])
    ]
    path = tmp_path / "fumees.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(engine, path)
    assert (report.rows_inserted, report.rows_quarantined, report.rows_rejected) == (2, 1, 0)
    reasons = " ".join(str(q) for q in report.quarantined)
    assert f"12 °C hors de la plage admise pour « {FLUE_LABEL} » (0 à 300 °C)" in reasons
    assert _values(engine, Reading, "GYM-FUMEES") == pytest.approx([185.5, 190.5, 210.0])
