"""Turning raw 16-bit registers into engineering values, all points of a device at once.

Each point's registers are laid in one row of a (points x 4) matrix in wire order; word and
byte swaps, sign handling, "invalid" markers and scale/offset are then whole-array operations,
so a poll cycle costs a handful of numpy calls rather than a Python loop per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carnet.models import Quality
from ingest.modbus.registers import WORD_ORDERS, Point

# a float32/float64 this small or this large is almost always a word-order mistake
IMPLAUSIBLE_TINY = 1e-30
IMPLAUSIBLE_HUGE = 1e15


@dataclass
class Decoded:
    value: np.ndarray  # float64, NaN where there is no value
    quality: np.ndarray  # int64 Quality codes
    raw: np.ndarray  # uint64 raw unsigned integer after word ordering


class DecodePlan:
    """Per-point constants as arrays, built once per device."""

    def __init__(self, points: Sequence[Point]):
        self.points = list(points)
        n = len(self.points)
        self.width = np.array([p.width for p in self.points], dtype=np.int64)
        order = [p.word_order if p.width > 1 else "ABCD" for p in self.points]
        self.swap_words = np.array([o in ("CDAB", "DCBA") for o in order], dtype=bool)
        self.swap_bytes = np.array([o in ("BADC", "DCBA") for o in order], dtype=bool)
        kinds = np.array([p.type for p in self.points], dtype=object)
        self.is_float32 = kinds == "float32"
        self.is_float64 = kinds == "float64"
        self.is_signed = (kinds == "int16") | (kinds == "int32")
        self.sign_magnitude = np.array(
            [p.encoding == "sign_magnitude" for p in self.points], dtype=bool
        )
        self.bits = (16 * self.width).astype(np.uint64)
        self.scale = np.array([p.scale for p in self.points], dtype=np.float64)
        self.offset = np.array([p.offset for p in self.points], dtype=np.float64)
        inv = [(i, v) for i, p in enumerate(self.points) for v in p.invalid]
        self.invalid_idx = np.array([i for i, _ in inv], dtype=np.int64)
        self.invalid_raw = np.array([v for _, v in inv], dtype=np.uint64)
        # column j of a point's row holds register j, or register w-1-j when words are swapped
        j = np.arange(4)[None, :]
        w = self.width[:, None]
        self.take = np.where(self.swap_words[:, None] & (j < w), w - 1 - j, j)
        shift = np.where(j < w, 16 * (w - 1 - j), 0)
        self.shift = shift.astype(np.uint64)
        self.used = (j < w) & np.ones((n, 1), dtype=bool)

    def decode(self, regs: np.ndarray) -> Decoded:
        """`regs`: (points x 4) array of registers in wire order (unused columns ignored)."""
        regs = np.asarray(regs, dtype=np.uint64).reshape(len(self.points), 4)
        swapped = ((regs & 0xFF) << 8) | (regs >> 8)
        regs = np.where(self.swap_bytes[:, None], swapped, regs)
        regs = np.take_along_axis(regs, self.take, axis=1)
        raw = np.where(self.used, regs << self.shift, 0).sum(axis=1, dtype=np.uint64)

        value = raw.astype(np.float64)
        signed = self.is_signed & ~self.sign_magnitude
        top = np.uint64(1) << (self.bits - np.uint64(1))
        negative = (raw & top) != 0
        twos = raw.astype(np.float64) - np.where(negative, 2.0 ** self.bits.astype(np.float64), 0)
        value = np.where(signed, twos, value)
        magnitude = (raw & (top - np.uint64(1))).astype(np.float64)
        value = np.where(self.sign_magnitude, np.where(negative, -magnitude, magnitude), value)
        if self.is_float32.any():
            f32 = (raw & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.float32)
            value = np.where(self.is_float32, f32.astype(np.float64), value)
        if self.is_float64.any():
            value = np.where(self.is_float64, raw.view(np.float64), value)

        invalid = ~np.isfinite(value)
        if len(self.invalid_idx):
            hit = raw[self.invalid_idx] == self.invalid_raw
            invalid[self.invalid_idx[hit]] = True
        with np.errstate(invalid="ignore", over="ignore"):
            value = value * self.scale + self.offset
        value = np.where(invalid, np.nan, value)
        quality = np.where(invalid, int(Quality.INVALID), int(Quality.MEASURED)).astype(np.int64)
        return Decoded(value=value, quality=quality, raw=raw)


def decode_one(point: Point, registers: Sequence[int]) -> tuple[float, int]:
    """Convenience for one point: (value, quality)."""
    row = np.zeros((1, 4), dtype=np.uint64)
    row[0, : point.width] = registers[: point.width]
    out = DecodePlan([point]).decode(row)
    return float(out.value[0]), int(out.quality[0])


def implausible_floats(plan: DecodePlan, regs: np.ndarray) -> list[str]:
    """Hints for floats that look like a word-order mistake, naming the orders that look sane."""
    regs = np.asarray(regs, dtype=np.uint64).reshape(len(plan.points), 4)
    raw_values = plan.decode(regs).value
    values = (raw_values - plan.offset) / plan.scale
    suspicious = (plan.is_float32 | plan.is_float64) & (
        ~np.isfinite(values)
        | ((np.abs(values) > 0) & (np.abs(values) < IMPLAUSIBLE_TINY))
        | (np.abs(values) > IMPLAUSIBLE_HUGE)
    )
    # the INVALID marker also sends a value to NaN: a declared invalid raw is not a hint
    if len(plan.invalid_idx):
        raw = plan.decode(regs).raw
        declared = plan.invalid_idx[raw[plan.invalid_idx] == plan.invalid_raw]
        suspicious[declared] = False
    hints = []
    for i in np.flatnonzero(suspicious):
        point = plan.points[i]
        alternatives = []
        for order in WORD_ORDERS:
            if order == point.word_order:
                continue
            trial = Point(key=point.key, table=point.table, address=point.address,
                          type=point.type, word_order=order)  # fmt: skip
            v, _q = decode_one(trial, [int(r) for r in regs[i, : point.width]])
            if np.isfinite(v) and (v == 0 or IMPLAUSIBLE_TINY <= abs(v) <= IMPLAUSIBLE_HUGE):
                alternatives.append(f"{order} donnerait {v:.6g}")
        hint = (
            f"{point.key} : valeur flottante invraisemblable ({values[i]:.6g}) avec l'ordre"
            f" {point.word_order} ; l'ordre des mots (word_order) est peut-être faux"
        )
        if alternatives:
            hint += " (" + ", ".join(alternatives) + ")"
        hints.append(hint)
    return hints


def enum_label(point: Point, value: float) -> str | None:
    if not point.enum or not np.isfinite(value):
        return None
    return point.enum.get(int(round(value)))
