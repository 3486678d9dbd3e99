"""The bounded load test at a small size, so that it cannot rot and so that a page which fails
under concurrent use (an import, the poller and signed-in sessions at once) fails the suite:
`benchmarks/load.py` exits 1 on any HTTP error or lost reading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.xdist_group("load")
def test_a_short_load_run_serves_every_request_and_loses_no_reading(tmp_path):
    args = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--seconds", "6",
            "--requests", "400", "--sessions", "5", "--devices", "2",
            "--import-rows", "4000"]  # fmt: skip
    if os.environ.get("CARNET_TEST_DATABASE_URL", "").startswith("postgresql"):
        args.append("--postgres")
    env = {**os.environ, "CARNET_HOME": str(tmp_path)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-4000:]
    assert "erreurs : 0" in out and "mesures perdues : 0" in out and "import complet : oui" in out
    requests = int(out.split("requêtes : ")[1].split(",")[0])
    assert requests >= 5  # every session made at least one request
