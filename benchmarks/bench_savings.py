"""Économies page speed: the portfolio's model-quality column fitted for all buildings at once
(`dashboards.savings_data.station_models`: one query for the rollups, one for the weather) against
the named baseline "per-building fit_baseline" (what the detail does, once per building: two
loads of consumption and weather each); the models must agree. Also prints the time of the
whole portfolio (settlement + models) and of one building's detail (with its four figures).

A generated town (tests/helpers/savings_town.py) of N buildings with hourly gas index readings.

    python benchmarks/bench_savings.py [--buildings N] [--quick]

The last line is `ratio=R`: baseline time over ours (higher is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.helpers.savings_town

from carnet.db import get_engine  # noqa: E402
from carnet.frames import baseline_frames  # noqa: E402
from contract import fit_baseline  # noqa: E402
from dashboards import savings_figures as figs  # noqa: E402
from dashboards.savings_data import (  # noqa: E402
    MODEL_FREQ,
    building_detail,
    savings_portfolio,
    station_models,
)
from tests.helpers.savings_town import STATION, TownBuilding, make_town  # noqa: E402

CONTRACT = "BENCH"


def timed(func, *args, repeat: int = 1, **kwargs):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def per_building(engine, codes, periods):
    return {
        code: fit_baseline(
            baseline_frames(engine, f"{code}-GAZ", STATION, periods.baseline, periods.reporting),
            MODEL_FREQ,
        ).model
        for code in codes  # the baseline: one full fit_baseline per building
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buildings", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    first = dt.date(2023, 7, 1)
    if args.quick:
        args.buildings, first = min(args.buildings, 6), dt.date(2024, 7, 1)
    town = [
        TownBuilding(
            f"B{i:03d}", f"Bâtiment {i}", 1.0 + 0.3 * i, CONTRACT, 60.0 + 20 * i,
            night_heating=i % 3 == 1, reporting_factor=(0.88, 1.0, 1.08)[i % 3],
        )
        for i in range(args.buildings)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        engine = get_engine(f"sqlite:///{tmp}/bench.sqlite")
        t0 = time.perf_counter()
        make_town(
            engine, town, first, dt.date(2026, 5, 20),
            starts_on=dt.date(first.year + 1, 7, 1), savings_from=dt.date(first.year + 1, 10, 1),
        )  # fmt: skip
        print(
            f"{args.buildings} buildings, hourly data from {first:%d/%m/%Y} to 20/05/2026 "
            f"(generated in {time.perf_counter() - t0:.1f} s)"
        )
        as_of = dt.date(2026, 6, 30)
        t_page, page = timed(savings_portfolio, engine, CONTRACT, "2025-2026", as_of=as_of)
        codes = [b.code for b in town]
        t_base, ref = timed(per_building, engine, codes, page.periods)
        channels = {bt.building_code: bt.channel_id for bt in page.terms.buildings}
        station_id = page.terms.buildings[0].station_id
        t_models, ours = timed(
            station_models, engine, channels, station_id, page.periods.baseline, repeat=3,
        )  # fmt: skip
        for code in codes:
            assert np.isclose(ours[code][0].r2, ref[code].r2, rtol=1e-9)
        for code in codes:
            assert np.isclose(page.quality[code].r2, ref[code].r2, rtol=1e-9)
            assert np.isclose(page.quality[code].cvrmse, ref[code].cvrmse, rtol=1e-9)

        def detail():
            d = building_detail(engine, CONTRACT, "2025-2026", codes[0], as_of=as_of)
            figs.monthly_figure(d.months), figs.signature_figure(d.signature)
            figs.cusum_figure(d.cusum), figs.carpet_figure(d.carpet)

        t_detail, _ = timed(detail, repeat=2)
    print(f"portfolio (settlement + models) : {t_page * 1000:9.1f} ms")
    print(f"building detail with 4 figures   : {t_detail * 1000:9.1f} ms")
    print(f"models, station_models           : {t_models * 1000:9.1f} ms")
    print(f"baseline per-building fit_baseline: {t_base * 1000:9.1f} ms (same models)")
    print(f"ratio={t_base / t_models:.1f}")


if __name__ == "__main__":
    main()
