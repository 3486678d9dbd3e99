"""Start-up shares one decode plan and block layout between the devices of a model, and the
read path skips the word-order diagnosis when no float can be implausible: neither may change
what a device reads or reports."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.modbus.blocks import Block
from ingest.modbus.config import BoundDevice, DeviceConfig
from ingest.modbus.decode import DecodePlan, implausible_floats
from ingest.modbus.device_reader import DeviceReader
from ingest.modbus.registers import WORD_ORDERS, parse_map

MAP = parse_map(
    {"model": "m", "points": [
        {"key": "t", "table": "holding", "address": 0, "type": "int16", "scale": 0.1},
        {"key": "f", "table": "holding", "address": 1, "type": "float32", "word_order": "CDAB"},
        {"key": "g", "table": "holding", "address": 3, "type": "float32", "scale": 2.0,
         "offset": -1.0},
        {"key": "d", "table": "input", "address": 0, "type": "float64", "word_order": "DCBA"},
    ]},
    "test",
)  # fmt: skip


def _bound(unit: int) -> BoundDevice:
    cfg = DeviceConfig(unit=unit, map=MAP, poll_s=60, channels={"t": "T", "f": "F"})
    return BoundDevice("GW", cfg, {"t": 10 * unit, "f": 10 * unit + 1}, None, None)


def test_devices_of_a_model_share_a_plan_and_a_split_stays_their_own():
    a, b = DeviceReader(_bound(1)), DeviceReader(_bound(2))
    assert a.plan is b.plan and a.blocks == b.blocks
    a._split_block(0)  # a hole in device 1's map: read point by point from now on
    assert [blk.count for blk in a.blocks] == [1, 2]
    assert [blk.count for blk in b.blocks] == [3]  # device 2 and the shared plan unchanged
    assert DeviceReader(_bound(3)).blocks == [Block("holding", 0, 3, (0, 1))]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.integers(0, 0xFFFF), min_size=10, max_size=10),
    read=st.lists(st.booleans(), min_size=4, max_size=4),
    order=st.sampled_from(WORD_ORDERS),
)
def test_the_cheap_test_never_misses_an_implausible_float(words, read, order):
    points = [replace(p, word_order=order) if p.key == "f" else p for p in MAP.points]
    plan = DecodePlan(points)
    regs = np.zeros((4, 4), dtype=np.uint64)
    regs[0, 0] = words[0]
    regs[1, :2] = words[1:3]
    regs[2, :2] = words[3:5]
    regs[3, :4] = words[5:9]
    decoded = plan.decode(regs)
    ok = np.array(read)
    hints = implausible_floats(plan, regs, decoded, ok)
    if hints:
        assert plan.maybe_implausible(decoded, ok)
    if not plan.maybe_implausible(decoded, ok):
        assert implausible_floats(plan, regs, decoded, ok) == []
