"""A real pymodbus server on a free loopback port, with devices whose registers tests can change.

Each simulated device keeps its holding and input registers in plain lists; the SimDevice action
copies them into the server's block on every read, and can make the device answer with an
exception (illegal address, device failure, gateway target failed) or not answer at all.
"""

from __future__ import annotations

import asyncio
import struct

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from carnet_cli.ports import free_port

ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
# a test gateway's timeouts: long enough that a loaded CI machine does not turn an answering
# device into a silent one (0.2 s did), short enough that a silent one costs only a second
TIMEOUTS = {"timeout_s": 1.0, "retries": 0}
FMT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d"}


def encode(value, kind: str, order: str = "ABCD") -> list[int]:
    """Registers (wire order) of `value` written by a device using word order `order`.

    Written from the byte layout, independently of the decoder under test: ABCD is big-endian,
    CDAB swaps the 16-bit words, BADC swaps the bytes of each word, DCBA does both.
    """
    data = struct.pack(">" + FMT[kind], value)
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if len(words) > 1:
        if order in ("CDAB", "DCBA"):
            words = words[::-1]
        if order in ("BADC", "DCBA"):
            words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def sign_magnitude(value_tenths: int) -> int:
    return (0x8000 | -value_tenths) if value_tenths < 0 else value_tenths


class FakeDevice:
    def __init__(self, unit: int, holding_size: int = 600, input_size: int = 200):
        self.unit = unit
        self.holding = [0] * holding_size
        self.input = [0] * input_size
        self.mode = "ok"  # ok, silent, gateway_fail, refuse (every read answers `refuse_code`)
        self.refuse_code = ExcCodes.ILLEGAL_ADDRESS
        self.holes: set[tuple[str, int]] = set()  # registers answering "illegal address"
        self.requests = 0

    def set(self, table: str, address: int, registers: list[int]) -> None:
        regs = self.holding if table == "holding" else self.input
        regs[address : address + len(registers)] = registers

    async def action(self, fc, start, address, count, current, values):
        self.requests += 1
        if self.mode == "silent":
            await asyncio.sleep(3600)
        if self.mode == "gateway_fail":
            return ExcCodes.GATEWAY_NO_RESPONSE
        if self.mode == "refuse":
            return self.refuse_code
        table = "holding" if fc in (3, 6, 16) else "input"
        if any((table, a) in self.holes for a in range(address, address + count)):
            return ExcCodes.ILLEGAL_ADDRESS
        source = self.holding if table == "holding" else self.input
        current[address - start : address - start + count] = source[address : address + count]
        return None

    def simdevice(self) -> SimDevice:
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        return SimDevice(
            id=self.unit,
            simdata=(
                bits,
                list(bits),
                [SimData(0, count=len(self.holding), values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=len(self.input), values=0, datatype=DataType.REGISTERS)],
            ),
            action=self.action,
        )


class SimServer:
    """Start/stop a ModbusTcpServer (socket or RTU framing) inside the running event loop."""

    def __init__(self, devices: list[FakeDevice], framer: str = "socket", port: int | None = None):
        self.devices = {d.unit: d for d in devices}
        self.framer = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
        self.port = port or free_port()
        self.server: ModbusTcpServer | None = None

    async def start(self) -> SimServer:
        self.server = ModbusTcpServer(
            [d.simdevice() for d in self.devices.values()],
            framer=self.framer,
            address=("127.0.0.1", self.port),
        )
        await self.server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None
            await asyncio.sleep(0.05)


class ThreadedServer:
    """A SimServer in its own thread and event loop, driven from synchronous test code."""

    def __init__(self, devices: list[FakeDevice], framer: str = "socket", port: int | None = None):
        self.sim = SimServer(devices, framer, port)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = None

    @property
    def port(self) -> int:
        return self.sim.port

    def start(self) -> ThreadedServer:
        import threading

        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.sim.start())
            ready.set()
            self.loop.run_forever()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("Modbus test server did not start")
        return self

    def stop(self) -> None:
        if self.thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
