"""The `carnet` CLI run in the test's own process, its output captured."""

from __future__ import annotations

from carnet_cli.main import main


def run(capsys, *argv) -> tuple[int, str]:
    """`carnet ARGV`: its exit status and what it wrote (stdout then stderr)."""
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out + out.err
