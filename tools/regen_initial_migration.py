"""Regenerate migration 0001 from the models (allowed only until the first release).

Usage: .venv/bin/python tools/regen_initial_migration.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from carnet.db import MIGRATIONS_DIR, make_engine

target = MIGRATIONS_DIR / "versions" / "0001_initial.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.sqlite'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
generated = next((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
generated.rename(target)
target.write_text("\n".join(line.rstrip() for line in target.read_text().splitlines()) + "\n")
ruff = Path(sys.executable).with_name("ruff")
subprocess.run([str(ruff), "check", "--fix", "-q", str(target)], check=False)
subprocess.run([str(ruff), "format", "-q", str(target)], check=False)
print(f"wrote {target}")
