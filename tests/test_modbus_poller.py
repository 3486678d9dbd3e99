"""The poller against a real pymodbus server on loopback (TCP and RTU framing over TCP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import select, text

from carnet.db import session_scope
from carnet.kinds import Quality
from carnet.models import Building, Channel, DeviceStatus, Equipment, ImportBatch, LogbookEntry
from carnet_cli.main import main as cli_main
from ingest.modbus.config import BoundDevice, ConfigError, DeviceConfig, GatewayConfig, parse_config
from ingest.modbus.device_reader import DeviceReader
from ingest.modbus.gateway import Gateway
from ingest.modbus.poller import Poller
from ingest.modbus.registers import WORD_ORDERS, load_map, parse_map
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer, encode, sign_magnitude
from tests.helpers.wait import until, until_async

UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"


def _site(engine, channels: dict[str, str]) -> dict[str, int]:
    """A building, a boiler and channels {code: kind}; returns {code: channel id}."""
    with session_scope(engine) as s:
        b = Building(code="MAIRIE", name="Mairie")
        e = Equipment(code="MAIRIE-CHAUD", kind="boiler", building=b)
        s.add_all([b, e])
        for code, kind in channels.items():
            s.add(Channel(code=code, building=b, equipment=e, quantity="x", kind=kind, unit="u"))
        s.flush()
        return {c.code: c.id for c in s.scalars(select(Channel))}


def _config(port, devices, framer="socket", **poller):
    gw = {"code": "GW-MAIRIE", "host": "127.0.0.1", "port": port, "framer": framer, **TIMEOUTS,
          "devices": devices}  # fmt: skip
    return parse_config({"gateways": [gw], "poller": poller}, "site.yaml")


def _readings(engine, channel_id=None) -> pd.DataFrame:
    sql = "SELECT channel_id, ts, value, quality, batch_id FROM reading"
    if channel_id is not None:
        sql += f" WHERE channel_id = {int(channel_id)}"
    with engine.connect() as conn:
        return pd.read_sql_query(text(sql + " ORDER BY channel_id, ts"), conn)


class Clock:
    def __init__(self, start=1_764_000_000):
        self.t = start

    def __call__(self):
        return self.t


# --- decoding over the wire ----------------------------------------------------------------

VALUES = {
    "int16": -1234,
    "uint16": 54321,
    "int32": -123456789,
    "uint32": 3_000_000_000,
    "float32": -21.5,
    "float64": 1234.5678,
}


@pytest.mark.parametrize("framer", ["socket", "rtu"])
def test_every_type_and_word_order(framer):
    device = FakeDevice(7)
    points, expected, next_address = [], {}, {"holding": 0, "input": 0}
    for order in WORD_ORDERS:
        for kind, raw_value in VALUES.items():
            key = f"{kind}_{order}"
            scale, offset = (0.1, 2.0) if kind.startswith(("int", "uint")) else (1.0, 0.0)
            table = "input" if kind == "float64" else "holding"
            address = next_address[table]
            points.append({"key": key, "table": table, "address": address, "type": kind, "word_order": order,
                           "scale": scale, "offset": offset})  # fmt: skip
            device.set(table, address, encode(raw_value, kind, order))
            expected[key] = raw_value * scale + offset
            next_address[table] += len(encode(raw_value, kind, order))
    register_map = parse_map({"model": "all-types", "points": points})
    gw = GatewayConfig(code="GW", host="127.0.0.1", framer=framer, **TIMEOUTS)
    reader = DeviceReader(BoundDevice("GW", DeviceConfig(7, register_map), {}, None, None), True)
    with ThreadedServer([device], framer) as server:
        gw.port = server.port

        async def read():
            gateway = Gateway(gw)
            try:
                return await reader.read(gateway)
            finally:
                gateway.close()

        result, value, quality = asyncio.run(read())
    assert result.answered and result.points_failed == 0
    assert len(reader.blocks) == 2  # contiguous points: one block per table
    for i, p in enumerate(reader.points):
        assert quality[i] == Quality.MEASURED, p.key
        assert value[i] == pytest.approx(expected[p.key], rel=1e-12), p.key


def test_sign_magnitude_invalid_and_implausible_float_hint(engine, caplog):
    ids = _site(engine, {"TEXT": "instant", "TDEP": "instant", "TRET": "instant", "E": "index"})
    boiler = FakeDevice(10)
    # sm-boiler-controller: 40008.. -> protocol 7..; -5.3 degC, 0xFFFF (probe cut), 65.0 degC
    boiler.set("holding", 7, [sign_magnitude(-53), 0xFFFF, 650])
    meter = FakeDevice(11)
    # a meter that really sends ABCD while the map says CDAB: 21.5 kWh reads as a denormal
    meter.set("input", 0, encode(21.5, "float32", "ABCD"))
    with ThreadedServer([boiler, meter]) as server:
        cfg = _config(server.port, [
            {"unit": 10, "map": "sm-boiler-controller",
             "channels": {"outdoor_temp": "TEXT", "flow_temp": "TDEP", "return_temp": "TRET"}},
            {"unit": 11, "map": "heat-meter-cdab", "channels": {"heat_energy": "E"}},
        ])  # fmt: skip
        poller = Poller(cfg, clock=Clock())
        with caplog.at_level("WARNING"):
            asyncio.run(poller.poll_once())
        poller.close()
    rows = _readings(engine).set_index("channel_id")
    assert rows.loc[ids["TEXT"], "value"] == pytest.approx(-5.3)
    assert rows.loc[ids["TEXT"], "quality"] == Quality.MEASURED
    assert (
        pd.isna(rows.loc[ids["TDEP"], "value"])
        and rows.loc[ids["TDEP"], "quality"] == Quality.INVALID
    )
    assert rows.loc[ids["TRET"], "value"] == pytest.approx(65.0)
    hints = [r.getMessage() for r in caplog.records if "word_order" in r.getMessage()]
    assert hints and "heat_energy" in hints[0] and "ABCD donnerait 21.5" in hints[0]


def test_counter_rollover_gives_the_channel_its_modulus(engine):
    ids = _site(engine, {"GAZ-IMP": "index"})
    counter = FakeDevice(3)
    top = 2**32 - 10
    counter.set("holding", 2, encode(top, "uint32"))
    clock = Clock(int(dt.datetime(2025, 11, 20, 7, tzinfo=dt.UTC).timestamp()))  # 08:00 Paris
    with ThreadedServer([counter]) as server:
        cfg = _config(server.port, [{"unit": 3, "map": "gas-pulse-counter",
                                     "channels": {"pulses_raw": "GAZ-IMP"}}])  # fmt: skip
        poller = Poller(cfg, clock=clock)

        async def two_polls():
            await poller.poll_once()
            counter.set("holding", 2, encode(5, "uint32"))  # wrapped past 2**32
            clock.t += 3600
            await poller.poll_once()
            poller.close()

        asyncio.run(two_polls())
    with session_scope(engine) as s:
        assert s.get(Channel, ids["GAZ-IMP"]).modulus == 2**32
    values = _readings(engine)["value"].tolist()
    assert values == [top, 5]
    with engine.connect() as conn:
        day = conn.execute(text("SELECT value FROM daily_rollup WHERE channel_id = :c"),
                           {"c": ids["GAZ-IMP"]}).scalar_one()  # fmt: skip
    assert day == pytest.approx(5 - top + 2**32)  # 15 pulses across the rollover


def test_silent_device_costs_gaps_and_backoff_not_the_others(engine):
    ids = _site(engine, {"A-T": "instant", "A-D": "instant", "B-T": "instant", "B-D": "instant"})
    ok, silent = FakeDevice(10), FakeDevice(11)
    ok.set("holding", 0, [215])
    silent.mode = "silent"
    with ThreadedServer([ok, silent]) as server:
        cfg = _config(server.port, [
            {"unit": 11, "map": "generic-boiler", "poll_s": 10,
             "channels": {"outdoor_temp": "B-T", "flow_temp": "B-D"}},
            {"unit": 10, "map": "generic-boiler", "poll_s": 10,
             "channels": {"outdoor_temp": "A-T", "flow_temp": "A-D"}},
        ])  # fmt: skip
        poller = Poller(cfg, clock=Clock())
        started = time.perf_counter()
        results = asyncio.run(poller.poll_once())
        elapsed = time.perf_counter() - started
        poller.close()
    by_unit = {r.unit: r for r in results}
    assert not by_unit[11].answered and by_unit[11].points_read == 0
    assert by_unit[10].answered and by_unit[10].points_failed == 0
    # one timeout for the silent one (not one per point), then on with the others
    assert elapsed < 2 * TIMEOUTS["timeout_s"]
    rows = _readings(engine).set_index("channel_id")
    for code in ("B-T", "B-D"):
        assert (
            pd.isna(rows.loc[ids[code], "value"]) and rows.loc[ids[code], "quality"] == Quality.GAP
        )
    assert rows.loc[ids["A-T"], "value"] == pytest.approx(21.5)
    with session_scope(engine) as s:
        st = {d.unit: d for d in s.scalars(select(DeviceStatus))}
        assert st[11].consecutive_failures == 1 and st[11].last_contact_at is None
        assert "pas de réponse" in st[11].last_error
        assert st[10].consecutive_failures == 0 and st[10].last_contact_at is not None
        batch = s.scalars(select(ImportBatch)).one()
        assert (batch.origin, batch.status, batch.rows_read) == ("modbus", "partial", 4)
    reader = next(r for r in poller.readers if r.bound.unit == 11)
    assert reader.next_delay(3600) == 20  # poll_s * 2**failures
    reader.failures = 20
    assert reader.next_delay(3600) == 3600


def test_exception_responses_illegal_address_and_gateway_target_failed(engine):
    ids = _site(engine, {"T": "instant", "D": "instant", "R": "instant", "X": "instant"})
    boiler, behind = FakeDevice(10), FakeDevice(12)
    boiler.set("holding", 0, [100, 200, 300])
    boiler.holes.add(("holding", 1))  # flow_temp not implemented by this firmware
    behind.mode = "gateway_fail"
    with ThreadedServer([boiler, behind], "rtu") as server:
        cfg = _config(server.port, [
            {"unit": 10, "map": "generic-boiler",
             "channels": {"outdoor_temp": "T", "flow_temp": "D", "return_temp": "R"}},
            {"unit": 12, "map": "generic-boiler", "channels": {"outdoor_temp": "X"}},
        ], framer="rtu")  # fmt: skip
        clock = Clock()
        poller = Poller(cfg, clock=clock)

        async def polls():
            first = await poller.poll_once()
            clock.t += 60
            requests = boiler.requests
            second = await poller.poll_once()
            poller.close()
            return first, second, boiler.requests - requests

        first, second, requests_second = asyncio.run(polls())
    by_unit = {r.unit: r for r in first}
    assert by_unit[10].answered and by_unit[10].points_failed == 1
    assert by_unit[10].state == "partial"
    assert by_unit[10].error == "exception Modbus 2 (adresse illégale) sur 1 bloc (holding 1)"
    assert not by_unit[12].answered and by_unit[12].state == "failing"
    assert by_unit[12].error.startswith(
        "exception Modbus 11 (passerelle : l'équipement cible ne répond pas) sur 1 bloc"
    )
    assert "1 bloc non demandé" in by_unit[12].error  # fault_code: not asked after the 0x0B
    # the refused block was split once: the second poll reads point by point, no retry dance
    assert requests_second == 4  # outdoor, flow (refused), return, fault_code
    rows = _readings(engine)
    last = rows[rows["ts"] == clock.t].set_index("channel_id")
    assert last.loc[ids["T"], "value"] == pytest.approx(10.0)
    assert last.loc[ids["R"], "value"] == pytest.approx(30.0)
    assert last.loc[ids["D"], "quality"] == Quality.GAP
    assert last.loc[ids["X"], "quality"] == Quality.GAP


def test_gateway_restart_reconnects_and_values_change_between_polls(engine):
    ids = _site(engine, {"T": "instant"})
    boiler = FakeDevice(10)
    boiler.set("holding", 0, [100])
    server = ThreadedServer([boiler]).start()
    cfg = _config(server.port, [{"unit": 10, "map": "generic-boiler",
                                 "channels": {"outdoor_temp": "T"}}])  # fmt: skip
    clock = Clock()
    poller = Poller(cfg, clock=clock)
    try:

        async def scenario():
            out = [await poller.poll_once()]
            server.stop()  # the gateway reboots...
            clock.t += 60
            out.append(await poller.poll_once())
            server.start()  # ...and comes back on the same port
            boiler.set("holding", 0, [sign_magnitude(42)])
            clock.t += 60
            out.append(await poller.poll_once())
            poller.close()
            return out

        rounds = asyncio.run(scenario())
    finally:
        server.stop()
    assert [r[0].answered for r in rounds] == [True, False, True]
    assert "injoignable" in rounds[1][0].error or "pas de réponse" in rounds[1][0].error
    assert poller.gateways["GW-MAIRIE"].connects == 2
    rows = _readings(engine, ids["T"])
    assert rows["quality"].tolist() == [Quality.MEASURED, Quality.GAP, Quality.MEASURED]
    assert rows["value"].iloc[0] == pytest.approx(10.0)
    assert rows["value"].iloc[2] == pytest.approx(4.2)


def test_fault_episode_opens_one_alarm_and_closes_it(engine):
    ids = _site(engine, {"DEF": "instant"})
    boiler = FakeDevice(10)
    codes = [0, 12, 12, 12, 0, 0, 20]
    with ThreadedServer([boiler]) as server:
        cfg = _config(server.port, [{"unit": 10, "map": "generic-boiler",
                                     "channels": {"fault_code": "DEF"}}])  # fmt: skip
        clock = Clock()
        poller = Poller(cfg, clock=clock)

        async def scenario():
            for code in codes:
                boiler.set("holding", 20, [code])
                await poller.poll_once()
                clock.t += 60
            poller.close()

        asyncio.run(scenario())
    with session_scope(engine) as s:
        entries = s.scalars(select(LogbookEntry).order_by(LogbookEntry.id)).all()
        assert len(entries) == 2  # two episodes: 12 (cleared), then 20 (still on)
        first, second = entries
        assert (first.kind, first.source, first.alarm_key) == (
            "alarm",
            "poller",
            "GW-MAIRIE/10/fault_code",
        )
        assert first.status == "done" and "disparu" in first.answer
        assert "ignition failure" in first.title
        assert first.equipment_id is not None and first.building_id is not None
        assert first.occurred_at == dt.datetime.fromtimestamp(1_764_000_000 + 60, dt.UTC)
        assert second.status == "open" and "sonde extérieure" in second.title
    assert _readings(engine, ids["DEF"])["value"].tolist() == codes
    # a restarted poller knows the open episode: no duplicate while the fault persists
    with ThreadedServer([boiler]) as server:
        cfg = _config(server.port, [{"unit": 10, "map": "generic-boiler",
                                     "channels": {"fault_code": "DEF"}}])  # fmt: skip
        again = Poller(cfg, clock=clock)
        asyncio.run(again.poll_once())
        again.close()
    with session_scope(engine) as s:
        assert len(s.scalars(select(LogbookEntry)).all()) == 2


def test_stop_flushes_the_buffer(engine):
    ids = _site(engine, {"T": "instant"})
    boiler = FakeDevice(10)
    boiler.set("holding", 0, [123])
    ticks = iter(range(1_764_000_000, 1_764_100_000))
    with ThreadedServer([boiler]) as server:
        cfg = _config(
            server.port,
            [
                {
                    "unit": 10,
                    "map": "generic-boiler",
                    "poll_s": 0.02,
                    "channels": {"outdoor_temp": "T"},
                }
            ],  # fmt: skip
            flush_s=3600,
        )
        poller = Poller(cfg, clock=lambda: next(ticks))

        async def scenario():
            task = asyncio.create_task(poller.run(install_signals=False))
            await until_async(lambda: poller.buffered_rows >= 5, 30, "5 rows in the buffer")
            assert _readings(engine).empty  # nothing written yet: all in the buffer
            poller.stop()
            await task

        asyncio.run(scenario())
    rows = _readings(engine, ids["T"])
    assert len(rows) >= 5 and rows["value"].tolist() == pytest.approx([12.3] * len(rows))
    assert poller.buffered_rows == 0
    status = poller.status_line()
    assert "1 équipement(s) : 1 en ligne, 0 muet(s)" in status
    assert f"{len(rows)} mesure(s) écrite(s) depuis le démarrage, 0 en tampon" in status


def test_sigterm_flushes_the_buffer(engine, db_url, tmp_path):
    ids = _site(engine, {"T": "instant"})
    boiler = FakeDevice(10)
    boiler.set("holding", 0, [77])
    with ThreadedServer([boiler]) as server:
        config = tmp_path / "poller.yaml"
        config.write_text(yaml.safe_dump({
            "poller": {"flush_s": 3600},
            "gateways": [{"code": "GW", "host": "127.0.0.1", "port": server.port, **TIMEOUTS,
                          "devices": [{"unit": 10, "map": "generic-boiler", "poll_s": 0.5,
                                       "channels": {"outdoor_temp": "T"}}]}],
        }), encoding="utf-8")  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "carnet_cli.main", "poll", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )  # fmt: skip
        # 3 polls of 2 blocks each, 0.5 s apart: at least two distinct seconds
        until(lambda: boiler.requests >= 6 or proc.poll() is not None, 30, "6 Modbus requests")
        assert boiler.requests >= 6, proc.stderr.read()
        assert _readings(engine).empty
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "relève arrêtée" in out
    rows = _readings(engine, ids["T"])
    assert len(rows) >= 2 and rows["value"].tolist() == pytest.approx([7.7] * len(rows))


def test_unreachable_database_spools_and_replays_in_order(engine, db_url):
    ids = _site(engine, {"T": "instant", "N": "index"})
    boiler = FakeDevice(10)
    with ThreadedServer([boiler]) as server:
        cfg = _config(server.port, [{"unit": 10, "map": "generic-boiler",
                                     "channels": {"outdoor_temp": "T", "burner_starts": "N"}}])  # fmt: skip
        clock = Clock()
        poller = Poller(cfg, clock=clock)
        spool = poller.writer.spool

        async def scenario():
            poller.writer.url = UNREACHABLE_DB
            boiler.set("holding", 20, [12])  # a fault starts while the database is away
            boiler.set("holding", 0, [100])
            boiler.set("holding", 12, encode(1000, "uint32"))
            first = await poller.poll_once()
            boiler.set("holding", 0, [110])  # same timestamp, newer value: order matters
            await poller.poll_once()
            clock.t += 60
            boiler.set("holding", 12, encode(1007, "uint32"))
            await poller.poll_once()
            files = len(spool.files())
            assert _readings(engine).empty
            poller.writer.url = db_url  # the database is back
            clock.t += 60
            boiler.set("holding", 0, [120])
            await poller.poll_once()
            poller.close()
            return first, files

        first, files = asyncio.run(scenario())
    assert files == 3 and spool.files() == []
    assert spool.dir == Path(os.environ["CARNET_HOME"]) / "spool"
    t0 = 1_764_000_000
    temp = _readings(engine, ids["T"])
    assert temp["ts"].tolist() == [t0, t0 + 60, t0 + 120]
    assert temp["value"].tolist() == pytest.approx([11.0, 11.0, 12.0])  # 11.0 replaced 10.0
    assert _readings(engine, ids["N"])["value"].tolist() == [1000, 1007, 1007]
    with session_scope(engine) as s:
        sources = [b.source for b in s.scalars(select(ImportBatch).order_by(ImportBatch.id))]
        status = s.scalars(select(DeviceStatus)).one()
        assert status.last_contact_at is not None
        alarms = s.scalars(select(LogbookEntry)).all()  # the episode waited in memory
        assert [(a.alarm_key, a.status) for a in alarms] == [("GW-MAIRIE/10/fault_code", "open")]
        assert alarms[0].occurred_at == dt.datetime.fromtimestamp(t0, dt.UTC)
    assert len(sources) == 4 and all(x.startswith("spool:") for x in sources[:3])
    assert sources[3] == "modbus:GW-MAIRIE"


def test_unknown_channel_code_is_a_config_error(engine):
    _site(engine, {"T": "instant"})
    cfg = _config(
        5020, [{"unit": 10, "map": "generic-boiler", "channels": {"outdoor_temp": "NOPE"}}]
    )
    with pytest.raises(ConfigError) as exc:
        Poller(cfg)
    assert "gateways[0] (GW-MAIRIE).devices[0].channels.outdoor_temp" in str(exc.value)
    assert "'NOPE' inconnue" in str(exc.value)


def test_cli_poll_once_and_modbus_read(engine, tmp_path, capsys):
    _site(engine, {"T": "instant", "E": "index"})
    boiler, meter = FakeDevice(10), FakeDevice(20)
    boiler.set("holding", 0, [sign_magnitude(-35)])  # complement-to-two map reads 0x8023 as...
    boiler.set("holding", 0, [(-35) & 0xFFFF])
    boiler.set("holding", 20, [12])
    meter.set("input", 0, encode(4321.25, "float32", "CDAB"))
    with ThreadedServer([boiler, meter], "rtu") as server:
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump({"gateways": [{
            "code": "GW-RTU", "host": "127.0.0.1", "port": server.port, "framer": "rtu", **TIMEOUTS,
            "devices": [{"unit": 10, "map": "generic-boiler", "channels": {"outdoor_temp": "T"}},
                        {"unit": 20, "map": "heat-meter-cdab", "channels": {"heat_energy": "E"}}],
        }]}), encoding="utf-8")  # fmt: skip
        assert cli_main(["poll", "--config", str(config), "--once"]) == 0
        out = capsys.readouterr().out
        assert "GW-RTU / esclave 10 (generic-boiler)" in out and "points lus" in out
        assert "2 mesure(s) écrite(s)" in out
        status = cli_main(["modbus", "read", f"127.0.0.1:{server.port}", "--unit", "20",
                           "--map", "heat-meter-cdab", "--framer", "rtu"])  # fmt: skip
        out = capsys.readouterr().out
        assert status == 0
        line = next(x for x in out.splitlines() if x.startswith("heat_energy"))
        assert "4321,25" in line and "kWh" in line
        cli_main(["modbus", "read", f"127.0.0.1:{server.port}", "--unit", "10",
                  "--map", "generic-boiler", "--framer", "rtu"])  # fmt: skip
        out = capsys.readouterr().out
        assert "-3,5" in next(x for x in out.splitlines() if x.startswith("outdoor_temp"))
        assert "ignition failure" in next(x for x in out.splitlines() if x.startswith("fault_code"))
    rows = _readings(engine)
    assert sorted(rows["value"].tolist()) == pytest.approx([-3.5, 4321.25])
    assert np.all(rows["quality"] == Quality.MEASURED)
    assert load_map("generic-boiler").point("fault_code").alarm


def test_damaged_spool_file_is_set_aside_and_the_others_replayed(engine, db_url, tmp_path):
    from ingest.modbus.writer import Writer

    ids = _site(engine, {"T": "instant"})
    writer = Writer(db_url, tmp_path / "spool", source="test")
    first = pd.DataFrame({"channel_id": [ids["T"]], "ts": [100], "value": [1.5], "quality": [0]})
    writer.spool.put(first)
    bad = tmp_path / "spool" / f"{time.time_ns():020d}-bad.csv"
    bad.write_text("channel_id,ts,value,quality\nnot,a,number,row\n", encoding="utf-8")
    writer.spool.put(first.assign(ts=200, value=2.5))
    report = writer.flush(first.iloc[:0], [], [])
    assert report.written and report.replayed == 2
    assert writer.spool.files() == [] and bad.with_suffix(".bad").is_file()
    assert _readings(engine)["value"].tolist() == [1.5, 2.5]


def test_spool_file_the_database_refuses_is_set_aside_not_retried_forever(engine, db_url, tmp_path):
    """A spooled frame for a channel deleted since: refused by the base (not the base being
    away), so set aside as `.bad`; the files after it are replayed."""
    from ingest.modbus.writer import Writer

    ids = _site(engine, {"T": "instant"})
    writer = Writer(db_url, tmp_path / "spool", source="test")
    gone = pd.DataFrame(
        {"channel_id": [ids["T"] + 999], "ts": [100], "value": [1.5], "quality": [0]}
    )
    first = writer.spool.put(gone)
    writer.spool.put(gone.assign(channel_id=ids["T"], ts=200, value=2.5))
    report = writer.flush(gone.iloc[:0], [], [])
    assert report.written and report.replayed == 1
    assert writer.spool.files() == [] and first.with_suffix(".bad").is_file()
    assert _readings(engine)["value"].tolist() == [2.5]


def test_cli_poll_with_the_database_away_at_start(engine, tmp_path, monkeypatch, capsys):
    _site(engine, {"T": "instant"})
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({"gateways": [{
        "code": "GW", "host": "127.0.0.1", "port": 1, **TIMEOUTS,
        "devices": [{"unit": 1, "map": "generic-boiler", "channels": {"outdoor_temp": "T"}}],
    }]}), encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("CARNET_DATABASE_URL", UNREACHABLE_DB)
    assert cli_main(["poll", "--config", str(config), "--once"]) == 3
    assert "base de données injoignable" in capsys.readouterr().err


def test_serial_gateway_through_pyserial_url(engine, capsys):
    """A serial gateway (pyserial URL `socket://`, as for a serial-over-IP adapter) with RTU."""
    ids = _site(engine, {"T": "instant"})
    boiler = FakeDevice(5)
    boiler.set("holding", 0, [(-42) & 0xFFFF])
    with ThreadedServer([boiler], "rtu") as server:
        cfg = parse_config({"gateways": [{
            "code": "GW-SERIE", "port": f"socket://127.0.0.1:{server.port}", "baudrate": 19200,
            "parity": "E", **TIMEOUTS,
            "devices": [{"unit": 5, "map": "generic-boiler", "channels": {"outdoor_temp": "T"}}],
        }]}, "site.yaml")  # fmt: skip
        assert cfg.gateways[0].kind == "serial" and cfg.gateways[0].framer == "rtu"
        poller = Poller(cfg, clock=Clock())
        results = asyncio.run(poller.poll_once())
        poller.close()
        # the technician's one-off read on the same line
        url = f"socket://127.0.0.1:{server.port}"
        status = cli_main(["modbus", "read", url, "--unit", "5", "--map", "generic-boiler",
                           "--baudrate", "19200", "--parity", "E"])  # fmt: skip
        out = capsys.readouterr().out
    assert status == 0 and "19200 bauds" in out
    assert "-4,2" in next(x for x in out.splitlines() if x.startswith("outdoor_temp"))
    assert results[0].answered and results[0].points_failed == 0
    assert _readings(engine, ids["T"])["value"].tolist() == pytest.approx([-4.2])


def test_device_answering_only_exceptions_fails_like_a_silent_one(engine, tmp_path, capsys):
    """Illegal address or device failure on every block: nothing read, so « en échec », the
    backoff of a silent device, and `poll --once` exits 1; a partial device stays partial."""
    ids = _site(engine, {"A-T": "instant", "A-D": "instant", "A-R": "instant", "A-N": "index",
                         "B-T": "instant", "C-T": "instant", "C-D": "instant"})  # fmt: skip
    refusing, broken, holey = FakeDevice(10), FakeDevice(11), FakeDevice(12)
    refusing.mode = "refuse"  # illegal address for every register
    broken.mode, broken.refuse_code = "refuse", 4  # device failure
    holey.set("holding", 0, [55, 66])
    holey.holes.add(("holding", 1))
    devices = [
        {"unit": 10, "map": "generic-boiler", "poll_s": 30,
         "channels": {"outdoor_temp": "A-T", "flow_temp": "A-D", "return_temp": "A-R",
                      "burner_starts": "A-N"}},
        {"unit": 11, "map": "generic-boiler", "channels": {"outdoor_temp": "B-T"}},
        {"unit": 12, "map": "generic-boiler",
         "channels": {"outdoor_temp": "C-T", "flow_temp": "C-D"}},
    ]  # fmt: skip
    with ThreadedServer([refusing, broken, holey]) as server:
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump({"gateways": [{
            "code": "GW-MAIRIE", "host": "127.0.0.1", "port": server.port, **TIMEOUTS,
            "devices": devices}]}), encoding="utf-8")  # fmt: skip
        assert cli_main(["poll", "--config", str(config), "--once"]) == 1
        out = capsys.readouterr().out
        # outdoor, flow, return (the block 0-2 refused, then point by point), starts, fault
        assert "exception Modbus 2 (adresse illégale) sur 5 blocs" in out
        assert "exception Modbus 4 (défaillance de l'équipement) sur 2 blocs" in out
        assert "GW-MAIRIE / esclave 10 (generic-boiler) : en échec" in out
        assert "GW-MAIRIE / esclave 11 (generic-boiler) : en échec" in out
        assert "GW-MAIRIE / esclave 12 (generic-boiler) : partiel" in out
        with session_scope(engine) as s:
            st = {d.unit: d for d in s.scalars(select(DeviceStatus))}
            assert st[10].consecutive_failures == 1 and st[10].last_contact_at is None
            assert st[10].last_error == (
                "exception Modbus 2 (adresse illégale) sur 5 blocs (holding 0, 1, 2, 12-13, 20)"
            )
            assert st[11].consecutive_failures == 1
            assert st[11].last_error.startswith("exception Modbus 4 (défaillance")
            assert st[12].consecutive_failures == 0 and st[12].last_contact_at is not None
            assert st[12].last_error_at >= st[12].last_contact_at  # partial: same round
        rows = _readings(engine).set_index("channel_id")
        for code in ("A-T", "A-D", "A-R", "A-N", "B-T", "C-D"):
            assert rows.loc[ids[code], "quality"] == Quality.GAP, code
            assert pd.isna(rows.loc[ids[code], "value"]), code
        assert rows.loc[ids["C-T"], "value"] == pytest.approx(5.5)  # the good value is kept

        # the poller itself: the backoff of a silent device, round after round
        clock = Clock()
        poller = Poller(_config(server.port, devices[:1]), clock=clock)
        reader = poller.readers[0]

        async def rounds():
            out = []
            for _ in range(2):
                before = refusing.requests
                result = (await poller.poll_once())[0]
                out.append((result, refusing.requests - before, reader.failures,
                            reader.next_delay(3600), len(reader.blocks)))  # fmt: skip
                clock.t += 60
            refusing.mode = "ok"  # the controller is back
            refusing.set("holding", 0, [(-12) & 0xFFFF])
            out.append((await poller.poll_once())[0])
            poller.close()
            return out

        first, second, back = asyncio.run(rounds())
    assert (first[0].state, first[0].answered, first[0].refused_blocks) == ("failing", False, 5)
    assert second[0].state == "failing"
    assert [first[2], second[2]] == [1, 2] and [first[3], second[3]] == [60, 120]
    # a device refusing everything keeps its blocks: not split for good into single points
    assert first[1] == second[1] == 6 and first[4] == second[4] == 3
    assert back.state == "ok" and back.points_failed == 0 and reader.failures == 0
    assert back.values["outdoor_temp"][0] == pytest.approx(-1.2)
    assert "1 en ligne, 0 muet(s), 0 en échec, 0 partiel(s)" in poller.status_line()
    with session_scope(engine) as s:
        st = s.scalars(select(DeviceStatus).where(DeviceStatus.unit == 10)).one()
        assert st.consecutive_failures == 0 and st.last_contact_at is not None


def test_refusing_device_backs_off_like_a_silent_one():
    """`next_delay` after rounds answered only with exceptions: poll_s x 2^failures."""
    device = FakeDevice(10)
    device.mode, device.refuse_code = "refuse", 4
    register_map = load_map("generic-boiler")
    cfg = DeviceConfig(10, register_map, poll_s=30, channels={"outdoor_temp": "T"})
    reader = DeviceReader(BoundDevice("GW", cfg, {"outdoor_temp": 1}, None, None))
    with ThreadedServer([device]) as server:
        gw = GatewayConfig(code="GW", host="127.0.0.1", port=server.port, **TIMEOUTS)

        async def three():
            gateway = Gateway(gw)
            try:
                return [(await reader.read(gateway))[0] for _ in range(3)]
            finally:
                gateway.close()

        results = asyncio.run(three())
    assert [r.state for r in results] == ["failing"] * 3
    assert reader.failures == 3 and reader.next_delay(3600) == 30 * 2**3
    assert reader.next_delay(100) == 100
    assert reader.last_contact is None and reader.last_error.startswith("exception Modbus 4")
