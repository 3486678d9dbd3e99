"""The fast read path (registers placed and word-ordered by one index, decode steps skipped
when a map does not need them, plans shared between devices) gives the values of a plain
per-value decoding: every type and word order, signs, invalid markers, scale, gaps."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from carnet.kinds import Quality
from ingest.modbus.config import BoundDevice, DeviceConfig
from ingest.modbus.decode import DecodePlan
from ingest.modbus.device_reader import DeviceReader
from ingest.modbus.gateway import DeviceSilent, RequestRefused
from ingest.modbus.registers import TYPES, WORD_ORDERS, Point, parse_map

FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
           "float64": ">d"}  # fmt: skip


def reference(p: Point, regs: list[int]) -> float:
    """One value the slow way: bytes in the point's order, then struct."""
    words = list(regs[: p.width])
    order = p.word_order if p.width > 1 else "ABCD"  # a single register has no word order
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    data = b"".join(w.to_bytes(2, "big") for w in words)
    if p.encoding == "sign_magnitude":
        raw = int.from_bytes(data, "big")
        top = 1 << (16 * p.width - 1)
        v = -(raw & (top - 1)) if raw & top else raw
    else:
        v = struct.unpack(FORMATS[p.type], data)[0]
    return v * p.scale + p.offset


def test_decode_matches_a_per_value_reference_for_every_type_and_order():
    rng = np.random.default_rng(7)
    points = []
    for t in TYPES:
        for order in WORD_ORDERS:
            for enc in (
                ("twos_complement", "sign_magnitude")
                if t in ("int16", "int32")
                else ("twos_complement",)
            ):
                points.append(Point(key=f"{t}{order}{enc}", table="holding", address=0, type=t,
                                    word_order=order, encoding=enc, scale=0.5, offset=-3.0))  # fmt: skip
    plan = DecodePlan(points)
    for _ in range(50):
        regs = np.zeros((len(points), 4), dtype=np.uint64)
        for i, p in enumerate(points):
            regs[i, : p.width] = rng.integers(0, 1 << 16, p.width)
        out = plan.decode(regs)
        for i, p in enumerate(points):
            want = reference(p, [int(r) for r in regs[i]])
            if np.isfinite(want) and abs(want) < 1e300:
                assert out.quality[i] == int(Quality.MEASURED), p.key
                assert out.value[i] == pytest.approx(want, rel=1e-12), p.key


def test_unscaled_integer_map_with_invalid_markers():
    points = [Point(key="a", table="holding", address=0, type="int16", invalid=(0x8000,)),
              Point(key="b", table="holding", address=1, type="uint32")]  # fmt: skip
    out = DecodePlan(points).decode(np.array([[0x8000, 0, 0, 0], [1, 2, 0, 0]], dtype=np.uint64))
    assert np.isnan(out.value[0]) and out.quality[0] == int(Quality.INVALID)
    assert out.value[1] == 65538 and out.quality[1] == int(Quality.MEASURED)
    out = DecodePlan(points).decode(np.array([[0xFFFF, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint64))
    assert out.value.tolist() == [-1.0, 0.0]


class FakeGateway:
    """Blocks answered from fixed tables; `refuse` and `silent_at` script the failures."""

    def __init__(self, tables, refuse=(), silent_at=None):
        self.tables, self.refuse, self.silent_at = tables, set(refuse), silent_at
        self.lock = asyncio.Lock()
        self.calls = 0

    async def ensure_connected(self):
        pass

    async def read(self, table, start, count, unit):
        self.calls += 1
        if self.silent_at is not None and self.calls > self.silent_at:
            raise DeviceSilent("pas de réponse (TimeoutError)")
        if (table, start) in self.refuse:
            raise RequestRefused(0x04)
        return self.tables[table][start : start + count]


def reader_of(spec, unit=1):
    m = parse_map({"model": "fast", "points": spec})
    dev = DeviceConfig(unit=unit, map=m, channels={p.key: p.key for p in m.points})
    return DeviceReader(BoundDevice("GW", dev, {p.key: i for i, p in enumerate(m.points)}, 1, None))


SPEC = [
    {"key": "t", "table": "holding", "address": 0, "type": "int16", "scale": 0.1},
    {"key": "e", "table": "holding", "address": 1, "type": "uint32"},
    {"key": "f", "table": "input", "address": 0, "type": "float32", "word_order": "CDAB"},
    {"key": "g", "table": "input", "address": 2, "type": "float32"},
]
TABLES = {"holding": [0xFFF6, 1, 2], "input": [0, 0x3FC0, 0x3FC0, 0]}  # -1.0, 65538, 1.5, 1.5


@pytest.mark.parametrize("unit", [1, 2])  # the second device reuses the first one's plan
def test_reader_values_and_last_registers(unit):
    r = reader_of(SPEC, unit)
    result, value, quality = asyncio.run(r.read(FakeGateway(TABLES), 0))
    assert value.tolist() == [-1.0, 65538.0, 1.5, 1.5]
    assert quality.tolist() == [int(Quality.MEASURED)] * 4
    assert r.last_regs.tolist() == [[0xFFF6, 0, 0, 0], [1, 2, 0, 0], [0, 0x3FC0, 0, 0],
                                    [0x3FC0, 0, 0, 0]]  # fmt: skip
    assert result.state == "ok"


def test_reader_gaps_for_a_refused_block_and_after_a_silence():
    r = reader_of(SPEC)
    gw = FakeGateway(TABLES, refuse={("holding", 0)})
    result, value, quality = asyncio.run(r.read(gw, 0))
    assert quality.tolist() == [int(Quality.GAP)] * 2 + [int(Quality.MEASURED)] * 2
    assert np.isnan(value[:2]).all() and value[2:].tolist() == [1.5, 1.5]
    assert result.state == "partial"
    r = reader_of(SPEC)
    result, value, quality = asyncio.run(r.read(FakeGateway(TABLES, silent_at=1), 0))
    assert value[0] == -1.0 and value[1] == 65538.0 and np.isnan(value[2:]).all()
    assert quality.tolist() == [int(Quality.MEASURED)] * 2 + [int(Quality.GAP)] * 2
    assert result.points_read == 2 and result.error.startswith("pas de réponse")


def test_implausible_float_still_hinted(caplog):
    r = reader_of(SPEC)
    tables = {"holding": TABLES["holding"], "input": [0x3FC0, 0, 0x3FC0, 0]}  # f swapped: tiny
    with caplog.at_level("WARNING"):
        asyncio.run(r.read(FakeGateway(tables), 0))
    assert any("f : valeur flottante invraisemblable" in m for m in caplog.messages)
