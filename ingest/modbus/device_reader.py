"""Reading one device: its blocks planned once, read under the gateway's lock, decoded into
values and qualities, with its health (failures, backoff, last contact).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from carnet.kinds import Quality
from ingest.modbus.blocks import Block, plan_blocks
from ingest.modbus.config import BoundDevice
from ingest.modbus.decode import DecodePlan, implausible_floats
from ingest.modbus.gateway import GATEWAY_SILENT, DeviceSilent, Gateway, RequestRefused
from ingest.modbus.health import LABELS, OK, PARTIAL, round_state

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _SharedPlan:
    """What reading a set of points of a map needs, the same for every device using them."""

    register_map: object  # held so that the key's id() stays this map's
    points: tuple
    plan: DecodePlan
    blocks: list[Block]
    layout: tuple  # what `DeviceReader._layout` makes of the blocks


_PLANS: dict[tuple[int, tuple[str, ...]], _SharedPlan] = {}


def _plan_of(register_map, points: list) -> _SharedPlan:
    """The decode plan and blocks of `points` of `register_map`, built once per process: a
    site has hundreds of devices of one model, and building them per device was most of a
    start-up. Shared read-only (a device that splits a refused block makes its own lists)."""
    key = (id(register_map), tuple(p.key for p in points))
    shared = _PLANS.get(key)
    if shared is None or shared.register_map is not register_map:
        blocks = plan_blocks(points, register_map.max_gap)
        plan = DecodePlan(points)
        shared = _SharedPlan(register_map, tuple(points), plan, blocks,
                             _layout(points, plan, blocks))  # fmt: skip
        _PLANS[key] = shared
    return shared


def _layout(points, plan: DecodePlan, blocks: list[Block]) -> tuple:
    """For a read's registers laid end to end (block by block, then one 0): where each cell of
    the (points x 4) matrix takes its register, in wire order (`last_regs`) and in word order
    (what `DecodePlan.decode_ordered` takes), so that a read is placed and ordered by one
    fancy index; and each block's points."""
    total = sum(b.count for b in blocks)
    gather = np.full((len(points), 4), total, dtype=np.int64)  # the trailing 0
    at = 0
    for b in blocks:
        for i in b.members:
            p = points[i]
            gather[i, : p.width] = at + p.address - b.start + np.arange(p.width)
        at += b.count
    gather = gather.reshape(-1)
    return gather, gather[plan.flat_take], [np.array(b.members, dtype=np.int64) for b in blocks]


class DeviceReader:
    """Everything precomputed to read and decode one device quickly."""

    def __init__(self, bound: BoundDevice, read_all: bool = False):
        self.bound = bound
        cfg = bound.config
        wanted = [p for p in cfg.map.points if p.key in bound.channel_ids or p.alarm]
        points = list(cfg.map.points) if read_all or not wanted else wanted
        shared = _plan_of(cfg.map, points)
        self.points = list(shared.points)
        self.plan = shared.plan
        self.blocks, self._layout = shared.blocks, shared.layout
        self.channel_idx = np.array(
            [i for i, p in enumerate(self.points) if p.key in bound.channel_ids], dtype=np.int64
        )
        self.channel_ids = np.array(
            [bound.channel_ids[self.points[i].key] for i in self.channel_idx], dtype=np.int64
        )
        # every point a channel, in order: the buffer takes the decoded arrays as they are
        self.all_channels = bool(np.array_equal(self.channel_idx, np.arange(len(self.points))))
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
        self._last_read: tuple[np.ndarray, np.ndarray] | None = None  # registers, gather

    def _set_blocks(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self._layout = _layout(self.points, self.plan, blocks)

    @property
    def last_regs(self) -> np.ndarray | None:
        """The (points x 4) registers of the last read in wire order, for diagnostics."""
        if self._last_read is None:
            return None
        flat, gather = self._last_read
        return flat[gather].reshape(len(self.points), 4)

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
        flat: list[int] = []  # the registers of every block, in block order (0 if unread)
        unread: list[int] = []  # blocks not read
        n_read = 0
        refused: dict[int, list[Block]] = {}  # exception code -> blocks it answered
        skipped = 0  # blocks not asked once the gateway said the device is unreachable
        silent: str | None = None
        planned = self.blocks
        k = 0
        async with gateway.lock:
            try:
                await gateway.ensure_connected()
                while k < len(self.blocks):
                    block = self.blocks[k]
                    try:
                        values = await gateway.read(block.table, block.start, block.count, unit)
                    except RequestRefused as exc:
                        if len(block.members) > 1 and exc.code == 0x02:
                            self._split_block(k)
                            continue  # same k, now a smaller block
                        refused.setdefault(exc.code, []).append(block)
                        flat += [0] * block.count
                        unread.append(k)
                        k += 1
                        if exc.code in GATEWAY_SILENT:
                            skipped = len(self.blocks) - k
                            break
                        continue
                    flat += values
                    n_read += len(block.members)
                    k += 1
            except DeviceSilent as exc:
                silent = str(exc)
        # the layout of this read's blocks (a refusing device gets its planned blocks back)
        gather, ordered, members = self._layout
        for j in range(k, len(self.blocks)):  # not asked: after a silence or a gateway failure
            flat += [0] * self.blocks[j].count
            unread.append(j)
        if not n_read and self.blocks is not planned:
            # nothing read at all: a refusing device, not holes in its map; keep the blocks
            self._set_blocks(planned)
        flat.append(0)
        registers = np.array(flat, dtype=np.uint64)
        decoded = self.plan.decode_ordered(registers[ordered])
        self._last_read = (registers, gather)
        n = len(self.points)
        if n_read == n:
            value, quality, ok = decoded.value, decoded.quality, None
        else:
            ok = np.ones(n, dtype=bool)
            for j in unread:
                ok[members[j]] = False
            value = np.where(ok, decoded.value, np.nan)
            quality = np.where(ok, decoded.quality, int(Quality.GAP))
        if n_read and self.plan.maybe_implausible(decoded, ok):
            regs = registers[gather].reshape(n, 4)
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
