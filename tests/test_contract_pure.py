"""`contract/` is a pure engine: every module imports with the database, web and record
layers made unimportable, so a figure never depends on how it was loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import pkgutil, sys
for name in ("sqlalchemy", "dash", "carnet", "flask"):
    sys.modules[name] = None  # importing it now raises ImportError
import contract
names = [contract.__name__]
for info in pkgutil.walk_packages(contract.__path__, "contract."):
    __import__(info.name)
    names.append(info.name)
ours = sorted(m for m in sys.modules if m == "carnet" or m.startswith("carnet."))
assert ours == ["carnet"], ours
print(len(names))
"""


def test_every_contract_module_imports_without_the_record():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 15  # the package and every module under it
