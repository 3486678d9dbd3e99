"""What the backup and the upgrade tests share: the CLI in its own process on a given home and
database, empty target databases of the test database's kind, and every table read back as
frames that compare row for row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import Boolean, Float, Integer, create_engine, inspect, text

from carnet import db as carnet_db
from carnet.partitions import PARTITION

CARNET = str(Path(sys.executable).with_name("carnet"))
SENTINEL = -1.2345e300  # NULL in numeric columns, so that merges match NULL with NULL


def cli(home: Path, url: str, *args: str, env_extra: dict | None = None):
    """`carnet ARGS` in its own process on the home and database given."""
    env = dict(os.environ, CARNET_HOME=str(home), CARNET_DATABASE_URL=url, **(env_extra or {}))
    return subprocess.run(
        [CARNET, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def settle_json(home: Path, url: str, contract: str, season: str, as_of: str) -> dict:
    proc = cli(home, url, "settle", "--contract", contract, "--season", season,
               "--as-of", as_of, "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def finance_json(home: Path, url: str, contract: str, month: str) -> list:
    proc = cli(home, url, "export", "finance", "--contract", contract, "--month", month, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class Targets:
    """Empty databases (SQLite files, or scratch PostgreSQL databases dropped at the end) of
    the same kind as the test database, each with an empty home."""

    def __init__(self, tmp_path: Path, source_url: str):
        self.tmp = tmp_path
        self.pg = source_url.startswith("postgresql")
        self.created: list[str] = []
        base = os.environ.get("CARNET_TEST_DATABASE_URL", "")
        self.admin = (
            create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
            if self.pg else None
        )  # fmt: skip
        self.base = base

    def new(self, name: str) -> tuple[Path, str]:
        home = self.tmp / f"{name}-home"
        home.mkdir()
        if not self.pg:
            return home, f"sqlite:///{self.tmp / f'{name}.sqlite'}"
        db_name = f"carnet_test_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        self.created.append(db_name)
        return home, f"{self.base.rpartition('/')[0]}/{db_name}"

    def close(self) -> None:
        carnet_db.reset_engines()
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _frame_of(conn, sql: str) -> pd.DataFrame:
    """The rows of `sql` from the driver's own cursor: a demo town's million readings cost
    twice as much through the engine's row objects (`pd.read_sql_query`)."""
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=names)
    finally:
        cur.close()


def read_tables(url: str, where: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Every table (rows filtered by `where[table]` if given), rows as comparable values:
    numbers as floats (NULL a sentinel), the rest as the driver's text (NULL "∅"), sorted by
    every column."""
    engine = carnet_db.make_engine(url)
    where = where or {}
    out = {}
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            for table in insp.get_table_names():
                if PARTITION.match(table):  # a month of `reading`, read through `reading`
                    continue
                cols = insp.get_columns(table)
                sql = f'SELECT * FROM "{table}"'
                if table in where:
                    sql += f" WHERE {where[table]}"
                frame = _frame_of(conn, sql)
                for col in cols:
                    name = col["name"]
                    if isinstance(col["type"], Integer | Float | Boolean):
                        values = frame[name]
                        if values.dtype.kind not in "biuf":  # mixed, None or Decimal
                            values = pd.to_numeric(values.astype(object), errors="raise")
                        frame[name] = values.astype("float64").fillna(SENTINEL)
                    else:
                        frame[name] = frame[name].astype(object).where(frame[name].notna(), "∅")
                        frame[name] = frame[name].astype(str)
                out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    finally:
        engine.dispose()
    return out
