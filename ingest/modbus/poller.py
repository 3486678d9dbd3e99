"""The Modbus poller: runs unattended for months in a boiler room.

One connection per gateway, shared by the unit ids behind it and guarded by an `asyncio.Lock`:
an RS-485 line carries one request at a time and a gateway must never see the same client
connect twice. A device that does not answer costs GAP readings and an exponential backoff,
never the poller or the other devices. Readings are buffered and written in batches; while the
database is away they go to a local spool that is replayed, oldest first, when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet import db as carnet_db
from carnet.config import carnet_home
from carnet.models import DeviceStatus, ImportBatch, Quality
from carnet.store import upsert_readings
from ingest.modbus.alarms import AlarmEvent, AlarmTracker, alarm_key
from ingest.modbus.blocks import Block, Scatter, plan_blocks
from ingest.modbus.config import BoundDevice, GatewayConfig, PollerConfig, bind_channels
from ingest.modbus.decode import DecodePlan, enum_label, implausible_floats

log = logging.getLogger(__name__)

# exception codes meaning "the gateway could not reach the device": the device is silent
GATEWAY_SILENT = {0x0A, 0x0B}
EXCEPTION_LABELS = {
    0x01: "fonction non supportée",
    0x02: "adresse de registre illégale",
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
        super().__init__(f"exception Modbus 0x{code:02X} ({EXCEPTION_LABELS.get(code, '?')})")


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
            code = int(getattr(rr, "exception_code", 0))
            if code in GATEWAY_SILENT:
                raise DeviceSilent(RequestRefused(code).args[0])
            raise RequestRefused(code)
        registers = list(rr.registers)
        if len(registers) != count:
            raise DeviceSilent(f"réponse de {len(registers)} registres au lieu de {count}")
        return registers

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()


@dataclass
class PollResult:
    gateway: str
    unit: int
    ts: int
    points_read: int
    points_failed: int
    duration_s: float
    answered: bool
    error: str | None = None
    keys: list[str] = field(default_factory=list, repr=False)
    value: np.ndarray | None = field(default=None, repr=False)
    quality: np.ndarray | None = field(default=None, repr=False)

    @property
    def values(self) -> dict[str, tuple[float, int]]:
        """{point key: (value, quality)}"""
        return {k: (float(self.value[i]), int(self.quality[i])) for i, k in enumerate(self.keys)}


class DeviceReader:
    """Everything precomputed to read and decode one device quickly."""

    def __init__(self, bound: BoundDevice, read_all: bool = False):
        self.bound = bound
        cfg = bound.config
        wanted = [p for p in cfg.map.points if p.key in bound.channel_ids or p.alarm]
        self.points = list(cfg.map.points) if read_all or not wanted else wanted
        self.plan = DecodePlan(self.points)
        self._set_blocks(plan_blocks(self.points, cfg.map.max_gap))
        self.channel_idx = np.array(
            [i for i, p in enumerate(self.points) if p.key in bound.channel_ids], dtype=np.int64
        )
        self.channel_ids = np.array(
            [bound.channel_ids[self.points[i].key] for i in self.channel_idx], dtype=np.int64
        )
        self.alarm_idx = [i for i, p in enumerate(self.points) if p.alarm]
        self.keys = [p.key for p in self.points]
        self.hinted: set[str] = set()
        # health
        self.failures = 0
        self.last_contact: dt.datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: dt.datetime | None = None
        self.dirty = False
        self.last: PollResult | None = None
        self.last_regs: np.ndarray | None = None  # registers of the last read, for diagnostics

    def _set_blocks(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.scatters = [Scatter(self.points, b) for b in blocks]

    def _split_block(self, k: int) -> None:
        """A block the device refuses (a hole in its map) is read point by point from now on."""
        block = self.blocks[k]
        remapped = [
            Block(self.points[i].table, self.points[i].address, self.points[i].width, (i,))
            for i in block.members
        ]
        if len(remapped) > 1:
            self._set_blocks(self.blocks[:k] + remapped + self.blocks[k + 1 :])

    async def read(
        self, gateway: Gateway, ts: int | None = None
    ) -> tuple[PollResult, np.ndarray, np.ndarray]:
        """Read all blocks; returns the result and per-point values and qualities."""
        unit = self.bound.unit
        started = time.perf_counter()
        ts = int(time.time()) if ts is None else int(ts)
        regs = np.zeros((len(self.points), 4), dtype=np.uint64)
        ok = np.zeros(len(self.points), dtype=bool)
        answered = False
        n_read = 0
        errors: list[str] = []
        async with gateway.lock:
            try:
                await gateway.ensure_connected()
                k = 0
                while k < len(self.blocks):
                    block = self.blocks[k]
                    try:
                        values = await gateway.read(block.table, block.start, block.count, unit)
                    except RequestRefused as exc:
                        answered = True
                        if len(block.members) > 1 and exc.code == 0x02:
                            self._split_block(k)
                            continue  # same k, now a smaller block
                        errors.append(f"{block.table}@{block.start}+{block.count} : {exc}")
                        k += 1
                        continue
                    answered = True
                    self.scatters[k].apply(values, regs)
                    ok[self.scatters[k].members] = True
                    n_read += len(block.members)
                    k += 1
            except DeviceSilent as exc:
                errors.append(str(exc))
        decoded = self.plan.decode(regs)
        self.last_regs = regs
        n = len(self.points)
        if n_read == n:
            value, quality = decoded.value, decoded.quality
        else:
            value = np.where(ok, decoded.value, np.nan)
            quality = np.where(ok, decoded.quality, int(Quality.GAP))
        if n_read and self.plan.any_float:
            for key, hint in implausible_floats(self.plan, regs, decoded, ok, self.hinted):
                self.hinted.add(key)
                log.warning("%s/%s %s", self.bound.gateway, unit, hint)
        now = dt.datetime.now(dt.UTC)
        error = " ; ".join(errors) or None
        if answered:
            self.failures = 0
            self.last_contact = now
        else:
            self.failures += 1
        if error:
            self.last_error, self.last_error_at = error, now
        self.dirty = True
        result = PollResult(
            gateway=self.bound.gateway,
            unit=unit,
            ts=ts,
            points_read=n_read,
            points_failed=n - n_read,
            duration_s=time.perf_counter() - started,
            answered=answered,
            error=error,
            keys=self.keys,
            value=value,
            quality=quality,
        )
        self.last = result
        return result, value, quality

    def next_delay(self, backoff_max_s: float) -> float:
        poll_s = self.bound.config.poll_s
        if self.failures == 0:
            return poll_s
        return min(poll_s * 2.0**self.failures, max(backoff_max_s, poll_s))


class Spool:
    """Readings kept on local disk while the database is unreachable, replayed oldest first."""

    COLUMNS = ["channel_id", "ts", "value", "quality"]

    def __init__(self, directory: Path):
        self.dir = directory
        self._seq = 0

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("*.csv"))

    def put(self, frame: pd.DataFrame) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = self.dir / f"{time.time_ns():020d}-{self._seq:06d}.csv"
        tmp = path.with_suffix(".part")
        frame[self.COLUMNS].to_csv(tmp, index=False, na_rep="")
        tmp.replace(path)  # a reader never sees half a file
        return path

    @classmethod
    def read(cls, path: Path) -> pd.DataFrame:
        return pd.read_csv(path, dtype={"channel_id": "int64", "ts": "int64", "quality": "int64"})


@dataclass
class FlushReport:
    rows: int = 0
    written: bool = False
    spooled: int = 0  # files written to the spool by this flush
    replayed: int = 0  # spool files written to the database by this flush
    batch_id: int | None = None
    error: str | None = None


class Writer:
    """Writes a frame, the device health and the alarm events in one transaction."""

    def __init__(self, url: str | None = None, spool_dir: Path | None = None, source: str = ""):
        self.url = url
        self.spool = Spool(spool_dir or carnet_home() / "spool")
        self.source = source or "modbus"

    def _engine(self):
        return carnet_db.get_engine(self.url)

    def _write(self, conn, frame: pd.DataFrame, source: str) -> tuple[int, Session]:
        """Readings and their batch on `conn`; the session stays open for the caller's rows."""
        session = Session(bind=conn)
        batch = ImportBatch(source=source[:500], origin="modbus", format="modbus",
                            user_login="poller")  # fmt: skip
        session.add(batch)
        session.flush()
        counts = upsert_readings(conn, frame, batch_id=batch.id) if len(frame) else None
        batch.rows_read = len(frame)
        if counts is not None:
            batch.rows_inserted = counts.inserted
            batch.rows_updated = counts.updated
            batch.rows_unchanged = counts.unchanged
        gaps = int((frame["quality"] == int(Quality.GAP)).sum()) if len(frame) else 0
        batch.status = "partial" if gaps else "ok"
        batch.message = f"{gaps} lacune(s) (équipement muet)" if gaps else None
        batch.finished_at = dt.datetime.now(dt.UTC)
        session.flush()
        return batch.id, session

    def flush(
        self, frame: pd.DataFrame, statuses: list[DeviceSnapshot], events: list[AlarmEvent]
    ) -> FlushReport:
        """Blocking; run in a thread, on snapshots taken in the event loop. On failure the
        frame goes to the spool; the caller keeps the statuses and events for the next try."""
        report = FlushReport(rows=len(frame))
        try:
            engine = self._engine()
            for path in self.spool.files():
                try:
                    spooled = Spool.read(path)
                except Exception as exc:  # a damaged file must not block the ones after it
                    log.error("fichier d'attente illisible mis de côté : %s (%s)", path, exc)
                    path.rename(path.with_suffix(".bad"))
                    continue
                with engine.begin() as conn:
                    self._write(conn, spooled, f"spool:{path.name}")[1].close()
                path.unlink()
                report.replayed += 1
            with engine.begin() as conn:
                report.batch_id, session = self._write(conn, frame, self.source)
                _save_status(session, statuses)
                AlarmTracker.apply_events(session, events)
                session.flush()
                session.close()
            report.written = True
        except Exception as exc:  # the database is away: nothing read may be lost
            report.error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}"
            log.error("base de données indisponible, mise en attente locale : %s", report.error)
            if len(frame):
                self.spool.put(frame)
                report.spooled = 1
        return report


@dataclass(frozen=True)
class DeviceSnapshot:
    """A device's health as of a flush, copied in the event loop for the writer thread."""

    gateway: str
    unit: int
    model: str
    building_id: int | None
    equipment_id: int | None
    last_contact: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    failures: int

    @classmethod
    def of(cls, r: DeviceReader) -> DeviceSnapshot:
        b = r.bound
        return cls(b.gateway, b.unit, b.config.map.model, b.building_id, b.equipment_id,
                   r.last_contact, r.last_error, r.last_error_at, r.failures)  # fmt: skip


def _save_status(session: Session, statuses: list[DeviceSnapshot]) -> None:
    for st in statuses:
        row = session.scalar(
            select(DeviceStatus).where(
                DeviceStatus.gateway_code == st.gateway, DeviceStatus.unit == st.unit
            )
        )
        if row is None:
            row = DeviceStatus(gateway_code=st.gateway, unit=st.unit)
            session.add(row)
        row.model = st.model
        row.building_id = st.building_id
        row.equipment_id = st.equipment_id
        row.last_contact_at = st.last_contact or row.last_contact_at
        row.last_error = st.last_error
        row.last_error_at = st.last_error_at
        row.consecutive_failures = st.failures


class Poller:
    def __init__(
        self,
        config: PollerConfig,
        url: str | None = None,
        spool_dir: Path | None = None,
        on_status: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.url = url
        codes = ",".join(g.code for g in config.gateways)
        self.writer = Writer(url, spool_dir, source=f"modbus:{codes}")
        engine = carnet_db.get_engine(url)
        with carnet_db.session_scope(engine) as session:
            bound = bind_channels(session, config)
            self.alarms = AlarmTracker()
            self.alarms.load_open(session)
        self.gateways = {g.code: Gateway(g) for g in config.gateways}
        self.readers = [
            DeviceReader(bound[(g.code, d.unit)]) for g in config.gateways for d in g.devices
        ]
        self.on_status = on_status
        self.clock = clock  # the readings' timestamps; tests pass their own
        self._parts: list[tuple[np.ndarray, ...]] = []  # channel_id, ts, value, quality
        self._rows = 0
        self._flush_lock: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None
        self.last_flush: FlushReport | None = None
        self._background: set[asyncio.Task] = set()
        self.written_rows = 0  # this run, spool replays not counted

    # --- buffer -------------------------------------------------------------------------------

    def _buffer(self, reader: DeviceReader, result: PollResult, value, quality) -> None:
        if len(reader.channel_idx):
            idx = reader.channel_idx
            self._parts.append(
                (reader.channel_ids, np.full(len(idx), result.ts, dtype=np.int64),
                 value[idx], quality[idx])
            )  # fmt: skip
            self._rows += len(idx)
        b = reader.bound
        for i in reader.alarm_idx:
            if quality[i] != int(Quality.MEASURED):
                continue
            point = reader.points[i]
            code = int(round(float(value[i])))
            event = self.alarms.observe(
                alarm_key(b.gateway, b.unit, point.key),
                code,
                result.ts,
                enum_label(point, float(value[i])),
                b.building_id,
                b.equipment_id,
            )
            if event is not None:
                log.warning("alarme %s : %s (code %s)", event.key, event.action, code)

    @property
    def buffered_rows(self) -> int:
        return self._rows

    async def flush(self) -> FlushReport:
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            parts = self._parts
            frame = pd.DataFrame(
                {
                    col: np.concatenate([p[k] for p in parts]) if parts else np.array([], dtype)
                    for k, (col, dtype) in enumerate(
                        zip(Spool.COLUMNS, ("int64", "int64", "float64", "int64"), strict=True)
                    )
                }
            )
            self._parts, self._rows = [], 0
            nothing_to_do = (
                frame.empty
                and not self.alarms.pending
                and not any(r.dirty for r in self.readers)
                and not self.writer.spool.files()
            )
            if nothing_to_do:
                return FlushReport()
            dirty = [r for r in self.readers if r.dirty]
            statuses = [DeviceSnapshot.of(r) for r in dirty]
            for r in dirty:
                r.dirty = False
            events, self.alarms.pending = self.alarms.pending, []
            report = await asyncio.to_thread(self.writer.flush, frame, statuses, events)
            self.last_flush = report
            if report.written:
                self.written_rows += report.rows
            else:  # kept for the next flush (the readings themselves are in the spool)
                for r in dirty:
                    r.dirty = True
                self.alarms.pending[:0] = events
            return report

    # --- polling ------------------------------------------------------------------------------

    async def poll_device(self, reader: DeviceReader) -> PollResult:
        gateway = self.gateways[reader.bound.gateway]
        result, value, quality = await reader.read(gateway, int(self.clock()))
        if not result.answered:
            log.warning("%s/%s muet (%s échecs) : %s", result.gateway, result.unit,
                        reader.failures, result.error)  # fmt: skip
        self._buffer(reader, result, value, quality)
        return result

    async def poll_round(self) -> list[PollResult]:
        """Every device once: gateways in parallel, the devices of a gateway in turn."""

        async def gateway_round(code: str) -> list[PollResult]:
            return [await self.poll_device(r) for r in self.readers if r.bound.gateway == code]

        rounds = await asyncio.gather(*(gateway_round(c) for c in self.gateways))
        return [r for rs in rounds for r in rs]

    async def poll_once(self) -> list[PollResult]:
        """Every device once, then write."""
        results = await self.poll_round()
        await self.flush()
        return results

    async def _device_loop(self, reader: DeviceReader) -> None:
        while not self._stop.is_set():
            try:
                await self.poll_device(reader)
            except Exception:  # a bug on one device must not stop the others
                log.exception("%s/%s : erreur inattendue", reader.bound.gateway, reader.bound.unit)
                reader.failures += 1
            if self._rows >= self.config.flush_rows:
                task = asyncio.get_running_loop().create_task(self.flush())
                self._background.add(task)  # keep a reference until it is done
                task.add_done_callback(self._background.discard)
            delay = reader.next_delay(self.config.backoff_max_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _flush_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.flush_s)
            if self._stop.is_set():
                return
            await self.flush()
            if self.on_status:
                self.on_status(self.status_line())

    def status_line(self) -> str:
        now = dt.datetime.now().strftime("%d/%m/%Y %H:%M:%S")
        online = sum(1 for r in self.readers if r.last and r.last.answered)
        silent = sum(1 for r in self.readers if r.failures)
        flush = self.last_flush
        db = "base ok" if flush is None or flush.written else "base indisponible"
        return (
            f"{now} {len(self.readers)} équipement(s) : {online} en ligne, {silent} muet(s) ;"
            f" {self.written_rows} mesure(s) écrite(s) depuis le démarrage, {self._rows} en"
            f" tampon, {len(self.writer.spool.files())} lot(s) en attente ; {db}"
        )

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self, install_signals: bool = True) -> None:
        """Poll until `stop()` or SIGTERM/SIGINT; the buffer is always flushed on the way out."""
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
        tasks = [asyncio.create_task(self._device_loop(r)) for r in self.readers]
        tasks.append(asyncio.create_task(self._flush_loop()))
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.flush()
            self.close()
            for sig in installed:
                loop.remove_signal_handler(sig)

    def close(self) -> None:
        for g in self.gateways.values():
            g.close()
