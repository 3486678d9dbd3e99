"""The live demo's servers listen on ports no outgoing connection can hold: a port of the
ephemeral range, released after a probe, was once taken by another process's connection
before the demo's controller bound it (« address already in use »)."""

from __future__ import annotations

import socket

from carnet_cli import ports


def test_a_free_port_lies_below_the_ephemeral_range_and_can_be_bound():
    lo, _ = ports.ephemeral_range()
    drawn = {ports.free_port() for _ in range(20)}
    assert all(ports.LOWEST <= p < lo for p in drawn)
    assert len(drawn) > 1  # drawn, not always the same one
    with socket.socket() as s:
        s.bind(("127.0.0.1", drawn.pop()))


def test_a_port_already_listened_on_is_never_drawn(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            other = probe.getsockname()[1]
        # the draw falls twice on the port taken, then on a free one
        draws = iter([port, port, other])
        monkeypatch.setattr(ports.random, "randrange", lambda a, b: next(draws))
        assert ports.free_port() == other


def test_an_ephemeral_range_starting_too_low_falls_back_to_the_kernels_choice(monkeypatch):
    kernel_lo, kernel_hi = ports.ephemeral_range()
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (ports.LOWEST + 10, 60999))
    port = ports.free_port()
    assert kernel_lo <= port <= kernel_hi  # bound to port 0: the kernel chose it
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
