"""A boiler controller with a fault register on a real Modbus server, polled by a poller
started afresh each time (as after a restart): the alarm tests' site."""

from __future__ import annotations

import asyncio

from ingest.modbus.config import parse_config
from ingest.modbus.poller import Poller
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
T0 = 1_764_000_000


class Site:
    """The boiler's controller on a real Modbus server; `poll(code)` is one poll of a poller
    started afresh (as after a restart), at the next minute."""

    def __init__(self):
        self.boiler = FakeDevice(10)
        self.t = T0

    def poll(self, code: int, server: ThreadedServer) -> None:
        self.boiler.set("holding", 20, [code])
        gw = {
            "code": "GW-MAIRIE",
            "host": "127.0.0.1",
            "port": server.port,
            **TIMEOUTS,
            "devices": [{"unit": 10, "map": "generic-boiler", "channels": {"fault_code": "DEF"}}],
        }
        poller = Poller(parse_config({"gateways": [gw]}, "site.yaml"), clock=lambda: self.t)
        try:
            asyncio.run(poller.poll_once())
            asyncio.run(poller.flush())
        finally:
            poller.close()
        self.t += 60
