"""Import speed into a table already holding millions of readings: `carnet import` against the
strongest raw path of the same database.

One scratch database (a SQLite file, or a PostgreSQL database created on the server of
`--database-url`, or with `--postgres` of `CARNET_TEST_DATABASE_URL`, and dropped after),
migrated (on PostgreSQL `reading` is partitioned by month). It is filled first with
`existing_rows` hourly readings of 240 channels (`--quick`: 2 M, else 10 M, or `--existing N`),
then analysed. Then, on that table, two writers each append the same N readings (10-minute
steps) after the history of 12 channels of their own:
- ours: `ingest.importer.import_file` of a generic long CSV (`channel,timestamp,value`, ISO
  8601 with the Paris offset): sniffing, chunked parsing, validation, plausibility, upsert with
  its counts, daily rollups, batch accounting, in one transaction;
- the baseline, the same rows already in memory: on SQLite the faster of a multi-row VALUES
  INSERT (1,000 rows a statement) and an `executemany` of one-row INSERTs, on PostgreSQL a
  COPY from a CSV buffer built beforehand; one transaction, same table, same indexes.
`--repeat` rounds (5) of both, each round on channels of its own and the two measured one
after the other: on a machine whose speed moves from one second to the next, one round's
figures say little, the median of the rounds' ratios says how the two compare.
Prints the database, `existing_rows=N`, the size of `reading`, each round, the median rates,
and last `ratio=R` = ours / baseline, median of the rounds (higher is better; target >= 0.5).

    python benchmarks/bench_import.py [--quick] [--rows N] [--existing N] [--repeat R] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from carnet import db, partitions
from carnet.db import session_scope
from carnet.models import Building, Channel
from carnet.timeutil import TZ_NAME
from ingest.importer import import_file

HISTORY_CHANNELS = 240  # 12 for ours, 12 for the baseline, the rest only history
WRITERS = 12
HISTORY_START = pd.Timestamp("2021-01-01", tz="UTC")  # earlier when the data would reach today
ROWS_PER_INSERT = 1000


def scratch_database(base_url: str | None, workdir: Path) -> tuple[str, object]:
    """A new empty database URL and the callable that drops it."""
    if not base_url:
        return f"sqlite:///{workdir / 'bench.sqlite'}", lambda: None
    admin = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"carnet_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        db.reset_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base_url.rpartition('/')[0]}/{name}", drop


def prepare(url: str):
    engine = db.get_engine(url)
    with session_scope(engine) as s:
        b = Building(code="BENCH", name="Banc d'essai")
        s.add(b)
        s.flush()
        for i in range(HISTORY_CHANNELS):
            s.add(Channel(code=f"BAT{i:03d}-T", building_id=b.id, quantity="temp_indoor_c",
                          kind="instant", unit="degC"))  # fmt: skip
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM channel ORDER BY id")).all())
    return engine, ids


def bulk_write(conn, frame: pd.DataFrame) -> None:
    """The raw paths: COPY from a buffer on PostgreSQL, multi-row VALUES on SQLite."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False)
        with raw.cursor() as cur, cur.copy(
            "COPY reading (channel_id, ts, value, quality) FROM STDIN (FORMAT csv)"
        ) as copy:  # fmt: skip
            copy.write(buf.getvalue())
        return
    multi_row_values(raw, frame.to_numpy(dtype=object))


def multi_row_values(raw, flat: np.ndarray) -> None:
    sql = "INSERT INTO reading (channel_id, ts, value, quality) VALUES "
    full = len(flat) // ROWS_PER_INSERT * ROWS_PER_INSERT
    if full:
        raw.executemany(sql + ",".join(["(?, ?, ?, ?)"] * ROWS_PER_INSERT),
                        flat[:full].reshape(-1, ROWS_PER_INSERT * 4).tolist())  # fmt: skip
    if len(flat) > full:
        raw.execute(
            sql + ",".join(["(?, ?, ?, ?)"] * (len(flat) - full)), flat[full:].ravel().tolist()
        )


def history_start(existing: int, n_rows: int) -> pd.Timestamp:
    """Where the history begins: 01/01/2021, or earlier when the history and the imported rows
    (10-minute steps after it) would otherwise reach today and be held as « dans le futur »."""
    span = pd.Timedelta(hours=max(existing // HISTORY_CHANNELS, 1)) + pd.Timedelta(
        minutes=10 * (n_rows // WRITERS)
    )
    latest = (pd.Timestamp.now(tz="UTC") - span - pd.Timedelta(days=2)).floor("D")
    return min(HISTORY_START, latest)


def fill_history(engine, ids: dict[str, int], n_rows: int, start: pd.Timestamp) -> pd.Timestamp:
    """`n_rows` hourly readings spread over every channel; returns where the history ends."""
    per = max(n_rows // HISTORY_CHANNELS, 1)
    ts = start.value // 10**9 + 3600 * np.arange(per, dtype="int64")
    rng = np.random.default_rng(3)
    with engine.begin() as conn:
        if n_rows:
            partitions.ensure_for(conn, ts)
            for cid in ids.values():  # one channel at a time: bounded memory at 10 M
                bulk_write(conn, pd.DataFrame({"channel_id": cid, "ts": ts,
                                               "value": np.round(rng.normal(19, 2, per), 2),
                                               "quality": 0}))  # fmt: skip
    with engine.connect() as conn:
        conn.execute(text("ANALYZE reading" if engine.dialect.name == "postgresql" else "ANALYZE"))
        conn.commit()
    return start + pd.Timedelta(hours=per if n_rows else 0)


def generate(path: Path, codes: list[str], n_rows: int, start: pd.Timestamp) -> pd.DataFrame:
    """The file of `codes`, and its rows as (code, ts, value)."""
    per = n_rows // len(codes)
    times = pd.date_range(start.tz_convert(TZ_NAME), periods=per, freq="10min")
    stamps = times.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d\d)$", r":\1", regex=True)
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"channel": np.repeat(codes, per),
                          "timestamp": np.tile(np.asarray(stamps), len(codes)),
                          "value": np.round(rng.normal(19.0, 2.0, per * len(codes)), 2)})  # fmt: skip
    frame.to_csv(path, index=False)
    frame["ts"] = np.tile(times.tz_convert("UTC").as_unit("s").asi8, len(codes))
    return frame


def baseline(engine, frame: pd.DataFrame) -> tuple[float, str]:
    """Seconds of the strongest raw write of `frame` (columns of `reading`), and its name."""
    with engine.begin() as conn:  # partitions are the schema's business, not the timed write
        partitions.ensure_for(conn, frame["ts"].to_numpy())
    if engine.dialect.name == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False)
        data = buf.getvalue()
        gc.collect()  # a collection owed to the preparation is not the timed write's
        t = time.perf_counter()
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                "COPY reading (channel_id, ts, value, quality) FROM STDIN (FORMAT csv)"
            ) as copy:  # fmt: skip
                copy.write(data)
        return time.perf_counter() - t, "COPY depuis un tampon CSV préparé"
    # each SQLite path writes half the channels (same table) and is scaled to the whole
    flat = frame.to_numpy(dtype=object)
    even = frame["channel_id"].isin(frame["channel_id"].unique()[::2]).to_numpy()
    one, multi = flat[even], flat[~even]
    gc.collect()  # the 960 000 objects just made would be collected inside the timed write
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.connection.driver_connection.executemany(
            "INSERT INTO reading (channel_id, ts, value, quality) VALUES (?, ?, ?, ?)", one.tolist()
        )
    single_s = (time.perf_counter() - t) * len(frame) / max(len(one), 1)
    gc.collect()
    t = time.perf_counter()
    with engine.begin() as conn:
        multi_row_values(conn.connection.driver_connection, multi)
    multi_s = (time.perf_counter() - t) * len(frame) / max(len(multi), 1)
    print(f"  executemany une ligne   : {len(frame) / single_s:12,.0f} lignes/s")
    print(f"  VALUES multi-lignes     : {len(frame) / multi_s:12,.0f} lignes/s")
    if multi_s <= single_s:
        return multi_s, "INSERT VALUES multi-lignes (1 000 par instruction)"
    return single_s, "executemany d'INSERT d'une ligne"


def table_size(engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            size = conn.execute(text(
                "SELECT COALESCE(SUM(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i"
                " WHERE i.inhparent = 'reading'::regclass"
            )).scalar() or conn.execute(text("SELECT pg_total_relation_size('reading')")).scalar()  # fmt: skip
        else:
            size = (
                conn.execute(text("PRAGMA page_count")).scalar()
                * conn.execute(text("PRAGMA page_size")).scalar()
            )
        n = conn.execute(text("SELECT COUNT(*) FROM reading")).scalar()
    return f"{n:,} relevés, {size / 2**20:,.0f} Mio (index compris)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 M existing rows, 240,000 imported")
    parser.add_argument("--rows", type=int, default=None, help="rows imported (each writer)")
    parser.add_argument("--existing", type=int, default=None, help="readings already stored")
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds (reference then import, each on channels of its own)")  # fmt: skip
    parser.add_argument("--database-url", default=None,
                        help="postgresql://... server for a scratch database (default: SQLite)")  # fmt: skip
    parser.add_argument("--postgres", action="store_true",
                        help="the server of CARNET_TEST_DATABASE_URL (as the other benchmarks)")  # fmt: skip
    args = parser.parse_args()
    if args.postgres and not args.database_url:  # SQLite unless asked: `make bench` runs both
        args.database_url = os.environ.get("CARNET_TEST_DATABASE_URL")
        if not args.database_url:
            raise SystemExit("--postgres : CARNET_TEST_DATABASE_URL n'est pas défini")
    existing = (
        args.existing if args.existing is not None else (2_000_000 if args.quick else 10_000_000)
    )
    n_rows = args.rows or (240_000 if args.quick else 1_200_000)
    if not 1 <= args.repeat <= HISTORY_CHANNELS // (2 * WRITERS):
        raise SystemExit(f"--repeat : de 1 à {HISTORY_CHANNELS // (2 * WRITERS)} tours")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url, drop = scratch_database(args.database_url, work)
        try:
            engine, ids = prepare(url)
            kind = engine.dialect.name
            t = time.perf_counter()
            end = fill_history(engine, ids, existing, history_start(existing, n_rows))
            print(f"base : {kind} ; historique de {existing:,} relevés écrit en "
                  f"{time.perf_counter() - t:.1f} s")  # fmt: skip
            codes = list(ids)
            print(f"table reading avant : {table_size(engine)}")
            rounds = []
            for k in range(args.repeat):  # each round on channels of its own, in turn
                ours_codes = codes[2 * WRITERS * k : 2 * WRITERS * k + WRITERS]
                raw_codes = codes[2 * WRITERS * k + WRITERS : 2 * WRITERS * (k + 1)]
                csv_path = work / f"releves-{k + 1}.csv"
                rows = generate(csv_path, ours_codes, n_rows, end)
                raw_frame = pd.DataFrame({
                    "channel_id": rows["channel"].map(dict(zip(ours_codes, raw_codes, strict=True)))
                    .map(ids).to_numpy(dtype="int64"),
                    "ts": rows["ts"].to_numpy(), "value": rows["value"].to_numpy(), "quality": 0,
                })  # fmt: skip
                if k == 0:
                    print(f"fichier : {len(rows):,} lignes, {csv_path.stat().st_size / 1e6:.0f} Mo")
                raw_s, raw_name = baseline(engine, raw_frame)
                gc.collect()  # as before the reference's write
                t = time.perf_counter()
                report = import_file(engine, csv_path)
                ours_s = time.perf_counter() - t
                assert report.rows_inserted == len(rows), report.as_dict()
                rounds.append((raw_s, ours_s))
                print(f"tour {k + 1} : référence {raw_s:.2f} s, carnet import {ours_s:.2f} s,"
                      f" rapport {raw_s / ours_s:.3f} ; détail :",
                      {key: round(v, 2) for key, v in report.timings.items()})  # fmt: skip
            print(f"table reading après : {table_size(engine)}")
        finally:
            db.reset_engines()
            drop()
    raw_s = float(np.median([r for r, _ in rounds]))
    ours_s = float(np.median([o for _, o in rounds]))
    ratio = float(np.median([r / o for r, o in rounds]))
    print(f"base de données      : {kind}")
    print(f"existing_rows={existing}")
    print(f"référence            : {raw_name}")
    print(f"tours                : {len(rounds)} (médianes ; le rapport est la médiane des"
          " rapports de chaque tour, référence et import mesurés l'un après l'autre)")  # fmt: skip
    print(f"référence (brut)     : {len(rows) / raw_s:12,.0f} lignes/s ({raw_s:.2f} s)")
    print(f"carnet import        : {len(rows) / ours_s:12,.0f} lignes/s ({ours_s:.2f} s)")
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
