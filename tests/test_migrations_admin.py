"""A town's database from before the administration (revision 0012) upgrades to head with
every row intact, and the upgraded record takes a one-time password link and a Modbus gateway; the
downgrade drops only the new tables."""

from __future__ import annotations

import os
from pathlib import Path

from carnet import db as carnet_db
from carnet.admin_passwords import issue_link, use_link
from carnet.db import get_engine, session_scope
from carnet.portfolio import load_portfolio
from carnet.portfolio_export import export_gateways
from tests.helpers.backup_support import cli, read_tables
from tests.helpers.browser import seed_users
from tests.helpers.seed import seed_town

NEW_TABLES = {"password_reset", "modbus_gateway", "modbus_device"}
GATEWAY = {"gateways": [{"code": "GW", "host": "10.0.0.2", "devices": [
    {"unit": 1, "map": "generic-boiler", "channels": {"outdoor_temp": "MAIRIE-T"}}]}]}  # fmt: skip


def test_a_database_from_0013_upgrades_with_its_data(db_url):
    home = Path(os.environ["CARNET_HOME"])
    engine = get_engine(db_url)
    seed_users(engine)
    seed_town(engine)
    carnet_db.downgrade(engine, "0013")
    assert carnet_db.current_revision(engine) == "0013"
    before = read_tables(db_url)
    assert not NEW_TABLES & set(before)
    assert len(before["app_user"]) == 5 and len(before["building"]) == 3

    carnet_db.reset_engines()
    upgraded = cli(home, db_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert carnet_db.current_revision(get_engine(db_url)) in carnet_db.head_revisions()
    after = read_tables(db_url)
    assert set(after) >= NEW_TABLES
    for table, frame in before.items():
        if table != "alembic_version":
            assert after[table][frame.columns].equals(frame), table  # later columns aside

    with session_scope(get_engine(db_url)) as s:
        token = issue_link(s, "finances", "gestionnaire").rsplit("/", 1)[1]
    with session_scope(get_engine(db_url)) as s:
        assert use_link(s, token, "un-secret-neuf", "un-secret-neuf") == "finances"
        load_portfolio(s, GATEWAY, actor="test")
    with session_scope(get_engine(db_url)) as s:
        assert export_gateways(s) == GATEWAY["gateways"]

    carnet_db.reset_engines()
    carnet_db.downgrade(get_engine(db_url), "0013")
    back = read_tables(db_url)
    assert not NEW_TABLES & set(back)
    assert len(back["app_user"]) == 5
