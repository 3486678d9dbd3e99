"""What a fresh interpreter loads: the CLI start-up tests count modules, not seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (which may exit)."""
    script = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('\\nMODULES=' + json.dumps(sorted(sys.modules))))\n"
        + code
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = done.stderr.rpartition("MODULES=")[2]
    return set(json.loads(line))
