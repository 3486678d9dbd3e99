"""The demo keeps reporting while it is served (`carnet demo`): its boiler controllers answer on
loopback Modbus TCP, one simulated gateway each, and the real poller (`ingest.modbus.poller`)
reads them, so that the devices page shows them « en ligne » an hour after the build, not
« pas de nouvelles » as soon as the build's last contact is 30 minutes old.

Only the poller's input is simulated: the readings, the devices' last contact and any alarm go
through the same code as on a real site. The technical centre's controller stays silent (its
gateway « lost power » in the demo's story, `faults.SILENT_DEVICE_BUILDING`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass

from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from sqlalchemy import Engine, select

from carnet.db import session_scope
from carnet.models import Channel, DeviceStatus, Equipment, Reading
from carnet_cli.demo.faults import SILENT_DEVICE_BUILDING
from carnet_cli.ports import free_port
from ingest.modbus.config import PollerConfig, parse_config
from ingest.modbus.poller import Poller

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MODEL = "generic-boiler"
HOLDING_SIZE = 32  # the map's holding registers are 0-20
FLOW_REGISTER, FAULT_REGISTER = 1, 20
# generic-boiler points -> the suffix of the demo channel they feed
POINT_CHANNELS = {"flow_temp": "-CHAUD-1-TD", "fault_code": "-CHAUD-1-DEF"}
DEFAULT_FLOW_C = 55.0


@dataclass
class DemoController:
    """One boiler controller: its flow temperature swings gently around where the demo's
    history left it; no fault."""

    gateway: str
    building: str
    unit: int
    flow_c: float
    port: int
    phase: float = 0.0

    def holding(self, now: float) -> list[int]:
        regs = [0] * HOLDING_SIZE
        flow = self.flow_c + 1.5 * math.sin(2 * math.pi * now / 1800.0 + self.phase)
        regs[FLOW_REGISTER] = int(round(flow * 10)) & 0xFFFF  # tenths of °C
        regs[FAULT_REGISTER] = 0
        return regs

    async def action(self, fc, start, address, count, current, values):
        regs = self.holding(time.time())
        current[address - start : address - start + count] = regs[address : address + count]
        return None

    def simdevice(self) -> SimDevice:
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        registers = [SimData(0, count=HOLDING_SIZE, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(
            id=self.unit, simdata=(bits, list(bits), registers, list(registers)), action=self.action
        )


def demo_controllers(engine: Engine) -> list[DemoController]:
    """The demo's reporting controllers (its `device_status` rows, the silent one left out),
    each on a free loopback port, starting from its last recorded flow temperature."""
    out = []
    with session_scope(engine) as s:
        rows = s.execute(
            select(DeviceStatus.gateway_code, DeviceStatus.unit).order_by(DeviceStatus.gateway_code)
        ).all()
        for i, (gateway, unit) in enumerate(rows):
            building = gateway.removeprefix("GW-")
            if building == SILENT_DEVICE_BUILDING:
                continue
            flow = s.scalar(
                select(Reading.value)
                .join(Channel, Channel.id == Reading.channel_id)
                .where(Channel.code == building + POINT_CHANNELS["flow_temp"])
                .order_by(Reading.ts.desc())
                .limit(1)
            )
            out.append(
                DemoController(
                    gateway,
                    building,
                    unit,
                    DEFAULT_FLOW_C if flow is None else float(flow),
                    free_port(),
                    phase=i * 0.7,
                )
            )
    return out


def live_config(
    engine: Engine, controllers: list[DemoController], poll_s: float = 60.0, flush_s: float = 60.0
) -> PollerConfig:
    """The poller's site configuration for the simulated gateways, with the demo's channels
    and boilers (only those the record holds)."""
    with session_scope(engine) as s:
        channels = set(s.scalars(select(Channel.code)))
        equipment = set(s.scalars(select(Equipment.code)))
    gateways = []
    for c in controllers:
        mapped = {
            point: c.building + suffix
            for point, suffix in POINT_CHANNELS.items()
            if c.building + suffix in channels
        }
        device = {"unit": c.unit, "map": MODEL, "poll_s": poll_s, "channels": mapped}
        boiler = f"{c.building}-CHAUD-1"
        if boiler in equipment:
            device["equipment"] = boiler
        else:
            device["building"] = c.building
        gateways.append(
            {"code": c.gateway, "host": HOST, "port": c.port, "timeout_s": 2, "retries": 1,
             "devices": [device]}
        )  # fmt: skip
    raw = {"gateways": gateways, "poller": {"flush_s": flush_s}}
    return parse_config(raw, "démonstration (passerelles simulées)")


class LiveDemo:
    """The simulated gateways and the poller, in one background thread and event loop:
    `start()` returns once the gateways listen; `stop()` flushes what was read and returns."""

    def __init__(
        self,
        engine: Engine,
        url: str | None = None,
        poll_s: float = 60.0,
        flush_s: float = 60.0,
    ):
        self.controllers = demo_controllers(engine)
        self.config = live_config(engine, self.controllers, poll_s, flush_s)
        self.poller = Poller(self.config, url)
        self._servers: list[ModbusTcpServer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    async def _main(self) -> None:
        try:
            for c in self.controllers:
                server = ModbusTcpServer(
                    [c.simdevice()], framer=FramerType.SOCKET, address=(HOST, c.port)
                )
                await server.serve_forever(background=True)
                self._servers.append(server)
        except BaseException as exc:  # a port taken meanwhile: no live demo, the app still runs
            self.error = exc
            self._ready.set()
            await self._shutdown_servers()
            return
        self._ready.set()
        try:
            await self.poller.run(install_signals=False)
        finally:
            await self._shutdown_servers()

    async def _shutdown_servers(self) -> None:
        for server in self._servers:
            await server.shutdown()
        self._servers.clear()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except Exception as exc:  # logged: the demo keeps serving without live devices
            self.error = exc
            log.exception("relève de démonstration arrêtée")
        finally:
            self._loop.close()

    def start(self, timeout: float = 15.0) -> LiveDemo:
        self._thread = threading.Thread(target=self._run, name="carnet-demo-live", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("passerelles de démonstration non démarrées")
        if self.error is not None:
            raise RuntimeError(f"passerelles de démonstration : {self.error}") from self.error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.poller.stop)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> LiveDemo:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
