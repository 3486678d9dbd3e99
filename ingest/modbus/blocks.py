"""Grouping points into as few block reads as the protocol allows.

On an RS-485 line every request costs a round trip of tens of milliseconds, so contiguous points
of one table are read together, up to the 125-register limit of function codes 3 and 4. A point
never straddles two blocks. Unused registers between points are only spanned when the map says
the device tolerates it (`max_gap`): many controllers answer "illegal address" for holes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.modbus.registers import Point

MAX_REGISTERS = 125  # Modbus limit for read holding/input registers


@dataclass(frozen=True)
class Block:
    table: str
    start: int
    count: int
    members: tuple[int, ...]  # indices into the device's point list

    @property
    def end(self) -> int:
        return self.start + self.count


def plan_blocks(
    points: Sequence[Point], max_gap: int = 0, max_registers: int = MAX_REGISTERS
) -> list[Block]:
    """Blocks per table in address order; each covers whole points only."""
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be within 1..{MAX_REGISTERS}")
    blocks: list[Block] = []
    for table in sorted({p.table for p in points}):
        members = sorted(
            (i for i, p in enumerate(points) if p.table == table), key=lambda i: points[i].address
        )
        start = end = None
        current: list[int] = []
        for i in members:
            p = points[i]
            fits = (
                start is not None
                and p.address - end <= max_gap
                and max(end, p.end) - start <= max_registers
            )
            if fits:
                current.append(i)
                end = max(end, p.end)
                continue
            if current:
                blocks.append(Block(table, start, end - start, tuple(current)))
            start, end, current = p.address, p.end, [i]
        if current:
            blocks.append(Block(table, start, end - start, tuple(current)))
    return blocks
