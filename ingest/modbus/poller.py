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
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from carnet import db as carnet_db
from carnet.config import carnet_home
from carnet.models import DeviceStatus, ImportBatch, Quality
from carnet.quarantine import hold, reason_label
from carnet.store import normalise_readings, upsert_readings
from ingest.modbus.alarms import AlarmEvent, AlarmTracker, alarm_key
from ingest.modbus.blocks import Block, Scatter, plan_blocks
from ingest.modbus.config import BoundDevice, GatewayConfig, PollerConfig, bind_channels
from ingest.modbus.decode import DecodePlan, enum_label, implausible_floats
from ingest.modbus.health import FAILING, LABELS, OK, PARTIAL, REFUSED_PREFIX, SILENT, round_state
from ingest.plausibility import channel_limits, screen

log = logging.getLogger(__name__)

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


@dataclass
class PollResult:
    """One round of reads of one device. `answered` means it gave values (an answer made only
    of Modbus exceptions is no answer); `state` is ok, partial, failing or silent."""

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
    state: str = OK
    refused_blocks: int = 0  # blocks answered with a Modbus exception

    @property
    def values(self) -> dict[str, tuple[float, int]]:
        """{point key: (value, quality)}"""
        return {k: (float(self.value[i]), int(self.quality[i])) for i, k in enumerate(self.keys)}

    @property
    def state_label(self) -> str:
        return LABELS[self.state]


def _n_blocks(n: int) -> str:
    return f"{n} bloc" if n == 1 else f"{n} blocs"


def refusal_summary(refused: dict[int, list[Block]], skipped: int = 0) -> str:
    """« exception Modbus 2 (adresse illégale) sur 4 blocs (holding 0, 1, 2, 20) », one part
    per exception code, in the order met; at most 6 addresses are named per code."""
    parts = []
    for code, blocks in refused.items():
        where: dict[str, list[str]] = {}
        for b in blocks[:6]:
            span = str(b.start) if b.count == 1 else f"{b.start}-{b.end - 1}"
            where.setdefault(b.table, []).append(span)
        named = " ; ".join(f"{table} {', '.join(spans)}" for table, spans in where.items())
        more = ", …" if len(blocks) > 6 else ""
        parts.append(f"{RequestRefused(code).args[0]} sur {_n_blocks(len(blocks))} ({named}{more})")
    if skipped:
        parts.append(f"{_n_blocks(skipped)} non demandé{'s' if skipped > 1 else ''}")
    return " ; ".join(parts)


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
        n_read = 0
        refused: dict[int, list[Block]] = {}  # exception code -> blocks it answered
        skipped = 0  # blocks not asked once the gateway said the device is unreachable
        silent: str | None = None
        planned = self.blocks
        async with gateway.lock:
            try:
                await gateway.ensure_connected()
                k = 0
                while k < len(self.blocks):
                    block = self.blocks[k]
                    try:
                        values = await gateway.read(block.table, block.start, block.count, unit)
                    except RequestRefused as exc:
                        if len(block.members) > 1 and exc.code == 0x02:
                            self._split_block(k)
                            continue  # same k, now a smaller block
                        refused.setdefault(exc.code, []).append(block)
                        k += 1
                        if exc.code in GATEWAY_SILENT:
                            skipped = len(self.blocks) - k
                            break
                        continue
                    self.scatters[k].apply(values, regs)
                    ok[self.scatters[k].members] = True
                    n_read += len(block.members)
                    k += 1
            except DeviceSilent as exc:
                silent = str(exc)
        if not n_read and self.blocks is not planned:
            # nothing read at all: a refusing device, not holes in its map; keep the blocks
            self._set_blocks(planned)
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
        n_refused = sum(len(b) for b in refused.values())
        state = round_state(n, n_read, n_refused)
        errors = [refusal_summary(refused, skipped)] if refused else []
        error = " ; ".join([*errors, *([silent] if silent else [])]) or None
        answered = state in (OK, PARTIAL)
        if answered:
            self.failures = 0
            self.last_contact = now
        else:  # silent, or only exceptions: the same backoff
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
            state=state,
            refused_blocks=n_refused,
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
    rows: int = 0  # readings of this flush's own frame (spool replays not counted)
    written: bool = False
    spooled: int = 0  # files written to the spool by this flush
    replayed: int = 0  # spool files written to the database by this flush
    batch_id: int | None = None
    error: str | None = None
    held: int = 0  # of `rows`, held in quarantine instead of written
    held_replayed: int = 0  # held while replaying the spool
    held_reasons: dict[str, int] = field(default_factory=dict)  # reason_code -> count
    held_samples: list[str] = field(default_factory=list)  # « CODE : reason », a few

    @property
    def stored(self) -> int:
        """Readings of the frame that went to `reading`."""
        return self.rows - self.held


HELD_SAMPLES = 5  # held readings named in a flush report


@dataclass(frozen=True)
class PointSource:
    """Where a channel's readings come from, for the quarantine: the gateway code goes to its
    `file` column, `raw` names the device, point and register."""

    gateway: str
    channel_code: str
    raw: str


@dataclass
class _Written:
    batch_id: int
    session: Session
    held: int
    reasons: dict[str, int]
    samples: list[str]


def _transient(exc: BaseException) -> bool:
    """The database is away or busy: try again later. Any other error replaying a spool file
    sets the file aside (`.bad`) so that it cannot block the files after it forever. DB-API
    errors raised by the raw driver (the bulk paths of carnet.store) are not wrapped: their
    class names follow PEP 249."""
    if isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, OSError,
                        TimeoutError)):  # fmt: skip
        return True
    return any(c.__name__ in ("OperationalError", "InterfaceError") for c in type(exc).__mro__)


class Writer:
    """Writes a frame, the device health and the alarm events in one transaction. The readings
    go through the plausibility checks of file imports first (`ingest.plausibility.screen`):
    what the equipment cannot have done is held in quarantine, not written, so it changes no
    rollup and never becomes the reference of the next increment."""

    def __init__(self, url: str | None = None, spool_dir: Path | None = None, source: str = ""):
        self.url = url
        self.spool = Spool(spool_dir or carnet_home() / "spool")
        self.source = source or "modbus"
        self.points: dict[int, PointSource] = {}  # channel id -> where it is read
        self._limits: pd.DataFrame | None = None  # channel limits, read once per flush

    def _engine(self):
        return carnet_db.get_engine(self.url)

    def _screen(self, conn, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if not len(frame):
            return frame, frame.iloc[:0]
        if self._limits is None:
            self._limits = channel_limits(conn)
        return screen(conn, frame, self._limits)

    def _hold(self, conn, held: pd.DataFrame, batch_id: int) -> None:
        """Held readings into the quarantine, one call per gateway (the file they came from)."""
        src = [self.points.get(int(c)) for c in held["channel_id"]]
        held = held.assign(
            raw=[p.raw if p else None for p in src],
            file=[p.gateway if p else self.source for p in src],
        )
        for gateway, part in held.groupby("file", sort=False):
            hold(conn, part.drop(columns=["file"]), batch_id=batch_id, file=str(gateway))

    def _write(self, conn, frame: pd.DataFrame, source: str) -> _Written:
        """Readings and their batch on `conn`; the session stays open for the caller's rows."""
        session = Session(bind=conn)
        batch = ImportBatch(source=source[:500], origin="modbus", format="modbus",
                            user_login="poller")  # fmt: skip
        session.add(batch)
        session.flush()
        frame = normalise_readings(frame) if len(frame) else frame
        accepted, held = self._screen(conn, frame)
        if len(held):
            self._hold(conn, held, batch.id)
        counts = upsert_readings(conn, accepted, batch_id=batch.id) if len(accepted) else None
        reasons: dict[str, int] = {}
        samples: list[str] = []
        if len(held):
            reasons = {str(k): int(n) for k, n in held["reason_code"].value_counts().items()}
            for c, why in zip(held["channel_id"][:HELD_SAMPLES], held["reason"], strict=False):
                p = self.points.get(int(c))
                samples.append(f"{p.channel_code if p else c} : {why}")
        n_held = len(held)
        batch.rows_read = len(frame)
        if counts is not None:
            batch.rows_inserted = counts.inserted
            batch.rows_updated = counts.updated
            batch.rows_unchanged = counts.unchanged
            if counts.held:  # later data for a closed period: a pending regularisation
                n_held += counts.held
                reasons["closed_period"] = reasons.get("closed_period", 0) + counts.held
        batch.rows_quarantined = n_held
        gaps = int((frame["quality"] == int(Quality.GAP)).sum()) if len(frame) else 0
        notes = [f"{gaps} lacune(s) (point non lu)"] if gaps else []
        if n_held:
            notes.append(f"{held_phrase(n_held)} ({', '.join(map(reason_label, reasons))})")
        batch.status = "partial" if notes else "ok"
        batch.message = " ; ".join(notes) or None
        batch.finished_at = dt.datetime.now(dt.UTC)
        session.flush()
        return _Written(batch.id, session, n_held, reasons, samples)

    def flush(
        self, frame: pd.DataFrame, statuses: list[DeviceSnapshot], events: list[AlarmEvent]
    ) -> FlushReport:
        """Blocking; run in a thread, on snapshots taken in the event loop. On failure the
        frame goes to the spool; the caller keeps the statuses and events for the next try.
        Spooled frames are replayed first, each through the same checks in its own batch."""
        report = FlushReport(rows=len(frame))
        self._limits = None  # a channel's limits may have been edited since the last flush
        try:
            engine = self._engine()
            for path in self.spool.files():
                try:
                    spooled = Spool.read(path)
                except Exception as exc:  # a damaged file must not block the ones after it
                    log.error("fichier d'attente illisible mis de côté : %s (%s)", path, exc)
                    path.rename(path.with_suffix(".bad"))
                    continue
                try:
                    with engine.begin() as conn:
                        done = self._write(conn, spooled, f"spool:{path.name}")
                        done.session.close()
                except Exception as exc:
                    if _transient(exc):
                        raise
                    # not the base being away: this file cannot be written, ever
                    log.error("fichier d'attente refusé par la base, mis de côté : %s (%s)",
                              path, exc)  # fmt: skip
                    path.rename(path.with_suffix(".bad"))
                    continue
                path.unlink()
                report.replayed += 1
                report.held_replayed += done.held
                _tally(report, done)
            with engine.begin() as conn:
                done = self._write(conn, frame, self.source)
                report.batch_id = done.batch_id
                _save_status(done.session, statuses)
                AlarmTracker.apply_events(done.session, events)
                done.session.flush()
                done.session.close()
            report.written = True
            report.held = done.held
            _tally(report, done)
        except Exception as exc:  # the database is away: nothing read may be lost
            report.error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}"
            log.error("base de données indisponible, mise en attente locale : %s", report.error)
            if len(frame):
                self.spool.put(frame)
                report.spooled = 1
        if report.held or report.held_replayed:
            log.warning("%s ; %s", held_phrase(report.held + report.held_replayed),
                        " ; ".join(report.held_samples))  # fmt: skip
        return report


def held_phrase(n: int) -> str:
    """« 1 relevé mis en quarantaine », « 3 relevés mis en quarantaine »."""
    return f"{n} relevé{'s' if n > 1 else ''} mis en quarantaine"


def _tally(report: FlushReport, done: _Written) -> None:
    for code, n in done.reasons.items():
        report.held_reasons[code] = report.held_reasons.get(code, 0) + n
    room = HELD_SAMPLES - len(report.held_samples)
    report.held_samples.extend(done.samples[: max(room, 0)])


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


def point_sources(readers: list[DeviceReader]) -> dict[int, PointSource]:
    """channel id -> gateway, channel code and a description of the register it is read from,
    what a held reading says of its origin (« GW-MAIRIE esclave 3, point gas_volume :
    holding 0, uint32 × 0,01 m3 »)."""
    out = {}
    for r in readers:
        b = r.bound
        for i, cid in zip(r.channel_idx, r.channel_ids, strict=True):
            p = r.points[i]
            scale = f" × {p.scale:g}".replace(".", ",") if p.scale != 1 else ""
            unit = f" {p.unit}" if p.unit else ""
            raw = (
                f"{b.gateway} esclave {b.unit}, point {p.key} : {p.table} {p.address},"
                f" {p.type}{scale}{unit}"
            )
            out[int(cid)] = PointSource(b.gateway, b.config.channels.get(p.key, p.key), raw)
    return out


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
        self.writer.points = point_sources(self.readers)
        self.on_status = on_status
        self.clock = clock  # the readings' timestamps; tests pass their own
        self._parts: list[tuple[np.ndarray, ...]] = []  # channel_id, ts, value, quality
        self._rows = 0
        self._flush_lock: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None
        self.last_flush: FlushReport | None = None
        self._background: set[asyncio.Task] = set()
        self.written_rows = 0  # this run, spool replays not counted
        self.held_rows = 0  # readings of this run held in quarantine, spool replays counted

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
            self.held_rows += report.held_replayed + (report.held if report.written else 0)
            if report.written:
                self.written_rows += report.stored
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
            log.warning("%s/%s %s (%s échecs) : %s", result.gateway, result.unit,
                        result.state_label, reader.failures, result.error)  # fmt: skip
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
        states = [r.last.state for r in self.readers if r.last is not None]
        flush = self.last_flush
        db = "base ok" if flush is None or flush.written else "base indisponible"
        held = self.held_rows
        return (
            f"{now} {len(self.readers)} équipement(s) : {states.count(OK)} en ligne,"
            f" {states.count(SILENT)} muet(s), {states.count(FAILING)} en échec,"
            f" {states.count(PARTIAL)} partiel(s) ;"
            f" {self.written_rows} mesure(s) écrite(s) depuis le démarrage, {self._rows} en"
            f" tampon, {len(self.writer.spool.files())} lot(s) en attente ; {db} ;"
            f" {held} relevé{'s' if held > 1 else ''} mis en quarantaine depuis le démarrage"
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
