"""The vocabulary of readings and channels, without the database: the quality flag of a
reading and the kind of a channel (what its values mean)."""

from __future__ import annotations

import enum


class Quality(enum.IntEnum):
    """Quality flag of a reading. Order matters: a measured value outranks an estimate."""

    MEASURED = 0
    ESTIMATED = 1
    GAP = 2  # value is NULL: the source was asked and did not answer
    INVALID = 3  # the device said "invalid" (e.g. 0xFFFF); value NULL
    RESET = 4  # first reading of a new index (meter replaced): no difference across it


class ChannelKind(enum.StrEnum):
    INDEX = "index"
    INTERVAL = "interval"
    INSTANT = "instant"
