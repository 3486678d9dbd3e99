"""The notifications on a schedule, beside `carnet serve` or `carnet poll`: a daemon thread
running `carnet notify run` every N minutes (`--notify-every-min N`, `CARNET_NOTIFY_EVERY_MIN`).
Kept apart from `notify_cmd` so that `serve` and `poll` start without importing another
command's module until the schedule is asked for."""

from __future__ import annotations

import logging
import os
import threading

NOTIFY_EVERY_ENV = "CARNET_NOTIFY_EVERY_MIN"
log = logging.getLogger("carnet.notify")


def every_minutes(value: float | None) -> float | None:
    """The option, else `CARNET_NOTIFY_EVERY_MIN`; None or 0 = no schedule."""
    if value is None:
        raw = os.environ.get(NOTIFY_EVERY_ENV, "").strip()
        value = float(raw.replace(",", ".")) if raw else None
    return value if value and value > 0 else None


def add_schedule_option(parser) -> None:
    parser.add_argument(
        "--notify-every-min",
        type=float,
        metavar="N",
        help=f"lance `carnet notify run` toutes les N minutes (défaut : ${NOTIFY_EVERY_ENV})",
    )


def start_schedule(engine, minutes: float) -> tuple[threading.Thread, threading.Event]:
    """A daemon thread running `run_once` every `minutes`; an error is logged and the next
    round runs anyway. Set the returned event to stop it."""
    from carnet_cli.notify_cmd import run_once

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                r = run_once(engine)
                log.info(
                    "avis : %d créé(s), %d envoyé(s), %d échec(s)", r.created, r.sent, r.failed
                )
            except Exception:
                log.exception("avis : la tournée a échoué, nouvel essai dans %g min", minutes)
            stop.wait(minutes * 60)

    thread = threading.Thread(target=loop, name="carnet-notify", daemon=True)
    thread.start()
    return thread, stop
