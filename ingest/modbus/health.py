"""A Modbus device's health in one word, the same for `carnet poll`, its status line and the
devices page: a device that answers only exceptions gave us nothing, so it fails like a silent
one (backoff, failure count) and must never look « en ligne ».

The state of a round is decided by the poller (`PollResult.state`); what `device_status` keeps
is enough to tell it again afterwards (`stored_state`), without another column:
- `consecutive_failures > 0`: the last round read nothing; `last_error` starts with
  `REFUSED_PREFIX` when the device (or its gateway) answered with exceptions, otherwise it was
  silent (timeout, connection refused);
- no failure, but an error written by the round of the last contact (`last_error_at` not before
  `last_contact_at`, both set from the same instant): some blocks were refused, « partiel ».
"""

from __future__ import annotations

import datetime as dt

OK, PARTIAL, FAILING, SILENT = "ok", "partial", "failing", "silent"
LABELS = {OK: "en ligne", PARTIAL: "partiel", FAILING: "en échec", SILENT: "muet"}
# every error of a round that was answered with exceptions starts with this
REFUSED_PREFIX = "exception Modbus"


def round_state(points: int, points_read: int, refused_blocks: int) -> str:
    """The state of one round of reads of a device with `points` points."""
    if points_read >= points:
        return OK
    if points_read:
        return PARTIAL
    return FAILING if refused_blocks else SILENT


def stored_state(
    failures: int,
    last_contact_at: dt.datetime | None,
    last_error: str | None,
    last_error_at: dt.datetime | None,
) -> str:
    """The state of a device's last round, from its `device_status` row."""
    if failures:
        return FAILING if (last_error or "").startswith(REFUSED_PREFIX) else SILENT
    if last_contact_at is None:
        return SILENT
    if last_error and last_error_at is not None and last_error_at >= last_contact_at:
        return PARTIAL
    return OK
