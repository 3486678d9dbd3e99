"""The `carnet` CLI run in the test's own process, its output captured."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from carnet_cli.main import main


def run(capsys, *argv) -> tuple[int, str]:
    """`carnet ARGV`: its exit status and what it wrote (stdout then stderr)."""
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out + out.err


def settle_json(*args: str) -> dict:
    """`carnet settle ARGS --json`, parsed."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["settle", *args, "--json"]) == 0
    return json.loads(out.getvalue())
