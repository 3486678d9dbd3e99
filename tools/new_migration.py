"""Write the next Alembic migration from the difference between the models and the head schema.

Usage: .venv/bin/python tools/new_migration.py "what changes"
Migrations are added, never regenerated: a town's database upgrades with its data.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from carnet.db import MIGRATIONS_DIR, make_engine, upgrade

message = sys.argv[1] if len(sys.argv) > 1 else "schema change"
cfg = Config()
cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
head = ScriptDirectory.from_config(cfg).get_current_head()
rev_id = f"{int(head) + 1:04d}"
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'head.sqlite'}")
    upgrade(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
target = next((MIGRATIONS_DIR / "versions").glob(f"{rev_id}_*.py"))
target.write_text("\n".join(line.rstrip() for line in target.read_text().splitlines()) + "\n")
ruff = Path(sys.executable).with_name("ruff")
subprocess.run([str(ruff), "check", "--fix", "-q", str(target)], check=False)
subprocess.run([str(ruff), "format", "-q", str(target)], check=False)
print(f"wrote {target}")
