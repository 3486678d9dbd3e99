"""Import speed: `carnet import` of a generated generic long file against a raw bulk insert.

Generates a generic long CSV (`channel,timestamp,value`, ISO 8601 timestamps with their Paris
offset, 10-minute steps across both DST changes) of N rows over a few channels, then in the
same run and on the same kind of database (two fresh databases, same schema, same channels):
- ours: `ingest.importer.import_file` (the code path of `carnet import`: sniffing, chunked
  parsing, validation, upsert with inserted/updated/unchanged counts, rejected rows, daily
  rollups, batch accounting);
- the named baseline "raw bulk insert": the same rows, already parsed in memory, inserted
  into `reading` with one `executemany` (SQLite) or `COPY` (PostgreSQL), then committed.
Prints rows/s of each (best of `--repeat` runs, 3 with `--quick`) and, last, `ratio=R` =
ours / raw (higher is better).

    python benchmarks/bench_import.py [--rows N] [--quick] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from carnet import db
from carnet.db import session_scope
from carnet.models import Building, Channel
from carnet.timeutil import TZ_NAME
from ingest.importer import import_file

CHANNELS = 12


def generate(path: Path, n_rows: int, seed: int = 7) -> pd.DataFrame:
    """The file, and the same rows as (code, ts, value) for the raw baseline."""
    rng = np.random.default_rng(seed)
    per_channel = n_rows // CHANNELS
    start = pd.Timestamp("2024-01-01", tz=TZ_NAME)
    times = pd.date_range(start, periods=per_channel, freq="10min")
    stamps = times.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d\d)$", r":\1", regex=True)
    codes = [f"BAT{i:02d}-T" for i in range(CHANNELS)]
    frame = pd.DataFrame(
        {
            "channel": np.repeat(codes, per_channel),
            "timestamp": np.tile(np.asarray(stamps), CHANNELS),
            "value": np.round(rng.normal(19.0, 2.0, per_channel * CHANNELS), 2),
        }
    )
    frame.to_csv(path, index=False)
    frame["ts"] = np.tile(times.tz_convert("UTC").as_unit("s").asi8, CHANNELS)
    return frame


def fresh_database(kind: str, base_url: str | None, workdir: Path) -> tuple[str, object]:
    """A new empty database URL and a cleanup callable."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / (uuid.uuid4().hex + '.sqlite')}", lambda: None
    admin_url = base_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"carnet_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        db.reset_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base_url.rpartition('/')[0]}/{name}", drop


def prepare(url: str) -> tuple[object, dict[str, int]]:
    engine = db.get_engine(url)
    with session_scope(engine) as s:
        b = Building(code="BENCH", name="Banc d'essai")
        s.add(b)
        s.flush()
        for i in range(CHANNELS):
            s.add(
                Channel(
                    code=f"BAT{i:02d}-T",
                    building_id=b.id,
                    quantity="temp_indoor_c",
                    kind="instant",
                    unit="degC",
                )
            )
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM channel")).all())
    return engine, ids


def raw_insert(engine, rows: pd.DataFrame, ids: dict[str, int]) -> float:
    channel_id = rows["channel"].map(ids).to_numpy(dtype="int64")
    records = list(
        zip(
            channel_id.tolist(),
            rows["ts"].tolist(),
            rows["value"].tolist(),
            [0] * len(rows),
            strict=True,
        )
    )
    t = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            buf = io.StringIO()
            pd.DataFrame(records).to_csv(buf, index=False, header=False)
            with (
                raw.cursor() as cur,
                cur.copy(
                    "COPY reading (channel_id, ts, value, quality) FROM STDIN (FORMAT csv)"
                ) as copy,
            ):
                copy.write(buf.getvalue())
        else:
            raw.executemany(
                "INSERT INTO reading (channel_id, ts, value, quality) VALUES (?, ?, ?, ?)",
                records,
            )
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--quick", action="store_true", help="a few hundred thousand rows")
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite files)")
    parser.add_argument("--repeat", type=int, default=None, help="best of N (quick: 3, else 1)")
    args = parser.parse_args()
    n_rows = 300_000 if args.quick else args.rows
    args.repeat = args.repeat or (3 if args.quick else 1)
    kind = "postgresql" if (args.database_url or "").startswith("postgresql") else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "releves.csv"
        t = time.perf_counter()
        rows = generate(csv_path, n_rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"fichier : {len(rows)} lignes, {size_mb:.0f} Mo, généré en "
            f"{time.perf_counter() - t:.1f} s ({kind})"
        )

        ours_s = raw_s = float("inf")
        for _ in range(args.repeat):  # best of N: the machine may be shared
            ours_url, drop_ours = fresh_database(kind, args.database_url, work)
            raw_url, drop_raw = fresh_database(kind, args.database_url, work)
            try:
                engine, _ = prepare(ours_url)
                t = time.perf_counter()
                report = import_file(engine, csv_path)
                ours_s = min(ours_s, time.perf_counter() - t)
                assert report.rows_inserted == len(rows), report.as_dict()
                print("ours (carnet import) :", {k: round(v, 2) for k, v in report.timings.items()})

                raw_engine, ids = prepare(raw_url)
                raw_s = min(raw_s, raw_insert(raw_engine, rows, ids))
            finally:
                db.reset_engines()
                drop_ours()
                drop_raw()
    ours_rate, raw_rate = len(rows) / ours_s, len(rows) / raw_s
    print(f"carnet import        : {ours_rate:12,.0f} lignes/s ({ours_s:.2f} s)")
    print(f"raw bulk insert      : {raw_rate:12,.0f} lignes/s ({raw_s:.2f} s)")
    print(f"ratio={ours_rate / raw_rate:.3f}")


if __name__ == "__main__":
    main()
