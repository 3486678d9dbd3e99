"""Modbus gateways in the record: loaded from the portfolio (or site) file, `carnet poll` reads
them when no site file is given, and a site file still wins when there is one; with neither,
the poller says where it looked."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from sqlalchemy import text

from carnet.db import session_scope
from carnet.portfolio import load_portfolio
from carnet.portfolio_export import export_gateways
from carnet.portfolio_parse import PortfolioError
from tests.helpers.cli import run
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer

SITE = {
    "buildings": [{
        "code": "MAIRIE", "name": "Mairie",
        "equipment": [{"code": "MAIRIE-CHAUD", "kind": "boiler", "power_kw": 90, "fuel": "gaz"}],
        "channels": [{"code": "MAIRIE-TEXT", "quantity": "temp_outdoor_c", "kind": "instant",
                      "unit": "degC", "equipment": "MAIRIE-CHAUD"}],
    }],
}  # fmt: skip


def _gateways(port: int, channel: str = "MAIRIE-TEXT") -> dict:
    return {"gateways": [{
        "code": "GW-MAIRIE", "host": "127.0.0.1", "port": port, **TIMEOUTS,
        "devices": [{"unit": 10, "map": "generic-boiler", "equipment": "MAIRIE-CHAUD",
                     "channels": {"outdoor_temp": channel}}],
    }]}  # fmt: skip


def _values(engine) -> list[float]:
    with engine.connect() as conn:
        return pd.read_sql_query(text("SELECT value FROM reading ORDER BY ts"), conn)[
            "value"
        ].tolist()


def test_poll_reads_the_gateways_of_the_record_when_no_site_file_is_given(
    engine, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("CARNET_POLL_CONFIG", raising=False)
    boiler = FakeDevice(10)
    boiler.set("holding", 0, [(-35) & 0xFFFF])  # -3.5 °C
    with ThreadedServer([boiler]) as server:
        with session_scope(engine) as s:
            load_portfolio(s, SITE | _gateways(server.port), actor="test")
        with session_scope(engine) as s:
            (gw,) = export_gateways(s)
        assert gw["port"] == server.port and gw["devices"][0]["equipment"] == "MAIRIE-CHAUD"
        status, out = run(capsys, "poll", "--once")
        assert status == 0, out
        assert "GW-MAIRIE / esclave 10 (generic-boiler)" in out
        assert _values(engine) == [pytest.approx(-3.5)]

        # a site file given wins over the record: here it names a silent slave address
        site = tmp_path / "site.yaml"
        other = _gateways(server.port)
        other["gateways"][0]["devices"][0]["unit"] = 11
        site.write_text(yaml.safe_dump(other), encoding="utf-8")
        status, out = run(capsys, "poll", "--config", str(site), "--once")
        assert status == 1, out  # a device in failure
        assert "esclave 11" in out and "esclave 10" not in out


def test_without_site_file_nor_gateways_the_poller_says_where_it_looked(
    engine, capsys, monkeypatch
):
    monkeypatch.delenv("CARNET_POLL_CONFIG", raising=False)
    status, out = run(capsys, "poll", "--once")
    assert status != 0
    assert "aucune passerelle Modbus" in out and "poller.yaml" in out


def test_a_gateway_naming_an_unknown_channel_or_a_slave_twice_loads_nothing(engine):
    with session_scope(engine) as s:
        load_portfolio(s, SITE, actor="test")
    bad = _gateways(502, channel="NOPE")
    bad["gateways"][0]["devices"].append(dict(bad["gateways"][0]["devices"][0], channels={}))
    with pytest.raises(PortfolioError) as caught, session_scope(engine) as s:
        load_portfolio(s, bad, actor="test")
    assert caught.value.problems == [
        "gateways[0].devices[0].channels.outdoor_temp: point de mesure « NOPE » inconnu(e)",
        "gateways[0].devices[1].unit: esclave 10 déjà défini en gateways[0].devices[0]",
    ]
    with session_scope(engine) as s:
        assert export_gateways(s) == []


def test_removing_a_gateway_removes_its_devices_audited(engine, capsys):
    from sqlalchemy import func, select

    from carnet.models import AuditEvent, ModbusDevice

    with session_scope(engine) as s:
        load_portfolio(s, SITE | _gateways(502), actor="test")
    status, out = run(capsys, "portfolio", "remove", "gateway", "GW-MAIRIE")
    assert status == 0, out
    with session_scope(engine) as s:
        assert export_gateways(s) == []
        assert s.scalar(select(func.count()).select_from(ModbusDevice)) == 0
        events = s.execute(
            select(AuditEvent.action, AuditEvent.entity, AuditEvent.before)
            .where(AuditEvent.action == "delete")
            .order_by(AuditEvent.id)
        ).all()
    assert [(a, e) for a, e, _b in events] == [("delete", "modbus_device"), ("delete", "gateway")]
    assert events[0].before["channels"] == {"outdoor_temp": "MAIRIE-TEXT"}
