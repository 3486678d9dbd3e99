"""Migrations build the schema from empty, and the models and migrations agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from carnet import db
from carnet.models import Base
from carnet.partitions import include_object, is_partitioned
from carnet_cli.main import main


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_upgrade_from_empty_via_cli(db_url, capsys):
    engine = db.make_engine(db_url)
    assert db.table_names(engine) == []
    assert main(["db", "upgrade"]) == 0
    assert "schéma à jour" in capsys.readouterr().out
    assert db.current_revision(engine) == _head()
    tables = set(db.table_names(engine))
    assert {"reading", "daily_rollup", "building", "channel", "logbook_entry", "booking"} <= tables
    assert main(["db", "upgrade"]) == 0  # a second upgrade is a no-op
    engine.dispose()


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        opts = {"include_object": include_object(is_partitioned(conn))}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == [], f"models differ from migrations: add a migration (0003, ...): {diff}"
