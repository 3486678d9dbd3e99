"""A free loopback port for a server of our own (the live demo's controllers), chosen below the
kernel's ephemeral range. A port found by binding port 0 comes from that range: once released,
the kernel may hand it to any outgoing connection of any process (a browser, a database
client) before our server binds it again, which a busy machine does within a second."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LINUX_EPHEMERAL = (32768, 60999)
LOWEST = 20000  # under it, the registered ports of other services


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of ports for outgoing connections (Linux; its default elsewhere)."""
    try:
        lo, hi = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return LINUX_EPHEMERAL
    return lo, hi


def free_port(host: str = "127.0.0.1", tries: int = 100) -> int:
    """A port nobody listens on now, drawn between `LOWEST` and the ephemeral range (only
    another server drawing the same way could take it first); a port of the ephemeral range
    when that one starts too low to leave room."""
    lo, _ = ephemeral_range()
    for _ in range(tries if lo - LOWEST >= 1000 else 0):
        port = random.randrange(LOWEST, lo)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
