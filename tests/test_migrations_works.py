"""A town's database from before the works programme (revision 0009) upgrades to head with
every row intact, and the upgraded record takes works, a subsidy and a users' screen; the
downgrade drops only the new tables."""

from __future__ import annotations

import json
import os
from pathlib import Path

from carnet import db as carnet_db
from carnet.db import get_engine, session_scope
from carnet.logbook import add_entry
from carnet.models import User
from tests.helpers.backup_support import cli, read_tables
from tests.helpers.carnet_web_seed import seed_carnet

WORKS_TABLES = {"works_project", "works_subsidy", "building_display"}


def test_a_database_from_0009_upgrades_with_its_data(db_url):
    home = Path(os.environ["CARNET_HOME"])
    engine = get_engine(db_url)
    seed_carnet(engine)
    with session_scope(engine) as s:
        agent = s.query(User).filter_by(login="agent").one()
        add_entry(s, agent, "MAIRIE", "observation", "Radiateur froid au 1er étage")
    carnet_db.downgrade(engine, "0009")
    assert carnet_db.current_revision(engine) == "0009"
    before = read_tables(db_url)
    assert not WORKS_TABLES & set(before)
    assert len(before["logbook_entry"]) == 1 and len(before["building"]) == 2

    carnet_db.reset_engines()
    upgraded = cli(home, db_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert carnet_db.current_revision(get_engine(db_url)) in carnet_db.head_revisions()
    after = read_tables(db_url)
    assert set(after) >= WORKS_TABLES
    for table, frame in before.items():
        if table != "alembic_version":
            assert after[table][list(frame.columns)].equals(frame), table  # + later columns

    made = cli(home, db_url, "works", "add", "--building", "MAIRIE", "--title", "Combles",
               "--from", "01/09/2025", "--cost-eur", "12 345,67", "--subsidy-eur", "2000",
               "--subsidy-scheme", "DSIL", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = cli(home, db_url, "works", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["cost_eur"], row["net_cost_eur"]) == (12345.67, 10345.67)
    assert row["subsidies"][0]["scheme"] == "DSIL"
    token = cli(home, db_url, "display", "token", "--building", "MAIRIE")
    assert token.returncode == 0 and token.stdout.startswith("/affichage/"), token.stderr
    usage = cli(home, db_url, "log", "add", "--building", "MAIRIE", "--kind", "usage",
                "--text", "Consigne 19 °C affichée")  # fmt: skip
    assert usage.returncode == 0, usage.stderr

    carnet_db.reset_engines()
    carnet_db.downgrade(get_engine(db_url), "0009")
    back = read_tables(db_url)
    assert not WORKS_TABLES & set(back)
    assert len(back["logbook_entry"]) == 2  # the usage entry stays: the kind is not a schema
