"""A town's database from 0012 (before the building's Décret tertiaire fields) upgrades with
every row intact; the loader then fills the new fields and the download reads them; the
downgrade drops only the two columns."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import inspect

from carnet import db as carnet_db
from carnet.db import get_engine, session_scope
from carnet.models import Building
from carnet.portfolio import load_portfolio
from tests.helpers.backup_support import cli, read_tables
from tests.helpers.seed import seed_town

NEW = {"tertiaire_reference_year", "tertiaire_activity"}


def _columns(url: str) -> set[str]:
    engine = carnet_db.make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("building")}
    finally:
        engine.dispose()


def test_a_database_from_0012_upgrades_with_its_buildings(db_url):
    home = Path(os.environ["CARNET_HOME"])
    engine = get_engine(db_url)
    seed_town(engine)
    carnet_db.downgrade(engine, "0012")
    assert not NEW & _columns(db_url)
    before = read_tables(db_url)
    assert len(before["building"]) == 3 and len(before["reading"]) == 9

    carnet_db.reset_engines()
    upgraded = cli(home, db_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert _columns(db_url) >= NEW
    after = read_tables(db_url)
    for table, frame in before.items():
        if table != "alembic_version":
            assert after[table][frame.columns].equals(frame), table

    engine = get_engine(db_url)
    town = {
        "buildings": [
            {
                "code": "MAIRIE",
                "name": "Hôtel de ville",
                "tertiaire_reference_year": 2019,
                "tertiaire_activity": "Bureaux",
            }
        ]
    }
    with session_scope(engine) as s:
        load_portfolio(s, town, actor="test")
    with session_scope(engine) as s:
        mairie = s.query(Building).filter_by(code="MAIRIE").one()
        assert (mairie.tertiaire_reference_year, mairie.tertiaire_activity) == (2019, "Bureaux")
        assert mairie.heated_area_m2 == 1234.5  # what the file does not name stays

    carnet_db.downgrade(engine, "0012")
    assert not NEW & _columns(db_url)
    assert len(read_tables(db_url)["building"]) == 3
