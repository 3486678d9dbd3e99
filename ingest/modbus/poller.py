"""The Modbus poller: runs unattended for months in a boiler room.

One connection per gateway, shared by the unit ids behind it and guarded by an `asyncio.Lock`:
an RS-485 line carries one request at a time and a gateway must never see the same client
connect twice. A device that does not answer costs GAP readings and an exponential backoff,
never the poller or the other devices. Readings are buffered and written in batches; while the
database is away they go to a local spool that is replayed, oldest first, when it comes back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from carnet import db as carnet_db
from carnet.kinds import Quality
from ingest.modbus.alarms import AlarmTracker, alarm_key
from ingest.modbus.config import PollerConfig, bind_channels
from ingest.modbus.decode import enum_label
from ingest.modbus.device_reader import DeviceReader, PollResult
from ingest.modbus.gateway import Gateway
from ingest.modbus.health import FAILING, OK, PARTIAL, SILENT
from ingest.modbus.spool import Spool
from ingest.modbus.writer import DeviceSnapshot, FlushReport, PointSources, Writer

log = logging.getLogger(__name__)


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
        self.writer = Writer(url, spool_dir, source=f"modbus:{codes}", clock=clock)
        engine = carnet_db.get_engine(url)
        with carnet_db.session_scope(engine) as session:
            bound = bind_channels(session, config)
            self.alarms = AlarmTracker()
            self.alarms.load_open(session)
        self.gateways = {g.code: Gateway(g) for g in config.gateways}
        self.readers = [
            DeviceReader(bound[(g.code, d.unit)]) for g in config.gateways for d in g.devices
        ]
        self.writer.points = PointSources(self.readers)
        self.on_status = on_status
        self.clock = clock  # the readings' timestamps; tests pass their own
        self._parts: list[tuple[np.ndarray, ...]] = []  # channel_id, ts, value, quality
        self._rows = 0
        self._flush_lock: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None
        self.last_flush: FlushReport | None = None
        self._background: set[asyncio.Task] = set()
        # the writer's reads ahead of its first write (`_warm_up`)
        self._warming: concurrent.futures.Future | None = None
        self.written_rows = 0  # this run, spool replays not counted
        self.held_rows = 0  # readings of this run held in quarantine, spool replays counted

    # --- buffer -------------------------------------------------------------------------------

    def _buffer(self, reader: DeviceReader, result: PollResult, value, quality) -> None:
        idx = reader.channel_idx
        if len(idx):
            ts = np.full(len(idx), result.ts, dtype=np.int64)
            if reader.all_channels:  # the decoded arrays are the reader's own, fresh each read
                self._parts.append((reader.channel_ids, ts, value, quality))
            else:
                self._parts.append((reader.channel_ids, ts, value[idx], quality[idx]))
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
            if self._warming is not None and not self._warming.done():
                # the writer is never used by two threads at once
                await asyncio.wrap_future(self._warming)
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

    def _warm_up(self) -> None:
        """Once, as the first round starts: the writer reads what its first write needs
        (`Writer.warm`) in a thread while the devices are read, not after them."""
        if self._warming is not None:
            return
        parts = [r.channel_ids for r in self.readers if len(r.channel_ids)]
        ids = np.concatenate(parts) if parts else np.array([], dtype="int64")
        from_ts = int(self.clock())
        done: concurrent.futures.Future = concurrent.futures.Future()

        def warm() -> None:  # a thread of its own: any event loop can wait for it
            try:
                done.set_result(self.writer.warm(ids, from_ts))
            except BaseException as exc:  # warm() reports its own errors; this is a bug
                done.set_exception(exc)

        self._warming = done
        threading.Thread(target=warm, name="carnet-modbus-prechargement", daemon=True).start()

    async def poll_round(self) -> list[PollResult]:
        """Every device once: gateways in parallel, the devices of a gateway in turn."""

        self._warm_up()
        by_gateway: dict[str, list[DeviceReader]] = {code: [] for code in self.gateways}
        for r in self.readers:
            by_gateway[r.bound.gateway].append(r)

        async def gateway_round(readers: list[DeviceReader]) -> list[PollResult]:
            return [await self.poll_device(r) for r in readers]

        rounds = await asyncio.gather(*(gateway_round(rs) for rs in by_gateway.values()))
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
        self._warm_up()
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
        self.writer.close()
