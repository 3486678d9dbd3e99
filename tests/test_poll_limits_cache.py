"""The poller keeps its channels' plausibility limits between flushes (`versions.Memo` keyed on
the data version, carried through its own commits) and reads them again as soon as a channel,
its equipment or its quantity changes: a limit edited while the poller runs applies to its very
next flush. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, text

from carnet import versions
from carnet.db import session_scope
from carnet.models import Building, Channel, Equipment
from ingest.modbus.config import parse_config
from ingest.modbus.poller import Poller
from ingest.plausibility import channel_limits
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer, encode

T0 = int(dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC).timestamp())
GAS = {"unit": 3, "map": "gas-pulse-counter", "channels": {"gas_volume": "ECOLE-GAZ"}}


def _boiler_room(engine) -> None:
    """A 250 kW boiler (limit 375 kW) and its gas index at 11,2 kWh/m³."""
    with session_scope(engine) as s:
        b = Building(code="ECOLE", name="École")
        boiler = Equipment(code="ECOLE-CHAUD", kind="boiler", power_kw=250.0, building=b)
        s.add_all([b, boiler, Channel(code="ECOLE-GAZ", building=b, equipment=boiler,
                                      quantity="gas_volume_m3", kind="index", unit="m3",
                                      kwh_per_unit=11.2)])  # fmt: skip


def _poller(port: int, clock: list[int]) -> tuple[Poller, list[int]]:
    config = parse_config({"gateways": [{"code": "GW", "host": "127.0.0.1", "port": port,
                                         **TIMEOUTS, "devices": [GAS]}]},
                          "site.yaml")  # fmt: skip
    poller = Poller(config, clock=lambda: clock[0])
    loads = []
    memo_load = poller.writer._limits._load
    poller.writer._limits._load = lambda conn: loads.append(1) or memo_load(conn)
    return poller, loads


def _minute(poller, meter, clock, index_m3: float):
    meter.set("holding", 0, encode(round(index_m3 * 100), "uint32"))
    asyncio.run(poller.poll_once())
    clock[0] += 60
    return poller.last_flush


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE equipment SET power_kw = 100 WHERE code = 'ECOLE-CHAUD'",  # limit 150 kW
        "UPDATE channel SET max_kw = 150 WHERE code = 'ECOLE-GAZ'",
    ],
)
def test_limits_are_read_once_and_again_after_an_edit(engine, edit):
    """+0,5 m³ a minute is 336 kW: accepted under the 375 kW limit, flush after flush with the
    limits read once; the boiler's rating (or the channel's max_kw) lowered to 150 kW between
    two flushes, the next +0,5 m³ is held."""
    _boiler_room(engine)
    meter = FakeDevice(3)
    clock = [T0]
    with ThreadedServer([meter]) as server:
        poller, loads = _poller(server.port, clock)
        try:
            reports = [_minute(poller, meter, clock, v) for v in (1000.0, 1000.5, 1001.0)]
            assert [r.held for r in reports] == [0, 0, 0]
            assert len(loads) == 1  # the flushes' own commits keep the limits
            with session_scope(engine) as s:
                s.execute(text(edit))
            held = _minute(poller, meter, clock, 1001.5)
            assert held.held == 1 and held.held_reasons == {"jump": 1}
            assert len(loads) == 2
        finally:
            poller.close()


def test_memo_reloads_after_another_writers_commit(engine):
    """A value read in a transaction is kept through that transaction's own bump, not through
    one made by another connection meanwhile, nor when nothing of its own was committed."""
    _boiler_room(engine)
    memo = versions.Memo(channel_limits)
    loads = []
    load = memo._load
    memo._load = lambda conn: loads.append(1) or load(conn)

    def flush_like():  # reads the limits, writes a tracked row, commits
        with engine.begin() as conn:
            memo.get(conn)
            conn.execute(text("UPDATE building SET name = name WHERE code = 'ECOLE'"))
        memo.committed()

    flush_like()
    flush_like()
    assert len(loads) == 1
    with engine.begin() as conn:  # nothing tracked written: nothing bumped, the key stays valid
        memo.get(conn)
        memo.committed()
    assert len(loads) == 1
    with session_scope(engine) as s:  # someone else changes a limit
        s.scalar(select(Equipment).where(Equipment.code == "ECOLE-CHAUD")).power_kw = 90.0
    flush_like()
    assert len(loads) == 2
    with engine.begin() as conn:
        limits = memo.get(conn)
    assert len(loads) == 2 and limits["eq_power_kw"].tolist() == [90.0]
    # another connection's bump between this one's read and its own: no promotion
    with engine.begin() as conn:
        memo.get(conn)
        with engine.begin() as other:
            other.execute(text("UPDATE building SET name = name WHERE code = 'ECOLE'"))
        conn.execute(text("UPDATE building SET name = name WHERE code = 'ECOLE'"))
    memo.committed()
    with engine.begin() as conn:
        memo.get(conn)
    assert len(loads) == 3


def test_cached_channels_spare_the_existence_check_of_those_only(engine):
    """The limits handed to the store name channels that exist; a reading of a channel they
    do not name is still refused (PostgreSQL: the once-per-batch check; SQLite: the key)."""
    import sqlite3

    import pandas as pd
    from sqlalchemy.exc import IntegrityError

    from carnet.partitions import UnknownChannel
    from carnet.store import upsert_readings

    _boiler_room(engine)
    with engine.begin() as conn:
        limits = channel_limits(conn)
    (gas,) = limits.index.tolist()
    frame = pd.DataFrame({"channel_id": [gas], "ts": [T0], "value": [1000.0]})
    with engine.begin() as conn:
        assert upsert_readings(conn, frame, channels=limits).inserted == 1
    stray = frame.assign(channel_id=gas + 1000, ts=T0 + 60)
    with (
        pytest.raises((UnknownChannel, IntegrityError, sqlite3.IntegrityError)),
        engine.begin() as conn,
    ):
        upsert_readings(conn, stray, channels=limits)
