"""Turning raw 16-bit registers into engineering values, all points of a device at once.

Each point's registers are laid in one row of a (points x 4) matrix in wire order; word and
byte swaps, sign handling, "invalid" markers and scale/offset are then whole-array operations,
so a poll cycle costs a handful of numpy calls rather than a Python loop per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carnet.kinds import Quality
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
        take = np.where(self.swap_words[:, None] & (j < w), w - 1 - j, j)
        self.flat_take = (np.arange(len(self.points))[:, None] * 4 + take).reshape(-1)
        shift = np.where(j < w, 16 * (w - 1 - j), 0)
        self.shift = shift.astype(np.uint64)
        self.top = np.uint64(1) << (self.bits - np.uint64(1))
        self.span = 2.0 ** self.bits.astype(np.float64)
        self.twos_signed = self.is_signed & ~self.sign_magnitude
        self.any_byte_swap = bool(self.swap_bytes.any())
        self.any_word_swap = bool(self.swap_words.any())
        self.any_signed = bool(self.twos_signed.any())
        self.any_sign_magnitude = bool(self.sign_magnitude.any())
        self.any_float = bool((self.is_float32 | self.is_float64).any())
        self.any_float32 = bool(self.is_float32.any())
        self.any_float64 = bool(self.is_float64.any())
        # the float points, for the cheap test of `maybe_implausible` (Python lists: a device
        # has a handful, and numpy's fixed cost per call outweighs the arithmetic)
        self.float_idx = np.flatnonzero(self.is_float32 | self.is_float64)
        self.float_offset = self.offset[self.float_idx].tolist()
        self.float_scale = self.scale[self.float_idx].tolist()
        # precomputed so that a decode pays only for the steps the map needs
        self.top_twos = np.where(self.twos_signed, self.top, np.uint64(0)).astype(np.uint64)
        self.span_twos = np.where(self.twos_signed, self.span, 0.0)
        self.unit_scale = bool((self.scale == 1.0).all() and (self.offset == 0.0).all())

    def _floats(self, raw: np.ndarray, value: np.ndarray) -> np.ndarray:
        if self.any_float32:
            f32 = raw.astype(np.uint32).view(np.float32)  # the low 32 bits (a C cast)
            value = np.where(self.is_float32, f32, value)
        if self.any_float64:
            value = np.where(self.is_float64, raw.view(np.float64), value)
        return value

    def decode(self, regs: np.ndarray) -> Decoded:
        """`regs`: (points x 4) registers in wire order; columns past a point's width are 0."""
        regs = np.asarray(regs, dtype=np.uint64).reshape(-1)
        return self.decode_ordered(regs[self.flat_take] if self.any_word_swap else regs)

    def decode_ordered(self, regs: np.ndarray) -> Decoded:
        """`regs`: the (points x 4) registers already in word order (wire order with each
        point's words reversed where its word order swaps them), flat or not; a reader
        places and orders a read's registers with one index (`DeviceReader._set_blocks`).

        Steps a device's map does not need (swaps, signs, floats, scale) are skipped: a poll
        cycle decodes one device at a time, so the fixed cost of each numpy call is what counts.
        """
        regs = regs.reshape(len(self.points), 4)
        if self.any_byte_swap:
            swapped = ((regs & 0xFF) << 8) | (regs >> 8)
            regs = np.where(self.swap_bytes[:, None], swapped, regs)
        raw = (regs << self.shift).sum(axis=1, dtype=np.uint64)

        value = raw.astype(np.float64)
        if self.any_sign_magnitude:
            negative = (raw & self.top) != 0
            if self.any_signed:
                twos = value - np.where(negative, self.span, 0.0)
                value = np.where(self.twos_signed, twos, value)
            magnitude = (raw & (self.top - np.uint64(1))).astype(np.float64)
            signed_mag = np.where(negative, -magnitude, magnitude)
            value = np.where(self.sign_magnitude, signed_mag, value)
        elif self.any_signed:  # two's complement only: less 2**bits where the top bit is set
            value -= np.where((raw & self.top_twos) != 0, self.span_twos, 0.0)
        invalid = None
        if self.any_float:
            with np.errstate(invalid="ignore"):  # signalling NaNs are flagged just below
                value = self._floats(raw, value)
            invalid = ~np.isfinite(value)
        if len(self.invalid_idx):
            if invalid is None:
                invalid = np.zeros(len(value), dtype=bool)
            hit = raw[self.invalid_idx] == self.invalid_raw
            invalid[self.invalid_idx[hit]] = True
        if not self.unit_scale:
            # garbage float64 times a scale may overflow: it is flagged anyway
            with np.errstate(invalid="ignore", over="ignore"):
                value = value * self.scale + self.offset
        if invalid is not None and invalid.any():
            value[invalid] = np.nan
            quality = np.where(invalid, int(Quality.INVALID), int(Quality.MEASURED))
            quality = quality.astype(np.int64)
        else:
            quality = np.full(len(value), int(Quality.MEASURED), dtype=np.int64)
        return Decoded(value=value, quality=quality, raw=raw)

    def maybe_implausible(self, decoded: Decoded, read: np.ndarray | None = None) -> bool:
        """Whether `implausible_floats` can find anything: a float point read whose value is
        invalid, or whose magnitude as sent is tiny or huge. False for nearly every read of a
        sane device, at a fraction of that function's cost."""
        if not len(self.float_idx):
            return False
        values = decoded.value[self.float_idx].tolist()
        flags = decoded.quality[self.float_idx].tolist()
        was_read = [True] * len(values) if read is None else read[self.float_idx].tolist()
        for v, q, ok, off, sc in zip(values, flags, was_read, self.float_offset,
                                     self.float_scale, strict=True):  # fmt: skip
            if not ok:
                continue
            if q == Quality.INVALID or v != v:
                return True
            if sc == 0:
                return True
            m = abs((v - off) / sc)
            if (0 < m < IMPLAUSIBLE_TINY) or m > IMPLAUSIBLE_HUGE:
                return True
        return False


def decode_one(point: Point, registers: Sequence[int]) -> tuple[float, int]:
    """Convenience for one point: (value, quality)."""
    row = np.zeros((1, 4), dtype=np.uint64)
    row[0, : point.width] = registers[: point.width]
    out = DecodePlan([point]).decode(row)
    return float(out.value[0]), int(out.quality[0])


def implausible_floats(
    plan: DecodePlan,
    regs: np.ndarray,
    decoded: Decoded | None = None,
    read: np.ndarray | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(point key, hint) for floats that look like a word-order mistake, naming the orders
    that would look sane. Points in `skip` (already reported) are not examined again."""
    floats = plan.is_float32 | plan.is_float64
    if read is not None:
        floats = floats & read
    if not floats.any():
        return []
    regs = np.asarray(regs, dtype=np.uint64).reshape(len(plan.points), 4)
    decoded = decoded or plan.decode(regs)
    # the float as sent, before scale/offset; NaN compares False and is caught as INVALID
    magnitude = np.abs((decoded.value - plan.offset) / plan.scale)
    suspicious = floats & (
        ((magnitude > 0) & (magnitude < IMPLAUSIBLE_TINY))
        | (magnitude > IMPLAUSIBLE_HUGE)
        | (decoded.quality == int(Quality.INVALID))
    )
    if not suspicious.any():
        return []
    raw = decoded.raw
    # a raw value the map declares "invalid" is not a word-order mistake
    if len(plan.invalid_idx):
        declared = plan.invalid_idx[raw[plan.invalid_idx] == plan.invalid_raw]
        suspicious[declared] = False
    with np.errstate(invalid="ignore", over="ignore"):
        values = plan._floats(raw, np.zeros(len(raw)))
    hints = []
    for i in np.flatnonzero(suspicious):
        point = plan.points[i]
        if point.key in skip:
            continue
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
        hints.append((point.key, hint))
    return hints


def enum_label(point: Point, value: float) -> str | None:
    if not point.enum or not np.isfinite(value):
        return None
    return point.enum.get(int(round(value)))
