"""One Modbus gateway: a shared connection, one request at a time, and what its answers mean."""

from __future__ import annotations

import asyncio
import contextlib

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from ingest.modbus.config import GatewayConfig
from ingest.modbus.health import REFUSED_PREFIX

# exception codes meaning "the gateway could not reach the device": the rest of the round is
# not asked (each request would cost the gateway's own timeout), the device fails
GATEWAY_SILENT = {0x0A, 0x0B}
EXCEPTION_LABELS = {
    0x01: "fonction non supportée",
    0x02: "adresse illégale",
    0x03: "valeur illégale",
    0x04: "défaillance de l'équipement",
    0x05: "acquittement",
    0x06: "équipement occupé",
    0x0A: "passerelle : chemin indisponible",
    0x0B: "passerelle : l'équipement cible ne répond pas",
}


class DeviceSilent(Exception):
    """The device (or the gateway in front of it) gave no usable answer."""


class RequestRefused(Exception):
    """The device answered with a Modbus exception other than a gateway failure."""

    def __init__(self, code: int):
        self.code = code
        super().__init__(f"{REFUSED_PREFIX} {code} ({EXCEPTION_LABELS.get(code, 'code inconnu')})")


def make_client(gw: GatewayConfig):
    """The pymodbus client of a gateway; we reconnect ourselves (pymodbus' own loop is off)."""
    if gw.kind == "serial":
        return AsyncModbusSerialClient(
            str(gw.port),
            framer=FramerType.RTU,
            baudrate=gw.baudrate,
            bytesize=gw.bytesize,
            parity=gw.parity,
            stopbits=gw.stopbits,
            timeout=gw.timeout_s,
            retries=gw.retries,
            reconnect_delay=0,
        )
    return AsyncModbusTcpClient(
        gw.host,
        port=int(gw.port),
        framer=FramerType.RTU if gw.framer == "rtu" else FramerType.SOCKET,
        timeout=gw.timeout_s,
        retries=gw.retries,
        reconnect_delay=0,
    )


class Gateway:
    """One shared connection, opened lazily and reopened after the gateway restarted."""

    def __init__(self, config: GatewayConfig):
        self.config = config
        self.client = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connects = 0

    @property
    def lock(self) -> asyncio.Lock:
        """The gateway's lock; the client and lock belong to the running loop (made lazily)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self.client = make_client(self.config)
            self._lock = asyncio.Lock()
            self._loop = loop
        return self._lock

    async def ensure_connected(self) -> None:
        """Call with `lock` held."""
        if self.client.connected:
            return
        ok = await self.client.connect()
        if not ok or not self.client.connected:
            raise DeviceSilent(f"passerelle {self.config.code} injoignable")
        self.connects += 1

    async def read(self, table: str, start: int, count: int, unit: int) -> list[int]:
        """One block read; call with `lock` held."""
        fn = (
            self.client.read_holding_registers
            if table == "holding"
            else self.client.read_input_registers
        )
        try:  # pymodbus times each attempt out (timeout_s) and retries `retries` times
            rr = await fn(start, count=count, device_id=unit)
        except (TimeoutError, ConnectionException) as exc:
            raise DeviceSilent(f"pas de réponse ({exc.__class__.__name__})") from exc
        except ModbusException as exc:
            raise DeviceSilent(f"pas de réponse : {exc}") from exc
        if rr.isError():
            raise RequestRefused(int(getattr(rr, "exception_code", 0)))
        registers = list(rr.registers)
        if len(registers) != count:
            raise DeviceSilent(f"réponse de {len(registers)} registres au lieu de {count}")
        return registers

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
