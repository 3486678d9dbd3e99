"""A town still at schema 0001 (the demo, taken back to 0001 by the migrations' own
downgrade) upgrades to head with every row intact and settles to the cent as before; a backup
made at 0001 restores into an empty home and is migrated to head on the way.

On SQLite the downgrade runs with foreign keys off, as Alembic's batch mode requires (a table
is rebuilt by copy, drop and rename: with them on, dropping `import_batch` fails).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from carnet import db as carnet_db
from carnet.backup import database_counts
from carnet.config import data_dir
from carnet.restore import read_manifest
from tests.helpers.backup_support import Targets, cli, finance_json, read_tables, settle_json
from tests.helpers.demo_copy import copy_demo

CONTRACT = "CHAUFF-2024"
TODAY = dt.date(2026, 11, 25)
SETTLEMENTS = [("2025-2026", "30/06/2026"), ("2026-2027", "24/11/2026")]
MONTH = "2026-01"
ADDED_BY_0002 = {"quarantined_reading", "reading_overwrite", "closed_period", "regularisation"}


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(carnet_db.MIGRATIONS_DIR))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def downgrade(engine, revision: str) -> None:
    carnet_db.downgrade(engine, revision)


def import_indices(home: Path, url: str) -> None:
    """The price indices the demo contract's revised prices read: a 0001 schema (and its
    backup) has no place for them, so a town upgrading imports its index file again."""
    done = cli(home, url, "import", str(data_dir() / "samples" / "indices_fr.csv"))
    assert done.returncode == 0, done.stdout + done.stderr


def same_after_reimport(got: dict, expected: dict, schema: dict[str, list[str]]) -> None:
    """Every row of the 0001 schema as it was, one more batch (the index file imported again)
    and the same index values."""
    counts_got, counts_expected = counts(got), counts(expected)
    assert counts_got.pop("import_batch") == counts_expected.pop("import_batch") + 1
    assert counts_got == counts_expected
    same_rows(got, expected, {t: c for t, c in schema.items() if t != "import_batch"})
    cols = schema["import_batch"]
    batches = got["import_batch"][cols].sort_values("id").iloc[:-1].reset_index(drop=True)
    assert batches.equals(expected["import_batch"][cols].sort_values("id").reset_index(drop=True))
    keys = ["name", "month", "value"]
    indices = [
        f["price_index"][keys].sort_values(keys).reset_index(drop=True) for f in (got, expected)
    ]
    assert indices[0].equals(indices[1]) and len(indices[0])


def figures(home: Path, url: str) -> dict:
    """Every settlement the town's users look at: two seasons and a month's finance file."""
    out = {season: settle_json(home, url, CONTRACT, season, as_of) for season, as_of in SETTLEMENTS}
    out["finance"] = finance_json(home, url, CONTRACT, MONTH)
    return out


def columns(url: str) -> dict[str, list[str]]:
    engine = carnet_db.make_engine(url)
    try:
        insp = inspect(engine)
        return {t: [c["name"] for c in insp.get_columns(t)] for t in insp.get_table_names()}
    finally:
        engine.dispose()


def same_rows(got: dict, expected: dict, schema: dict[str, list[str]]) -> None:
    """Row by row on the columns of `schema` (those of 0001): what was there is there."""
    for table, cols in schema.items():
        if table == "alembic_version":
            continue
        left, right = got[table], expected[table]
        if list(left.columns) != cols or list(right.columns) != cols:  # else sorted already
            left = left[cols].sort_values(cols).reset_index(drop=True)
            right = right[cols].sort_values(cols).reset_index(drop=True)
        assert left.equals(right), table


def fault_episodes(tables: dict) -> int:
    """The poller's fault episodes in the logbook: the upgrade makes one alarm row of each."""
    logbook = tables["logbook_entry"]
    return int(((logbook["kind"] == "alarm") & (logbook["source"] == "poller")).sum())


# the demo's works programme: a 0001 database cannot hold it (the downgrade drops it)
WORKS_TABLES = {"works_project", "works_subsidy"}


def counts(tables: dict) -> dict[str, int]:
    """Row counts but the alarms', which the upgrade adds (see `fault_episodes`), and the
    works programme's, which the downgrade drops."""
    return {t: len(f) for t, f in tables.items() if t not in WORKS_TABLES | {"alarm"}}


@pytest.fixture
def targets(tmp_path, db_url):
    t = Targets(tmp_path, db_url)
    yield t
    t.close()


def test_a_0001_database_holding_the_demo_upgrades_to_head_intact(
    engine, db_url, tmp_path, targets
):
    home = Path(os.environ["CARNET_HOME"])
    copy_demo(db_url, today=TODAY)
    assert carnet_db.current_revision(engine) == head()
    at_head = read_tables(db_url)
    expected = figures(home, db_url)
    assert expected["2025-2026"]["buildings"] and expected["finance"]

    downgrade(engine, "0001")
    assert carnet_db.current_revision(engine) == "0001"
    old_schema = columns(db_url)
    assert not ADDED_BY_0002 & set(old_schema)
    assert "max_kw" not in old_schema["channel"] and "pid" not in old_schema["import_batch"]
    counts_0001 = database_counts(db_url)
    assert counts_0001 == {t: len(at_head[t]) for t in old_schema}
    assert counts_0001["reading"] > 1_000_000

    # a backup made at 0001 says so
    archive = tmp_path / "avant-mise-a-jour.carnet"
    made = cli(home, db_url, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    manifest = read_manifest(archive)
    assert manifest["schema_revision"] == "0001" and manifest["counts"] == counts_0001

    # the 0001 database upgrades in place: same rows, same figures
    carnet_db.reset_engines()
    upgraded = cli(home, db_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert carnet_db.current_revision(engine) == head()
    import_indices(home, db_url)
    after = read_tables(db_url)
    assert len(after["alarm"]) == fault_episodes(after)
    same_after_reimport(after, at_head, old_schema)
    assert figures(home, db_url) == expected

    # the 0001 backup restores into an empty home and is migrated to head
    target_home, target_url = targets.new("restauree")
    restored = cli(target_home, target_url, "restore", str(archive), "--json")
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert (report["revision_before"], report["revision_after"]) == ("0001", head())
    assert report["counts"] == counts_0001
    import_indices(target_home, target_url)
    got = read_tables(target_url)
    assert len(got["alarm"]) == fault_episodes(got)
    same_after_reimport(got, at_head, old_schema)
    assert figures(target_home, target_url) == expected
