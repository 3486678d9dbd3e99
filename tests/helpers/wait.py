"""Waiting in tests: poll a condition until a deadline, then fail saying what never happened;
never a fixed sleep standing for "it should be done by now", never a loop without an end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "", interval_s: float = 0.05
) -> T:
    """`predicate()`'s first truthy value, polled every `interval_s` for at most `timeout_s`
    (an exception it raises goes through). AssertionError naming `what` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:g} s in vain for {what or predicate!r}")
        time.sleep(interval_s)


def held(look: Callable[[], T], hold_s: float | Callable[[T], float]) -> Callable[[], T | None]:
    """A predicate for `until`: what `look()` returns once it has returned the same truthy
    value for `hold_s` seconds (a number, or a function of that value); a page drawn by
    callbacks is judged by time, not by a count of looks that depends on the interval."""
    seen: list = [None, 0.0]  # the value last seen, and since when

    def check() -> T | None:
        value, now = look(), time.monotonic()
        if not value or value != seen[0]:
            seen[:] = [value, now]
            return None
        need_s = hold_s(value) if callable(hold_s) else hold_s
        return value if now - seen[1] >= need_s else None

    return check


async def until_async(
    predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "", interval_s: float = 0.02
) -> T:
    """`until` inside an event loop: sleeps with `asyncio.sleep`, so the loop's tasks (a poller
    under test) keep running while it waits."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:g} s in vain for {what or predicate!r}")
        await asyncio.sleep(interval_s)
