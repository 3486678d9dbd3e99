"""`carnet backup` / `carnet restore`: one file, taken while an import and the poller write,
restores into an empty home a snapshot consistent to the row, which settles exactly like the
original; a home with data is not overwritten without --force; a damaged archive is refused.

Everything runs for real: the CLI in subprocesses, SQLite or PostgreSQL (CARNET_TEST_DATABASE_URL),
the poller's own writer (`ingest.modbus.writer.Writer`) in a thread, `carnet import` of a
generated file in another process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import threading
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from carnet import db as carnet_db
from carnet.attachments import add_attachment
from carnet.backup import MANIFEST, backup, database_counts, fr_int
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import User
from carnet.portfolio import load_portfolio
from carnet.restore import read_manifest
from carnet.timeutil import TZ_NAME, to_epoch
from tests.helpers.backup_support import (
    CARNET,
    SENTINEL,
    Targets,
    cli,
    finance_json,
    read_tables,
    settle_json,
)
from tests.helpers.wait import until

CONTRACT = "TEST-CONTRAT"
SEASON = "2025-2026"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
POLLER_YAML = "gateways: []\n"


def rows_not_in(rows: pd.DataFrame, pool: pd.DataFrame) -> pd.DataFrame:
    """Rows of `rows` found nowhere in `pool` (all columns compared)."""
    if rows.empty:
        return rows
    pool = pool.drop_duplicates()
    merged = rows.merge(pool, how="left", on=list(rows.columns), indicator=True)
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge")


# --- the town -------------------------------------------------------------------------------


def build_source(engine, home: Path) -> dict[str, int]:
    """The savings town (three buildings, two seasons of hourly gas, weather), an adjustment,
    two logbook attachments, the session key and a poller configuration; two more channels
    for the poller and the import. Returns channel code -> id."""
    from dashboards.app import secret_key
    from tests.helpers.browser import seed_users
    from tests.helpers.savings_town import build_town

    build_town(engine)
    seed_users(engine)
    extra = {"buildings": [{"code": "ECOLE-A", "name": "École Anatole-France", "channels": [
        {"code": "ECOLE-A-T", "quantity": "temp_indoor_c", "kind": "instant", "unit": "degC"},
        {"code": "SALLE-B-T", "quantity": "temp_indoor_c", "kind": "instant", "unit": "degC"},
    ]}]}  # fmt: skip
    from carnet.adjustments import add_adjustment
    from carnet.models import Channel

    with session_scope(engine) as s:
        load_portfolio(s, extra, actor="test")
        add_adjustment(
            s, CONTRACT, "ECOLE-A", dt.date(2026, 2, 1), "area_added",
            "Extension de 120 m² livrée", "gestionnaire", nb_factor=1.1,
        )  # fmt: skip
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        entry = add_entry(s, manager, "SALLE-B", "corrective", "Vanne trois voies remplacée")
        add_attachment(s, manager, entry, "vanne.png", PNG)
        add_attachment(s, manager, entry, "rapport.pdf", PDF)
        ids = dict(s.execute(select(Channel.code, Channel.id)).all())
    secret_key()
    (home / "poller.yaml").write_text(POLLER_YAML, encoding="utf-8")
    return ids


def write_import_file(path: Path, days: int) -> int:
    """`generic-long` minutes of an indoor temperature from 2019 on (no other data then), the
    same daily curve each day; returns the number of rows."""
    minutes = np.arange(1440)
    stamps = [f"{m // 60:02d}:{m % 60:02d}" for m in minutes]  # the template of one day
    values = np.char.mod("%.2f", np.round(20.0 + np.sin(minutes / 300.0), 2))
    day = "".join(f"SALLE-B-T,DAYT{t}:00+00:00,{v}\n" for t, v in zip(stamps, values, strict=True))
    first = dt.date(2019, 1, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("channel,timestamp,value\n")
        for k in range(days):
            fh.write(day.replace("DAY", (first + dt.timedelta(days=k)).isoformat()))
    return days * 1440


class PollerLoop(threading.Thread):
    """The poller's writer flushing one local day of quarter-hour indoor temperatures per
    batch, continuously, as `carnet poll` does after each poll cycle."""

    def __init__(self, url: str, channel_id: int, spool: Path):
        super().__init__(daemon=True)
        from ingest.modbus.writer import Writer

        self.writer = Writer(url, spool_dir=spool, source="GW-TEST")
        self.channel_id = channel_id
        self.stop = threading.Event()
        self.flushes: list[dict] = []  # start, end (monotonic), batch_id, written
        self.error: BaseException | None = None

    def frame(self, k: int) -> pd.DataFrame:
        day = pd.Timestamp(dt.date(2023, 1, 1) + dt.timedelta(days=k))
        start = day.tz_localize(TZ_NAME)
        end = (day + pd.Timedelta(days=1)).tz_localize(TZ_NAME)
        stamps = pd.date_range(start, end, freq="15min", inclusive="left")
        return pd.DataFrame({
            "channel_id": self.channel_id, "ts": to_epoch(stamps),
            "value": np.round(19.0 + (np.arange(len(stamps)) % 7) / 10 + k / 1000, 3),
            "quality": 0,
        })  # fmt: skip

    def run(self) -> None:
        k = 0
        try:
            while not self.stop.is_set():
                start = time.monotonic()
                report = self.writer.flush(self.frame(k), [], [])
                self.flushes.append({"start": start, "end": time.monotonic(),
                                     "batch_id": report.batch_id, "written": report.written})  # fmt: skip
                k += 1
                self.stop.wait(0.02)
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def batches(self, *, ended_before: float | None = None, started_after: float | None = None):
        out = set()
        for f in self.flushes:
            if not f["written"]:
                continue
            if ended_before is not None and f["end"] < ended_before:
                out.add(f["batch_id"])
            if started_after is not None and f["start"] > started_after:
                out.add(f["batch_id"])
        return out


def import_batch_status(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM import_batch WHERE origin = 'csv' ORDER BY id DESC LIMIT 1")
        ).scalar()


def same_home_files(source_home: Path, target_home: Path) -> None:
    """Attachments byte for byte, the secret key (0600) and the poller configuration."""
    src = {p.relative_to(source_home): p.read_bytes()
           for p in (source_home / "attachments").rglob("*") if p.is_file()}  # fmt: skip
    dst = {p.relative_to(target_home): p.read_bytes()
           for p in (target_home / "attachments").rglob("*") if p.is_file()}  # fmt: skip
    assert src == dst and len(src) == 2
    key = target_home / "secret_key"
    assert key.read_bytes() == (source_home / "secret_key").read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (target_home / "poller.yaml").read_text(encoding="utf-8") == POLLER_YAML


@pytest.fixture
def targets(tmp_path, db_url):
    t = Targets(tmp_path, db_url)
    yield t
    t.close()


# --- the tests ------------------------------------------------------------------------------


def test_backup_during_an_import_and_the_poller_restores_a_consistent_snapshot(
    engine, db_url, tmp_path, targets
):
    home = Path(os.environ["CARNET_HOME"])
    ids = build_source(engine, home)
    settled = settle_json(home, db_url, CONTRACT, SEASON, "30/06/2026")
    finance = finance_json(home, db_url, CONTRACT, "2026-01")
    import_file = tmp_path / "minutes.csv"
    n_import = write_import_file(import_file, 1500)  # two million rows: it runs for a while
    pre = read_tables(db_url)

    poller = PollerLoop(db_url, ids["ECOLE-A-T"], tmp_path / "spool")
    poller.start()
    env = dict(os.environ)
    importer = subprocess.Popen([CARNET, "import", str(import_file)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        until(
            lambda: len(poller.batches(ended_before=time.monotonic())) >= 3, 60, "3 poller flushes"
        )
        until(lambda: import_batch_status(engine) == "running", 60, "the import's batch running")
        archive = tmp_path / "sauvegardes" / "nuit.carnet"
        started = time.monotonic()
        done = cli(home, db_url, "backup", str(archive))
        ended = time.monotonic()
        assert done.returncode == 0, done.stderr
        assert "sauvegarde écrite" in done.stdout
        # that the snapshot was taken while the import was writing is checked on the copy
        # below: the import's batch in it is "running" and none of its readings are there
        until(
            lambda: len(poller.batches(started_after=ended)) >= 2,
            180,
            "2 poller flushes after the backup",
        )
    finally:
        poller.stop.set()
        poller.join(120)
        out, err = importer.communicate(timeout=300)
    assert poller.error is None, poller.error
    assert importer.returncode == 0, err
    assert import_batch_status(engine) == "ok"
    # the source as it ended, but for the million imported rows (counted, not compared: the
    # snapshot holds none of them, see below)
    imported = ids["SALLE-B-T"]
    post = read_tables(db_url, where={"reading": f"channel_id <> {imported}",
                                      "daily_rollup": f"channel_id <> {imported}"})  # fmt: skip
    with engine.connect() as conn:
        count = f"SELECT count(*) FROM reading WHERE channel_id = {imported}"
        assert conn.execute(text(count)).scalar() == n_import

    target_home, target_url = targets.new("restauree")
    restored = cli(target_home, target_url, "restore", str(archive), "--json")
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    manifest = read_manifest(archive)
    assert report["manifest"] == manifest
    got = read_tables(target_url)

    # the manifest's counts are the restored counts, table by table
    assert set(manifest["counts"]) == set(got) == set(pre)
    assert {t: len(f) for t, f in got.items()} == manifest["counts"] == report["counts"]
    # row by row: every restored row existed before or after (nothing invented or torn), and
    # every row there both before and after (committed before the backup, never touched since)
    # is restored
    (import_id,) = post["import_batch"].loc[
        post["import_batch"]["source"] == str(import_file), "id"
    ]
    for table, rows in got.items():
        if table == "data_version":  # bookkeeping: a restore draws a new epoch (checked below)
            assert rows["epoch"].tolist() != pre[table]["epoch"].tolist()
            continue
        if table == "import_batch":  # the import's row was caught mid-way: checked below
            rows = rows[rows["id"] != import_id]
        both = pre[table].merge(post[table], how="inner", on=list(rows.columns))
        assert rows_not_in(rows, pd.concat([pre[table], post[table]])).empty, table
        assert rows_not_in(both, got[table]).empty, table

    # a snapshot, never a torn batch: each batch of the copy has all of its readings or,
    # still running at that instant, none of them
    readings, batches = got["reading"], got["import_batch"]
    final = post["reading"]
    for batch_id, status in zip(batches["id"], batches["status"], strict=True):
        mine = readings[readings["batch_id"] == batch_id].reset_index(drop=True)
        theirs = final[final["batch_id"] == batch_id].reset_index(drop=True)
        if status == "running":
            assert mine.empty or mine.equals(theirs), batch_id
        else:
            assert mine.equals(theirs), (batch_id, status)
    orphans = set(readings["batch_id"]) - set(batches["id"]) - {SENTINEL}
    assert not orphans
    # what the poller committed before the backup began is there; what it began after the
    # backup had ended is not
    assert poller.batches(ended_before=started) <= set(batches["id"])
    assert not poller.batches(started_after=ended) & set(batches["id"])
    # the import was running when the snapshot was taken: its row as it was started, and
    # none of its readings (they commit with the batch's final counts, in one transaction)
    assert not (readings["channel_id"] == imported).any()
    assert not (got["daily_rollup"]["channel_id"] == imported).any()
    caught = batches[batches["id"] == import_id].iloc[0]
    finished = post["import_batch"].set_index("id").loc[import_id]
    assert caught["status"] == "running" and finished["status"] == "ok"
    assert caught["finished_at"] == "∅" and caught["rows_inserted"] == 0
    for col in ("source", "origin", "sha256", "started_at", "host", "pid"):
        assert caught[col] == finished[col], col
    # daily rollups follow the readings: one per local day the poller's batches cover
    channel = float(ids["ECOLE-A-T"])
    days_with_readings = {
        d for d in pd.to_datetime(readings.loc[readings["channel_id"] == channel, "ts"], unit="s",
                                  utc=True).dt.tz_convert(TZ_NAME).dt.date.astype(str)
    }  # fmt: skip
    rollups = got["daily_rollup"]
    assert set(rollups.loc[rollups["channel_id"] == channel, "day"]) == days_with_readings

    # the restored home settles and exports exactly like the original
    assert settle_json(target_home, target_url, CONTRACT, SEASON, "30/06/2026") == settled
    assert finance_json(target_home, target_url, CONTRACT, "2026-01") == finance
    same_home_files(home, target_home)


def test_manifest_names_version_revision_counts_and_checksums(engine, db_url, tmp_path):
    home = Path(os.environ["CARNET_HOME"])
    build_source(engine, home)
    result = backup(f"{tmp_path / 'out'}/")  # a directory: the dated default name
    assert result.path.parent == tmp_path / "out"
    assert result.path.name.startswith("carnet-") and result.path.suffix == ".carnet"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600  # it holds the secret key
    m = read_manifest(result.path)
    assert m == result.manifest
    assert m["schema_revision"] == carnet_db.current_revision(engine)
    assert m["database_kind"] == engine.dialect.name
    assert m["carnet_version"] == version("carnet")
    assert dt.datetime.fromisoformat(m["created_at"]).tzinfo is not None
    counts = {t: len(f) for t, f in read_tables(db_url).items()}
    assert m["counts"] == counts and counts["reading"] > 50_000
    assert m["attachments"] == 2 and m["secret_key"] is True and m["missing_attachments"] == []
    with tarfile.open(result.path, "r:*") as tar:
        names = tar.getnames()
        assert names[0] == MANIFEST
        for name in names[1:]:
            blob = tar.extractfile(name).read()
            assert m["members"][name] == {"size": len(blob),
                                          "sha256": hashlib.sha256(blob).hexdigest()}  # fmt: skip
    assert sorted(names[1:]) == sorted(m["members"])
    assert {"secret_key", "poller.yaml"} <= set(names)


def test_restore_refuses_a_home_with_data_unless_forced(engine, db_url, tmp_path, targets):
    home = Path(os.environ["CARNET_HOME"])
    build_source(engine, home)
    archive = tmp_path / "a.carnet"
    assert cli(home, db_url, "backup", str(archive)).returncode == 0

    # a migrated but empty database and an empty home are no data: restored without --force
    target_home, target_url = targets.new("cible")
    schema_only = carnet_db.make_engine(target_url)
    carnet_db.upgrade(schema_only)
    schema_only.dispose()
    assert cli(target_home, target_url, "restore", str(archive)).returncode == 0

    # now it holds a town: refused, saying what is there, nothing changed
    extra = carnet_db.make_engine(target_url)
    with extra.begin() as conn:
        conn.execute(text("INSERT INTO station (code, name) VALUES ('EN-PLUS', 'Ajoutée')"))
    extra.dispose()
    before = read_tables(target_url)
    refused = cli(target_home, target_url, "restore", str(archive))
    assert refused.returncode == 2
    message = refused.stderr
    assert "restauration refusée" in message and "--force" in message
    n_readings = len(before["reading"])
    assert f"{n_readings:,} relevés".replace(",", "\u00a0") in message  # NBSP thousands
    assert "2 pièce(s) jointe(s)" in message and "clé secrète" in message
    unchanged = read_tables(target_url)
    assert unchanged.keys() == before.keys()
    assert all(unchanged[t].equals(f) for t, f in before.items())

    # an empty database but attachments left in the home: refused too
    other_home, other_url = targets.new("pieces")
    (other_home / "attachments" / "X").mkdir(parents=True)
    (other_home / "attachments" / "X" / "photo.png").write_bytes(PNG)
    refused = cli(other_home, other_url, "restore", str(archive))
    assert refused.returncode == 2 and "1 pièce(s) jointe(s)" in refused.stderr

    # --force replaces it all: the added station is gone, the rest is the backup's
    forced = cli(target_home, target_url, "restore", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    after = read_tables(target_url)
    source = read_tables(db_url)
    assert after.keys() == source.keys()
    data = [t for t in source if t != "data_version"]  # a restore draws a new epoch
    assert all(after[t].equals(source[t]) for t in data)
    assert after["data_version"]["epoch"].tolist() != source["data_version"]["epoch"].tolist()
    assert not (after["station"]["code"] == "EN-PLUS").any()


def _rewrite(archive: Path, out: Path, change) -> None:
    """A copy of the archive whose members pass through `change(name, bytes) -> bytes`."""
    with tarfile.open(archive, "r:*") as src, tarfile.open(out, "w:gz") as dst:
        for info in src:
            blob = change(info.name, src.extractfile(info).read())
            info.size = len(blob)
            dst.addfile(info, io.BytesIO(blob))


def test_a_damaged_archive_is_refused_and_nothing_is_restored(engine, db_url, tmp_path, targets):
    home = Path(os.environ["CARNET_HOME"])
    build_source(engine, home)
    archive = tmp_path / "a.carnet"
    assert cli(home, db_url, "backup", str(archive)).returncode == 0
    manifest = read_manifest(archive)
    db_member = next(n for n in manifest["members"] if n.startswith("database/"))

    def flip(name, blob):  # one byte in the middle of the database, size unchanged
        if name != db_member:
            return blob
        middle = len(blob) // 2
        return blob[:middle] + bytes([blob[middle] ^ 0xFF]) + blob[middle + 1 :]

    damaged = tmp_path / "abimee.carnet"
    _rewrite(archive, damaged, flip)
    truncated = tmp_path / "tronquee.carnet"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    target_home, target_url = targets.new("cible")
    proc = cli(target_home, target_url, "restore", str(damaged))
    assert proc.returncode == 2
    assert "archive corrompue" in proc.stderr and "SHA-256" in proc.stderr
    assert db_member in proc.stderr and "rien n'a été restauré" in proc.stderr
    proc = cli(target_home, target_url, "restore", str(truncated))
    assert proc.returncode == 2 and "illisible ou tronquée" in proc.stderr
    not_a_backup = tmp_path / "notes.carnet"
    not_a_backup.write_text("ceci n'est pas une sauvegarde", encoding="utf-8")
    proc = cli(target_home, target_url, "restore", str(not_a_backup))
    assert proc.returncode == 2 and "n'est pas une sauvegarde Carnet" in proc.stderr
    # nothing was put in place, no staging left behind
    assert database_counts(target_url) == {}
    assert list(target_home.iterdir()) == []
    assert list(tmp_path.glob(".carnet-restauration-*")) == []
    # and the genuine archive still restores there
    assert cli(target_home, target_url, "restore", str(archive)).returncode == 0

    # members intact but a manifest whose counts are not those of its database: refused
    def recount(name, blob):
        if name != MANIFEST:
            return blob
        m = json.loads(blob)
        m["counts"]["reading"] += 1
        return json.dumps(m).encode("utf-8")

    miscounted = tmp_path / "compte-faux.carnet"
    _rewrite(archive, miscounted, recount)
    n = manifest["counts"]["reading"]
    other_home, other_url = targets.new("compte")
    proc = cli(other_home, other_url, "restore", str(miscounted))
    assert proc.returncode == 2
    assert "nombre de lignes différent du manifeste" in proc.stderr
    assert f"reading : {fr_int(n)} au lieu de {fr_int(n + 1)}" in proc.stderr


def test_backup_holds_committed_rows_still_in_the_wal(tmp_path, monkeypatch):
    """The finding: a file copy misses what the WAL holds; the online backup does not."""
    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'carnet.sqlite'}"
    monkeypatch.setenv("CARNET_HOME", str(home))
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    engine = carnet_db.make_engine(url)
    carnet_db.upgrade(engine)
    engine.dispose()
    writer = sqlite3.connect(tmp_path / "carnet.sqlite")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as while the app holds readers open
    writer.execute("INSERT INTO station (code, name) VALUES ('S', 'Station')")
    writer.execute("INSERT INTO channel (code, quantity, kind, unit, station_id) "
                   "VALUES ('S-T', 'temp_outdoor_c', 'instant', 'degC', 1)")  # fmt: skip
    n = 200_000
    writer.executemany(
        "INSERT INTO reading (channel_id, ts, value, quality) VALUES (1, ?, 20.5, 0)",
        ((1_700_000_000 + 60 * i,) for i in range(n)),
    )
    writer.commit()
    assert (tmp_path / "carnet.sqlite-wal").stat().st_size > 1_000_000
    plain = tmp_path / "copie.sqlite"
    shutil.copyfile(tmp_path / "carnet.sqlite", plain)
    with sqlite3.connect(plain) as copy:
        assert copy.execute("SELECT count(*) FROM reading").fetchone()[0] == 0
    result = backup(tmp_path / "b.carnet")
    writer.close()
    assert result.manifest["counts"]["reading"] == n
    target_home = tmp_path / "cible"
    target_url = f"sqlite:///{tmp_path / 'cible.sqlite'}"
    assert cli(target_home, target_url, "restore", str(result.path)).returncode == 0
    with sqlite3.connect(tmp_path / "cible.sqlite") as restored:
        assert restored.execute("SELECT count(*) FROM reading").fetchone()[0] == n


def test_backup_memory_is_bounded_whatever_the_database_size(engine, db_url, tmp_path):
    """Python's peak allocation while backing up a database over ten times that bound."""
    home = Path(os.environ["CARNET_HOME"])
    ids = build_source(engine, home)
    rng = np.random.default_rng(3)
    n = 1_500_000
    from carnet.store import write_readings

    write_readings(engine, pd.DataFrame({
        "channel_id": ids["SALLE-B-T"], "ts": 1_500_000_000 + 60 * np.arange(n),
        "value": np.round(rng.normal(20, 1, n), 2), "quality": 0,
    }))  # fmt: skip
    carnet_db.reset_engines()
    tracemalloc.start()
    try:
        result = backup(tmp_path / "b.carnet")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    member = next(v for k, v in result.manifest["members"].items() if k.startswith("database/"))
    assert result.manifest["counts"]["reading"] > n
    assert member["size"] > 40 * 2**20 or engine.dialect.name == "postgresql"
    assert peak < 4 * 2**20, f"peak {peak} bytes for a {member['size']} bytes database"


def test_postgresql_needs_pg_dump_and_restores_postgresql_only(engine, db_url, tmp_path, targets):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (CARNET_TEST_DATABASE_URL)")
    home = Path(os.environ["CARNET_HOME"])
    build_source(engine, home)
    proc = cli(
        home, db_url, "backup", str(tmp_path / "x.carnet"), env_extra={"PATH": "/nonexistent"}
    )
    assert proc.returncode == 2
    assert "pg_dump est introuvable" in proc.stderr and "client PostgreSQL" in proc.stderr
    assert not (tmp_path / "x.carnet").exists()
    # a SQLite backup is not restored into PostgreSQL, and the message says what to do
    lite_home, lite_url = tmp_path / "lite-home", f"sqlite:///{tmp_path / 'lite.sqlite'}"
    lite = carnet_db.make_engine(lite_url)
    carnet_db.upgrade(lite)
    lite.dispose()
    assert cli(lite_home, lite_url, "backup", str(tmp_path / "lite.carnet")).returncode == 0
    target_home, target_url = targets.new("pg")
    proc = cli(target_home, target_url, "restore", str(tmp_path / "lite.carnet"))
    assert proc.returncode == 2
    assert "base SQLite" in proc.stderr and "n'est pas pris en charge" in proc.stderr


def test_an_attachment_missing_on_disk_is_reported_and_exits_1(engine, db_url, tmp_path):
    home = Path(os.environ["CARNET_HOME"])
    build_source(engine, home)
    lost = next((home / "attachments").rglob("*.pdf"))
    lost.unlink()
    proc = cli(home, db_url, "backup", str(tmp_path / "b.carnet"), "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    rel = lost.relative_to(home).as_posix()
    assert out["manifest"]["missing_attachments"] == [rel]
    assert out["manifest"]["attachments"] == 1
    assert "attention : 1 pièce(s) jointe(s) inscrite(s) en base mais absente(s)" in proc.stderr
    assert rel in proc.stderr and out["warnings"] and (tmp_path / "b.carnet").exists()
