"""A town's database from before the retours d'expérience (the revision the rex migration
revises, found from the scripts, not written here) upgrades with every row intact, and the
upgraded record takes a retour d'expérience on its old logbook entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select

from carnet import db as carnet_db
from carnet.db import get_engine, session_scope
from carnet.models import LogbookEntry
from tests.helpers.backup_support import cli, read_tables
from tests.helpers.carnet_web_seed import seed_carnet
from tests.helpers.rex_town import incident

REX_TABLES = {"rex", "rex_link", "rex_account", "rex_decision"}


def before_rex() -> str:
    """The revision just before the one that creates the retours d'expérience."""
    cfg = Config()
    cfg.set_main_option("script_location", str(carnet_db.MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    (rex,) = [r for r in script.walk_revisions() if Path(r.path).name.endswith("_rex.py")]
    return rex.down_revision


def test_a_database_from_before_rex_upgrades_with_its_data(db_url):
    home = Path(os.environ["CARNET_HOME"])
    engine = get_engine(db_url)
    seed_carnet(engine)
    ids = incident(engine)
    at_head = read_tables(db_url)

    old = before_rex()
    carnet_db.downgrade(engine, old)
    assert carnet_db.current_revision(engine) == old
    before = read_tables(db_url)
    assert not REX_TABLES & set(before)
    # the tables of every later migration go with the downgrade too: compare those that stay
    assert {t: len(f) for t, f in before.items() if t != "alembic_version"} == {
        t: len(at_head[t]) for t in before if t != "alembic_version"
    }
    assert len(before["logbook_entry"]) == 4 and len(before["booking"]) == 1

    carnet_db.reset_engines()
    upgraded = cli(home, db_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    after = read_tables(db_url)
    assert set(after) >= REX_TABLES
    for table, frame in before.items():
        if table != "alembic_version":
            assert after[table][list(frame.columns)].equals(frame), table  # + later columns

    # the old entries take a retour d'expérience, in a new process, as the contractor
    made = cli(home, db_url, "rex", "add", "--building", "MAIRIE", "--title", "Concert froid",
               "--text", "14 °C", "--entry", str(ids["alarm"]), "--booking", str(ids["concert"]),
               "--author", "exploitant", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    rex_id = json.loads(made.stdout)["id"]
    told = cli(home, db_url, "rex", "account", str(rex_id), "--text", "Vu", "--author", "agent")
    assert told.returncode == 0, told.stderr
    listed = json.loads(cli(home, db_url, "rex", "list", "--json").stdout)
    assert [(r["id"], r["links"], r["accounts"]) for r in listed] == [(rex_id, 2, 1)]
    with session_scope(get_engine(db_url)) as s:
        assert s.scalar(select(LogbookEntry.text).where(LogbookEntry.id == ids["alarm"]))
