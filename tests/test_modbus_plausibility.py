"""Issue 10 §6: the poller goes through the checks of file imports (plausibility, quarantine), and
a device answering only Modbus exceptions is « en échec », never « en ligne ». Everything runs
against a real pymodbus server on loopback, a real database and, for the page, a real browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pandas as pd
import pytest
import yaml
from selenium.webdriver.common.by import By
from sqlalchemy import select, text

from carnet.db import session_scope
from carnet.models import Building, Channel, Equipment, ImportBatch, QuarantinedReading
from carnet_cli.main import main as cli_main
from ingest.modbus.config import parse_config
from ingest.modbus.poller import Poller
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer, encode
from tests.helpers.seed import seed_town

UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"
NNBSP = "\u202f"  # the thousands separator of French figures
T0 = int(dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC).timestamp())  # 10:00 in Paris


class Clock:
    def __init__(self, start: int = T0):
        self.t = start

    def __call__(self) -> int:
        return self.t


def _boiler_room(engine) -> dict[str, int]:
    """A 250 kW gas boiler with its gas index (11,2 kWh/m³) and a flow and an outdoor probe."""
    with session_scope(engine) as s:
        b = Building(code="ECOLE", name="École")
        boiler = Equipment(code="ECOLE-CHAUD", kind="boiler", power_kw=250.0, building=b)
        s.add_all([b, boiler])
        s.add_all([
            Channel(code="ECOLE-GAZ", building=b, equipment=boiler, quantity="gas_volume_m3",
                    kind="index", unit="m3", kwh_per_unit=11.2),
            Channel(code="ECOLE-TDEP", building=b, equipment=boiler, quantity="temp_flow_c",
                    kind="instant", unit="degC"),
            Channel(code="ECOLE-TEXT", building=b, quantity="temp_outdoor_c", kind="instant",
                    unit="degC"),
        ])  # fmt: skip
        s.flush()
        return {c.code: c.id for c in s.scalars(select(Channel))}


GAS = {"unit": 3, "map": "gas-pulse-counter", "channels": {"gas_volume": "ECOLE-GAZ"}}
BOILER = {"unit": 10, "map": "generic-boiler",
          "channels": {"outdoor_temp": "ECOLE-TEXT", "flow_temp": "ECOLE-TDEP"}}  # fmt: skip


def _config(port: int, devices: list[dict]):
    return parse_config({"gateways": [{"code": "GW-CHAUFFERIE", "host": "127.0.0.1",
                                       "port": port, **TIMEOUTS, "devices": devices}]}, "site.yaml")  # fmt: skip


def _m3(value_m3: float) -> list[int]:
    """The gas-pulse counter's registers for an index in m³ (0,01 m³ per pulse)."""
    return encode(round(value_m3 * 100), "uint32")


def _readings(engine, channel_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text("SELECT ts, value, quality FROM reading WHERE channel_id = :c ORDER BY ts"),
            conn,
            params={"c": channel_id},
        )


def _held(engine) -> list[QuarantinedReading]:
    with session_scope(engine) as s:
        rows = s.scalars(select(QuarantinedReading).order_by(QuarantinedReading.id)).all()
        s.expunge_all()
    return rows


def _day(engine, channel_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT value, energy_kwh, min_value, max_value, n_readings FROM daily_rollup"
                 " WHERE channel_id = :c"), {"c": channel_id},
        ).one()  # fmt: skip
    return dict(row._mapping)


def test_gas_index_jump_is_held_and_the_next_reading_counts_from_the_last_accepted(engine):
    """+50 000 m³ in a minute on a 250 kW boiler's meter: held with a French reason, absent
    from `reading` and `daily_rollup`; the next normal reading is accepted and the day's
    consumption is taken from the last accepted index, not from the held one."""
    ids = _boiler_room(engine)
    meter = FakeDevice(3)
    clock = Clock()
    with ThreadedServer([meter]) as server:
        poller = Poller(_config(server.port, [GAS]), clock=clock)

        async def three_minutes():
            reports = []
            for index_m3 in (1000.0, 51000.0, 1000.3):
                meter.set("holding", 0, _m3(index_m3))
                await poller.poll_once()
                reports.append(poller.last_flush)
                clock.t += 60
            poller.close()
            return reports

        normal, jump, after = asyncio.run(three_minutes())
    gas = ids["ECOLE-GAZ"]
    stored = _readings(engine, gas)
    assert stored["ts"].tolist() == [T0, T0 + 120]
    assert stored["value"].tolist() == pytest.approx([1000.0, 1000.3])
    (held,) = _held(engine)
    assert (held.channel_id, held.ts, held.status, held.reason_code) == (
        gas, T0 + 60, "held", "jump")  # fmt: skip
    assert held.value == pytest.approx(51000.0)
    assert held.reason.startswith(f"+50{NNBSP}000 m³ en 1 min, soit ")
    assert "pour une chaudière de 250 kW (limite 375 kW)" in held.reason
    assert f"depuis le relevé du 20/11/2025 10:00 (1{NNBSP}000 m³)" in held.reason
    assert held.file == "GW-CHAUFFERIE"
    assert held.raw == "GW-CHAUFFERIE esclave 3, point gas_volume : holding 0, uint32 × 0,01 m3"
    assert held.batch_id == jump.batch_id
    # the day: two accepted readings, 0,3 m³ between them, the held index nowhere
    day = _day(engine, gas)
    assert day["value"] == pytest.approx(0.3) and day["energy_kwh"] == pytest.approx(0.3 * 11.2)
    assert (normal.held, jump.held, after.held) == (0, 1, 0)
    assert jump.stored == 0 and after.stored == 1 and jump.held_reasons == {"jump": 1}
    assert jump.held_samples[0].startswith("ECOLE-GAZ : +50")
    with session_scope(engine) as s:
        batch = s.get(ImportBatch, jump.batch_id)
        assert (batch.rows_read, batch.rows_quarantined, batch.rows_inserted) == (1, 1, 0)
        assert batch.status == "partial"
        assert batch.message == "1 relevé mis en quarantaine (saut d'index)"
        assert s.get(ImportBatch, after.batch_id).status == "ok"
    status = poller.status_line()
    assert "1 relevé mis en quarantaine depuis le démarrage" in status
    assert "2 mesure(s) écrite(s) depuis le démarrage" in status


def test_a_held_poller_reading_is_reviewed_like_an_imported_one(engine, capsys):
    """The manager sees the poller's held reading in `carnet quarantine list --json` (gateway,
    register) and rejects it: the record and the day's consumption do not move."""
    ids = _boiler_room(engine)
    meter = FakeDevice(3)
    clock = Clock()
    with ThreadedServer([meter]) as server:
        poller = Poller(_config(server.port, [GAS]), clock=clock)

        async def two_minutes():
            for index_m3 in (700.0, 40700.0):
                meter.set("holding", 0, _m3(index_m3))
                await poller.poll_once()
                clock.t += 60
            poller.close()

        asyncio.run(two_minutes())
    assert cli_main(["quarantine", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["channel"], listed["file"], listed["reason_code"]) == (
        "ECOLE-GAZ", "GW-CHAUFFERIE", "jump")  # fmt: skip
    assert listed["value"] == pytest.approx(40700.0) and "point gas_volume" in listed["raw"]
    why = "impulsions parasites sur le module"
    assert cli_main(["quarantine", "reject", str(listed["id"]), "--why", why]) == 0
    (held,) = _held(engine)
    assert held.status == "rejected" and held.decision_note == why
    assert _readings(engine, ids["ECOLE-GAZ"])["value"].tolist() == pytest.approx([700.0])


def test_a_jump_buffered_with_the_readings_around_it_never_becomes_their_reference(engine):
    """Several rounds in one flush (flush_s > poll_s): the jump is held, the readings after it
    are judged against the last accepted index, so they are accepted, not held as drops."""
    ids = _boiler_room(engine)
    meter = FakeDevice(3)
    clock = Clock()
    with ThreadedServer([meter]) as server:
        poller = Poller(_config(server.port, [GAS]), clock=clock)

        async def buffered():
            for index_m3 in (2000.0, 2000.1, 99999.0, 2000.2, 2000.35):
                meter.set("holding", 0, _m3(index_m3))
                await poller.poll_round()
                clock.t += 60
            report = await poller.flush()
            poller.close()
            return report

        report = asyncio.run(buffered())
    gas = ids["ECOLE-GAZ"]
    assert _readings(engine, gas)["value"].tolist() == pytest.approx(
        [2000, 2000.1, 2000.2, 2000.35]
    )
    (held,) = _held(engine)
    assert held.ts == T0 + 120 and held.reason_code == "jump"
    assert f"depuis le relevé du 20/11/2025 10:01 (2{NNBSP}000,1 m³)" in held.reason
    assert (report.rows, report.held, report.stored) == (5, 1, 4)
    assert _day(engine, gas)["value"] == pytest.approx(0.35)


def test_spooled_readings_replayed_go_through_the_same_checks(engine, db_url):
    """The base is away while the meter jumps: the spooled files are replayed oldest first,
    each checked against what the files before it left in the record."""
    ids = _boiler_room(engine)
    meter = FakeDevice(3)
    clock = Clock()
    with ThreadedServer([meter]) as server:
        poller = Poller(_config(server.port, [GAS]), clock=clock)
        spool = poller.writer.spool

        async def scenario():
            meter.set("holding", 0, _m3(500.0))
            await poller.poll_once()  # the base is there: the reference
            poller.writer.url = UNREACHABLE_DB
            for index_m3 in (60500.0, 500.2):
                clock.t += 60
                meter.set("holding", 0, _m3(index_m3))
                await poller.poll_once()
            files = len(spool.files())
            poller.writer.url = db_url  # the base is back
            clock.t += 60
            meter.set("holding", 0, _m3(500.3))
            await poller.poll_once()
            poller.close()
            return files, poller.last_flush

        files, back = asyncio.run(scenario())
    assert files == 2 and spool.files() == []
    assert back.replayed == 2 and back.held_replayed == 1 and back.held == 0
    gas = ids["ECOLE-GAZ"]
    assert _readings(engine, gas)["value"].tolist() == pytest.approx([500.0, 500.2, 500.3])
    (held,) = _held(engine)
    assert held.value == pytest.approx(60500.0) and held.reason_code == "jump"
    with session_scope(engine) as s:
        batch = s.get(ImportBatch, held.batch_id)
        assert batch.source.startswith("spool:") and batch.rows_quarantined == 1
    assert "1 relevé mis en quarantaine depuis le démarrage" in poller.status_line()
    assert _day(engine, gas)["value"] == pytest.approx(0.3)


def test_a_300_c_flow_temperature_is_held_out_of_range(engine, tmp_path, capsys):
    """`carnet poll --once`: the 300 °C flow temperature goes to the quarantine (`range`), the
    outdoor temperature of the same read is written, and the command exits 1."""
    ids = _boiler_room(engine)
    boiler = FakeDevice(10)
    boiler.set("holding", 0, [(-35) & 0xFFFF, 3000])  # -3,5 °C outdoor, 300,0 °C flow
    with ThreadedServer([boiler]) as server:
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump({"gateways": [{
            "code": "GW-CHAUFFERIE", "host": "127.0.0.1", "port": server.port, **TIMEOUTS,
            "devices": [BOILER]}]}), encoding="utf-8")  # fmt: skip
        assert cli_main(["poll", "--config", str(config), "--once"]) == 1
    out = capsys.readouterr().out
    assert "GW-CHAUFFERIE / esclave 10 (generic-boiler) : en ligne" in out
    assert "1 mesure(s) écrite(s)" in out
    assert "1 relevé mis en quarantaine (voir carnet quarantine list) :" in out
    reason = "300 °C hors de la plage admise pour une température de départ (0 à 120 °C)"
    assert f"ECOLE-TDEP : {reason}" in out
    (held,) = _held(engine)
    assert (held.channel_id, held.reason_code, held.reason) == (ids["ECOLE-TDEP"], "range", reason)
    assert held.value == pytest.approx(300.0)
    assert "point flow_temp : holding 1, int16 × 0,1 degC" in held.raw
    assert _readings(engine, ids["ECOLE-TDEP"]).empty
    assert _readings(engine, ids["ECOLE-TEXT"])["value"].tolist() == pytest.approx([-3.5])
    with engine.connect() as conn:
        days = conn.execute(
            text("SELECT COUNT(*) FROM daily_rollup WHERE channel_id = :c"),
            {"c": ids["ECOLE-TDEP"]},
        ).scalar_one()
    assert days == 0


@pytest.mark.browser
def test_devices_page_shows_a_refusing_device_en_echec(live_app, browser):
    """One controller answering, one answering only « device failure », one with a hole in
    its map: « en ligne », « en échec », « partiel »; the summary counts them apart."""
    seed_town(live_app.engine)
    fine, refusing, holey = FakeDevice(10), FakeDevice(11), FakeDevice(12)
    fine.set("holding", 0, [195])
    refusing.mode, refusing.refuse_code = "refuse", 4
    holey.set("holding", 0, [201])
    holey.holes.add(("holding", 1))
    with ThreadedServer([fine, refusing, holey]) as server:
        cfg = parse_config({"gateways": [{
            "code": "GW-TEST", "host": "127.0.0.1", "port": server.port, **TIMEOUTS,
            "devices": [
                {"unit": 10, "map": "generic-boiler", "channels": {"outdoor_temp": "MAIRIE-T"}},
                {"unit": 11, "map": "generic-boiler", "channels": {"outdoor_temp": "MAIRIE-T"}},
                {"unit": 12, "map": "generic-boiler", "channels": {"flow_temp": "MAIRIE-T"}},
            ],
        }]}, "test")  # fmt: skip
        poller = Poller(cfg)

        async def once():
            try:
                return await poller.poll_once()
            finally:
                poller.close()

        results = asyncio.run(once())
    assert [r.state for r in results] == ["ok", "failing", "partial"]

    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/equipements"))
    table = wait_for(browser, "#devices-table", timeout=15)
    rows = {
        r.find_elements(By.TAG_NAME, "td")[1].text: r
        for r in table.find_elements(By.CSS_SELECTOR, "tr.device-row")
    }
    assert set(rows) == {"10", "11", "12"}
    state = {unit: row.find_elements(By.TAG_NAME, "td")[6] for unit, row in rows.items()}
    assert state["10"].text == "en ligne" and "state-ok" in state["10"].get_attribute("class")
    assert state["11"].text == "en échec (1 échec(s) de suite)"
    assert "state-bad" in state["11"].get_attribute("class")
    assert "exception Modbus 4 (défaillance de l'équipement) sur 2 blocs" in rows["11"].text
    assert state["12"].text.startswith("partiel")
    assert "state-warn" in state["12"].get_attribute("class")
    assert "exception Modbus 2 (adresse illégale) sur 1 bloc (holding 1)" in rows["12"].text
    summary = wait_for(browser, "#devices-summary").text
    assert "3 équipement(s) relevé(s), 1 en échec ou sans nouvelles récentes" in summary
    assert "1 lu(s) partiellement" in summary
