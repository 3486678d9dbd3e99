"""Économies page speed at portfolio scale, through the real web stack: a generated town
(tests/helpers/savings_town.py, not shipped) of N buildings with years of hourly readings, two
channels per building (the gas index and the indoor temperature of the main room: 100 buildings
x 5 years = 8.8 M readings, the size of issue 17); a manager signs in through the login form
and the Flask test client replays the callbacks the browser sends (`/_dash-update-component`)
for the savings table and a building's detail, cold (the figures cache emptied before each
request) and warm (the same request again).

The named baseline is "direct SQL": one hand-written query summing the season's daily rollups
per building of the contract on the same database (the least a page showing those figures
must read). A figure the cache serves must cost about as much.

    python benchmarks/bench_pages.py [--buildings N] [--years Y] [--quick]
                                     [--database-url postgresql://…/empty_db]

SQLite in a temporary directory by default; `--database-url` names an empty database.
The last line is `ratio=R`: direct SQL p95 over the slowest callback's warm p95 (higher is
better; the figures are then as cheap as reading them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scratch_db import add_database_argument, scratch, server_url
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.savings_town

from carnet.db import get_engine  # noqa: E402
from carnet.frames import contract_terms  # noqa: E402
from carnet.frames_settlement import settlement_frames  # noqa: E402
from contract import ContractTerms, settle_frames, settlement_plan  # noqa: E402
from dashboards import cache  # noqa: E402
from dashboards.app import create_app  # noqa: E402
from tests.helpers.browser import dash_callback_payload, password_of, seed_users  # noqa: E402
from tests.helpers.savings_town import TownBuilding, make_town  # noqa: E402

CONTRACT = "BENCH"
SEASON = "2025-2026"
LOGIN = "gestionnaire"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DIRECT_SQL = (
    "SELECT cb.building_id, SUM(d.energy_kwh) FROM daily_rollup d"
    " JOIN contract_building cb ON cb.channel_id = d.channel_id"
    " JOIN contract c ON c.id = cb.contract_id"
    " WHERE c.code = :contract AND d.day BETWEEN :first AND :last"
    " GROUP BY cb.building_id"
)


def town(n: int) -> list[TownBuilding]:
    return [
        TownBuilding(
            f"B{i:03d}", f"Bâtiment {i}", 1.0 + 0.02 * i, CONTRACT, 60.0 + 2 * i,
            night_heating=i % 3 == 1, reporting_factor=(0.88, 1.0, 1.08)[i % 3],
        )
        for i in range(n)
    ]  # fmt: skip


def signed_in(app):
    client = app.server.test_client()
    token = CSRF.search(client.get("/connexion").text).group(1)
    form = {"login": LOGIN, "password": password_of(LOGIN), "csrf": token}
    assert client.post("/connexion", data=form).status_code == 302
    return client


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.asarray(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def replay(client, payload: dict, n: int, cold: bool) -> tuple[list[float], str]:
    times, body = [], ""
    for _ in range(n):
        if cold:
            cache.figures.clear()
        t = time.perf_counter()
        r = client.post("/_dash-update-component", json=payload)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
        body = r.get_data(as_text=True)
    return times, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument("--years", type=int, default=5, help="years of hourly data")
    parser.add_argument("--quick", action="store_true", help="15 months of data, fewer runs")
    add_database_argument(parser)
    args = parser.parse_args()
    last = dt.date(2026, 5, 20)
    if args.quick:  # 100 x 2 x 24 x 440 days: over two million readings
        first, last = dt.date(2024, 11, 1), dt.date(2026, 1, 15)
        n_cold, n_warm = 3, 60
    else:  # whole years up to `last`: 5 years = 43 824 hours
        first = dt.date(last.year - args.years, last.month, last.day) + dt.timedelta(days=1)
        n_cold, n_warm = 5, 100
    starts_on = dt.date(last.year - 1, 7, 1) if not args.quick else dt.date(2025, 11, 1)
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = scratch(server_url(args), Path(tmp))
        try:
            results, direct, figures = run(url, args, first, last, starts_on, n_cold, n_warm)
        finally:
            drop()
    print(
        f"{args.buildings} buildings, hourly data {first:%d/%m/%Y}-{last:%d/%m/%Y}: "
        f"{figures['readings']:,} readings on {figures['dialect']}, written in "
        f"{figures['write_s']:.1f} s ({figures['readings'] / figures['write_s']:,.0f} readings/s,"
        f" rollups included, one write_readings); database size {figures['size_mib']:,.0f} MiB"
        f" ({figures['size_mib'] * 2**20 / figures['readings']:.0f} bytes/reading)"
    )
    print(
        f"settlement {SEASON} of {args.buildings} buildings, database reads included: "
        f"{figures['settle_s']:.3f} s (best of 3)"
    )
    print(f"{'callback':<18}{'cold p50':>10}{'cold p95':>10}{'warm p50':>10}{'warm p95':>10} (ms)")
    for name, ((c50, c95), (w50, w95)) in results.items():
        print(f"{name:<18}{c50:10.1f}{c95:10.1f}{w50:10.1f}{w95:10.1f}")
    d50, d95 = percentiles(direct)
    print(f"{'direct SQL':<18}{'':>20}{d50:10.1f}{d95:10.1f}")
    slowest = max(w95 for _, (_, w95) in results.values())
    print(f"ratio={d95 / slowest:.2f}")


def database_size_mib(engine) -> float:
    """The database's size on disk: the SQLite file and its WAL, or pg_database_size."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        else:
            path = Path(engine.url.database)
            wal = path.with_name(path.name + "-wal")
            size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return size / 2**20


def settle_season(url: str) -> float:
    """Best of 3: the season settled from the database (terms, frames, settlement)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        terms = ContractTerms.from_record(contract_terms(get_engine(url), CONTRACT))
        data = settlement_frames(get_engine(url), settlement_plan(terms, SEASON))
        settle_frames(terms, SEASON, data)
        best = min(best, time.perf_counter() - t)
    return best


def run(url, args, first, last, starts_on, n_cold, n_warm):
    engine = get_engine(url)
    t0, timings = time.perf_counter(), {}
    make_town(
        engine, town(args.buildings), first, last, starts_on, starts_on, indoor=True,
        timings=timings,
    )  # fmt: skip
    town_s = time.perf_counter() - t0
    seed_users(engine)
    with engine.connect() as conn:
        n_readings = conn.execute(text("SELECT COUNT(*) FROM reading")).scalar_one()
        n_channels = conn.execute(text("SELECT COUNT(*) FROM channel")).scalar_one()
    print(
        f"town: {n_readings:,} readings on {n_channels} channels in {town_s:.1f} s (portfolio,"
        f" generation, write_readings {timings['write_s']:.1f} s)",
        flush=True,
    )
    figures = {
        "readings": n_readings,
        "dialect": engine.dialect.name,
        "write_s": timings["write_s"],
        "size_mib": database_size_mib(engine),
        "settle_s": settle_season(url),
    }
    shown = f"B{min(1, args.buildings - 1):03d}"  # the building whose detail is asked for
    app = create_app(url)
    client = signed_in(app)
    deps = client.get("/_dash-dependencies").get_json()
    values = {
        "savings-contract.value": CONTRACT,
        "savings-season.value": SEASON,
        "savings-refresh.data": {"n": 0},
        "savings-building.data": shown,
    }
    callbacks = {
        "savings table": dash_callback_payload(deps, "savings-portfolio", values),
        "building detail": dash_callback_payload(deps, "savings-detail", values),
    }
    results = {}
    for name, payload in callbacks.items():
        cold, body = replay(client, payload, n_cold, cold=True)
        assert shown in body, (name, body[:300])
        warm, again = replay(client, payload, n_warm, cold=False)
        assert again == body, f"{name}: a warm answer differs from the cold one"
        results[name] = (percentiles(cold), percentiles(warm))

    season_to = min(last, dt.date(2026, 5, 20))
    params = {"contract": CONTRACT, "first": dt.date(2025, 10, 1), "last": season_to}
    direct = []
    with engine.connect() as conn:
        for _ in range(n_warm):
            t = time.perf_counter()
            rows = conn.execute(text(DIRECT_SQL), params).all()
            direct.append(time.perf_counter() - t)
    assert len(rows) == args.buildings
    engine.dispose()
    return results, direct, figures


if __name__ == "__main__":
    main()
