"""Crash-consistent batches (issue 10 §5): `carnet import` killed at named stages (SIGKILL,
SIGTERM) leaves no batch `running` after the next command, readings and batch counts agree, and
the rerun accounts for every row; two imports of the same file at once give one batch of work
and one "already in progress" answer. Real processes, real databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, text

from carnet.models import ImportBatch
from ingest.importer import CHUNK_LINES, import_file
from tests.helpers.ingest_support import count, load_samples
from tests.helpers.wait import until

ROOT = Path(__file__).resolve().parent.parent
APP = "carnet-test-enfant"  # application_name of the child processes' PostgreSQL sessions
CODES = ("MAIRIE-CONSEIL-T", "JAURES-DEPART-T", "JAURES-RETOUR-T", "LESQUIN-T")


def _write(path: Path, per_channel: int) -> int:
    """A generic long file: 10-minute temperatures of 2023 on four channels."""
    stamps = pd.date_range("2023-01-01", periods=per_channel, freq="10min", tz="UTC")
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "channel": np.repeat(CODES, per_channel),
            "timestamp": np.tile(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), len(CODES)),
            "value": np.round(rng.normal(20.0, 1.0, per_channel * len(CODES)), 2),
        }
    )
    frame.to_csv(path, index=False)
    return len(frame)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """`big`: more lines than one read chunk, so that a kill `mid_write` falls between two
    chunks of one open transaction; `small`: one chunk, for the other stages."""
    folder = tmp_path_factory.mktemp("crash")
    big, small = folder / "releves_2023.csv", folder / "releves_court.csv"
    n_big = _write(big, CHUNK_LINES // len(CODES) + 2_000)
    assert n_big > CHUNK_LINES
    return {"big": (big, n_big), "small": (small, _write(small, 5_000))}


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _env(db_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARNET_TEST_")}
    env.update(
        CARNET_DATABASE_URL=db_url,
        CARNET_HOME=os.environ["CARNET_HOME"],
        PYTHONPATH=str(ROOT),
        PGAPPNAME=APP,
    )
    env.update(extra)
    return env


def _argv(*args: str) -> list[str]:
    code = "import sys; from carnet_cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _carnet(db_url: str, *args: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        _argv(*args),
        env=_env(db_url, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _spawn(db_url: str, *args: str, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        _argv(*args),
        env=_env(db_url, **extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _sessions_gone(db_url: str) -> None:
    """PostgreSQL: wait until the server has closed the dead child's session (and dropped
    its advisory locks with it); the kernel does the same for a file lock at once."""
    if not db_url.startswith("postgresql"):
        return
    admin = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def sessions_left() -> int:
        with admin.connect() as conn:
            return conn.execute(
                text("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = :a"),
                {"a": APP},
            ).scalar()

    try:
        until(lambda: not sessions_left(), 10, "la fermeture de la session du processus tué")
    finally:
        admin.dispose()


def _batches(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT id, status, rows_read, rows_inserted, rows_updated, rows_unchanged,"
                " host, pid, message FROM import_batch ORDER BY id"
            ),
            conn,
        )


def _assert_agreement(engine, n_rows: int | None = None) -> None:
    """No batch running; the readings are exactly those the ok/partial batches say they
    inserted; an interrupted batch holds none."""
    batches = _batches(engine)
    assert "running" not in set(batches["status"]), batches
    with engine.connect() as conn:
        per_batch = dict(
            conn.execute(text("SELECT batch_id, COUNT(*) FROM reading GROUP BY batch_id")).all()
        )
    done = batches[batches["status"].isin(["ok", "partial"])]
    assert sum(per_batch.values()) == int(done["rows_inserted"].sum())
    assert set(per_batch) <= set(done["id"])
    for row in done.itertuples():
        assert per_batch.get(row.id, 0) == row.rows_inserted + row.rows_updated
    if n_rows is not None:
        assert sum(per_batch.values()) == n_rows


SCENARIOS = [  # stage, signal, the next command, file
    ("batch_created", "KILL", "batches", "small"),
    ("mid_write", "KILL", "import", "big"),
    ("before_commit", "KILL", "batches", "big"),
    ("after_commit", "KILL", "import", "small"),
    ("mid_write", "TERM", "batches", "big"),
    ("before_commit", "TERM", "import", "small"),
]


@pytest.mark.parametrize(("stage", "sig", "next_command", "size"), SCENARIOS)
def test_killed_import_is_accounted_for(town, db_url, files, stage, sig, next_command, size):
    path, n = files[size]
    killed = _carnet(
        db_url,
        "import",
        str(path),
        "--json",
        CARNET_TEST_KILL_AT=stage,
        CARNET_TEST_KILL_SIGNAL=sig,
    )
    assert "Traceback" not in killed.stderr, killed.stderr
    if sig == "KILL":
        assert killed.returncode == -signal.SIGKILL
    else:  # SIGTERM stops the import cleanly: rolled back, its batch says so, exit 143
        assert killed.returncode == 128 + signal.SIGTERM
    _sessions_gone(db_url)
    [victim] = _batches(town).itertuples()
    assert victim.host == socket.gethostname() and victim.pid > 0
    committed = stage == "after_commit"
    if sig == "TERM":
        assert victim.status == "interrupted" and "signal d'arrêt" in victim.message
    else:
        assert victim.status == ("ok" if committed else "running")  # until someone looks

    if next_command == "batches":
        listing = _carnet(db_url, "batches", "--json")
        assert listing.returncode == 0, listing.stderr
        shown = {b["id"]: b for b in json.loads(listing.stdout)}[victim.id]
        assert (shown["status"], shown["status_fr"]) == ("interrupted", "interrompu")
        _assert_agreement(town)
        assert count(town, "reading") == 0

    rerun = _carnet(db_url, "import", str(path), "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)[0]
    assert report["rows_read"] == n
    if committed:  # the killed batch had finished: the rerun finds its rows unchanged
        assert (report["rows_unchanged"], report["previous_batch_id"]) == (n, victim.id)
        assert report["resumed_batch_ids"] == []
    else:
        assert (report["rows_inserted"], report["rows_unchanged"]) == (n, 0)
        assert report["resumed_batch_ids"] == [victim.id]
        assert f"Reprend le lot interrompu n° {victim.id}" in report["message"]
        after = _batches(town).set_index("id")
        assert after.at[victim.id, "status"] == "interrupted"
        assert f"repris par le lot n° {report['batch_id']}" in after.at[victim.id, "message"]
    _assert_agreement(town, n)


def _wait_for(path: Path, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    def reached() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"le processus s'est arrêté : {proc.communicate()}")
        return path.exists()

    until(reached, timeout_s, f"l'étape {path.name}")


def test_same_file_twice_at_once_one_works_the_other_says_in_progress(
    town, db_url, files, tmp_path
):
    path, n = files["small"]
    gate = tmp_path / "gate"
    first = _spawn(
        db_url,
        "import",
        str(path),
        "--json",
        CARNET_TEST_PAUSE_AT="mid_write",
        CARNET_TEST_PAUSE_FILE=str(gate),
    )
    try:
        _wait_for(Path(f"{gate}.reached"), first)
        [running] = _batches(town).itertuples()
        second = _carnet(db_url, "import", str(path), "--json")
        assert second.returncode == 3 and "Traceback" not in second.stderr, second.stderr
        answer = json.loads(second.stdout)[0]
        assert (answer["status"], answer["batch_id"]) == ("in_progress", None)
        assert answer["running_batch_id"] == running.id
        assert answer["message"].startswith(
            f"import déjà en cours (lot n° {running.id}, processus {first.pid} sur "
            f"{socket.gethostname()})"
        )
        table = _carnet(db_url, "import", str(path))  # the human summary says it too
        assert table.returncode == 3 and "déjà en cours" in table.stdout
        # a live batch stays running however long it takes: its lock says it is alive
        listing = _carnet(db_url, "batches", "--json")
        assert {b["id"]: b["status"] for b in json.loads(listing.stdout)} == {running.id: "running"}
        gate.touch()
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert json.loads(out)[0]["rows_inserted"] == n
    assert len(_batches(town)) == 1  # one batch of work, none for the answers
    _assert_agreement(town, n)


def test_a_paused_import_killed_from_outside_is_interrupted_by_the_next_command(
    town, db_url, files, tmp_path
):
    path, _ = files["small"]
    gate = tmp_path / "gate"
    proc = _spawn(
        db_url,
        "import",
        str(path),
        CARNET_TEST_PAUSE_AT="before_commit",
        CARNET_TEST_PAUSE_FILE=str(gate),
    )
    try:
        _wait_for(Path(f"{gate}.reached"), proc)
        listing = _carnet(db_url, "batches", "--json")
        assert [b["status"] for b in json.loads(listing.stdout)] == ["running"]
    finally:
        proc.kill()
        proc.communicate()
    _sessions_gone(db_url)
    listing = _carnet(db_url, "batches")
    assert listing.returncode == 0 and "interrompu" in listing.stdout
    _assert_agreement(town, 0)


def test_same_file_started_together_never_fails(town, db_url, tmp_path):
    """No pause: whichever wins, one batch inserts every row and the other either answers
    "in progress" or finds them unchanged; never a traceback or a unique violation."""
    path = tmp_path / "petit.csv"
    n = _write(path, 1500)
    procs = [_spawn(db_url, "import", str(path), "--json") for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert "Traceback" not in err and code in (0, 3), err
    reports = [json.loads(out)[0] for _, out, _ in results]
    assert sorted(r["rows_inserted"] for r in reports) == [0, n]
    loser = next(r for r in reports if r["rows_inserted"] == 0)
    assert loser["status"] == "in_progress" or loser["rows_unchanged"] == n
    _assert_agreement(town, n)


def test_an_old_running_batch_with_committed_readings_is_taken_over(town, tmp_path):
    """Before batches were crash-consistent a killed import could leave its readings committed
    under a `running` batch with 0 counts (no owner recorded): the next import of the file
    marks it interrupted, takes its readings over and counts them."""
    path = tmp_path / "ancien.csv"
    n = _write(path, 50)
    report = import_file(town, path)
    with town.begin() as conn:  # make it look like the old window: readings, batch running
        conn.execute(
            text(
                "UPDATE import_batch SET status = 'running', rows_read = 0, rows_inserted = 0,"
                " host = NULL, pid = NULL, message = NULL WHERE id = :b"
            ),
            {"b": report.batch_id},
        )
    assert count(town, "reading") == n
    again = import_file(town, path)
    assert again.status == "ok" and again.resumed_batch_ids == [report.batch_id]
    assert (again.rows_inserted, again.rows_unchanged) == (n, 0)
    old = _batches(town).set_index("id").loc[report.batch_id]
    assert old["status"] == "interrupted"
    assert f"repris par le lot n° {again.batch_id}" in old["message"]
    _assert_agreement(town, n)


def test_a_dead_batch_of_another_file_is_interrupted_by_any_import(town, tmp_path):
    with town.begin() as conn:
        dead = conn.execute(
            insert(ImportBatch.__table__)
            .values(source="autre.csv", origin="csv", status="running", host="h", pid=1)
            .returning(ImportBatch.__table__.c.id)
        ).scalar_one()
    path = tmp_path / "un.csv"
    _write(path, 10)
    report = import_file(town, path)
    batches = _batches(town).set_index("id")
    assert batches.at[dead, "status"] == "interrupted"
    assert "le processus 1 sur h s'est arrêté" in batches.at[dead, "message"]
    assert report.resumed_batch_ids == []  # not the same file: nothing to take over
