"""Contract engine speed: baseline fits per second and the time to settle a portfolio.

1. Baseline fits: our batched change-point grid search (one QR of a stack of design matrices,
   with its diagnostics) against the named baseline "numpy closed form" (every candidate Tb at
   once, one-regressor least squares by its sums) on the same daily data; the two must find
   the same balance temperature (`fit_ratio=`, baseline time over ours).
2. Settlement: a generated portfolio of N buildings with 5 years of daily rollups (the rollups
   are what the settlement reads; 5 years of hourly readings would roll up to exactly these
   rows, so they are written directly into `daily_rollup`) and daily Tn/Tx, settled season by
   season through `carnet.frames_settlement` and `contract.settle_frames` (database reads
   included), against the named
   baseline "per-day Python loop" (a straightforward implementation of the same settlement
   with dicts and a loop over buildings and days) on the same loaded frames; totals must agree.

   The end-to-end time (terms, frames read from the database, settlement) is measured against
   the named baseline "hand-written SQL": one statement per season computing the same totals
   (DJU, target, actual, bonus and penalty in cents, missing days) from the stored rollups.

`--quick` (< 1 min) uses fewer buildings and repetitions; `--postgres` / `--database-url` runs
on a scratch PostgreSQL database. The last line is `ratio=R` = SQL time / our end-to-end time
(1.0: as fast as the hand-written SQL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from scratch_db import add_database_argument, label, scratch, server_url
from sqlalchemy import insert, text

from carnet import db
from carnet.frames import contract_terms
from carnet.frames_settlement import settlement_frames
from carnet.models import (
    Building,
    Channel,
    Contract,
    ContractBuilding,
    DailyRollup,
    Station,
)
from contract import ContractTerms, settle_frames, settlement_plan
from contract.baseline.changepoint import TB_GRID_C, fit_changepoint
from contract.degree_days import station_daily_dju
from contract.inputs import settlement_inputs
from contract.settlement import settle
from contract.terms import season_bounds

SEASONS = ["2020-2021", "2021-2022", "2022-2023", "2023-2024", "2024-2025"]
FIRST_DAY, LAST_DAY = dt.date(2020, 6, 1), dt.date(2025, 5, 31)


def synthetic_weather(days: pd.DatetimeIndex, rng) -> tuple[np.ndarray, np.ndarray]:
    doy = days.day_of_year.to_numpy()
    mean = 11.0 - 8.0 * np.cos(2 * np.pi * (doy - 15) / 365.0) + rng.normal(0, 3.0, len(days))
    spread = rng.uniform(3.0, 10.0, len(days))
    return mean - spread / 2, mean + spread / 2


# --- 1. fits ---------------------------------------------------------------------------------


def closed_form_fit(temp: np.ndarray, energy: np.ndarray) -> tuple[float, float]:
    """The baseline: every candidate Tb at once in numpy, the one-regressor least squares in
    closed form (slope = Sxy / Sxx, intercept = mean(y) - slope mean(x), SSR = Syy - slope Sxy)
    with the same admissibility (slope > 0, intercept >= 0); (Tb, SSR) of the best."""
    tb = np.asarray(TB_GRID_C, dtype=float)[:, None]
    x = np.maximum(0.0, tb - temp[None, :])
    xm = x.mean(axis=1, keepdims=True)
    ym = energy.mean()
    dx = x - xm
    sxx = (dx * dx).sum(axis=1)
    sxy = dx @ (energy - ym)
    syy = ((energy - ym) ** 2).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy / sxx
    intercept = ym - slope * xm[:, 0]
    ssr = np.where((slope > 0) & (intercept >= 0) & (sxx > 0), syy - slope * sxy, np.inf)
    best = int(np.argmin(ssr))
    return float(TB_GRID_C[best]), float(ssr[best])


def bench_fits(repeat: int) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    days = pd.date_range("2022-01-01", periods=730, freq="D")
    tn, tx = synthetic_weather(days, rng)
    temp = (tn + tx) / 2
    energy = 40 + 8 * np.maximum(0, 15.5 - temp) + rng.normal(0, 3, len(days))
    frame = pd.DataFrame({"day": days, "energy_kwh": energy, "temp_mean_c": temp})

    ours_s = ref_s = float("inf")
    for _ in range(repeat):  # interleaved, best of each: the same machine noise for both
        t0 = time.perf_counter()
        ours = fit_changepoint(frame)
        ours_s = min(ours_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = closed_form_fit(temp, energy)
        ref_s = min(ref_s, time.perf_counter() - t0)
    assert ref[0] == ours.balance_temp_c, (ref, ours.balance_temp_c)
    return 1.0 / ours_s, 1.0 / ref_s


# --- 2. settlement ---------------------------------------------------------------------------


def build_portfolio(engine, n_buildings: int, rng) -> None:
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    tn, tx = synthetic_weather(days, rng)
    with db.session_scope(engine) as s:
        station = Station(code="BENCH", name="Bench")
        s.add(station)
        s.flush()
        tn_ch = Channel(
            code="BENCH-TN", station_id=station.id, quantity="temp_min_c", kind="instant",
            unit="degC",
        )  # fmt: skip
        tx_ch = Channel(
            code="BENCH-TX", station_id=station.id, quantity="temp_max_c", kind="instant",
            unit="degC",
        )  # fmt: skip
        s.add_all([tn_ch, tx_ch])
        contract = Contract(
            code="BENCH", contractor="x", starts_on=FIRST_DAY, station_id=station.id,
            price_eur_per_mwh_pci=Decimal("92.5"), franchise_pct=2.0,
        )  # fmt: skip
        s.add(contract)
        s.flush()
        buildings = [
            Building(code=f"B{i:03d}", name=f"Bâtiment {i}", station_id=station.id)
            for i in range(n_buildings)
        ]
        s.add_all(buildings)
        s.flush()
        channels = [
            Channel(
                code=f"B{i:03d}-GAZ",
                building_id=b.id,
                quantity="gas_volume_m3",
                kind="index",
                unit="m3",
                kwh_per_unit=11.2,
            )  # fmt: skip
            for i, b in enumerate(buildings)
        ]
        s.add_all(channels)
        s.flush()
        s.add_all(
            ContractBuilding(
                contract_id=contract.id,
                building_id=b.id,
                channel_id=c.id,
                nb_mwh_pci=float(rng.uniform(50, 500)),
                dju_ref=2450.0,
            )  # fmt: skip
            for b, c in zip(buildings, channels, strict=True)
        )
        tn_id, tx_id = tn_ch.id, tx_ch.id
        channel_ids = np.array([c.id for c in channels])
    day_list = [d.date() for d in days]
    weather = [
        {"channel_id": cid, "day": d, "value": float(v), "n_readings": 1, "estimated": False}
        for cid, values in ((tn_id, tn), (tx_id, tx))
        for d, v in zip(day_list, values, strict=True)
    ]
    dju = np.maximum(0.0, 18.0 - (tn + tx) / 2)
    with engine.begin() as conn:
        conn.execute(insert(DailyRollup), weather)
        for cid in channel_ids:  # one bulk insert per building
            scale = rng.uniform(30.0, 300.0)
            kwh = scale * (0.2 + dju) * rng.uniform(0.8, 1.2, len(days))
            keep = rng.uniform(size=len(days)) > 0.01  # about 1 % of days missing
            conn.execute(
                insert(DailyRollup),
                [
                    {
                        "channel_id": int(cid),
                        "day": d,
                        "value": float(k / 11.2),
                        "energy_kwh": float(k),
                        "n_readings": 24,
                        "coverage": 1.0,
                        "estimated": False,
                    }  # fmt: skip
                    for d, k, ok in zip(day_list, kwh, keep, strict=True)
                    if ok
                ],
            )


def loop_settlement(terms, season, rollups, tn_tx) -> dict:
    """The named baseline: dicts and a loop over buildings and days, same formulas."""
    energy = {}
    for rec in rollups.itertuples(index=False):
        energy[(rec.channel_id, rec.day.date())] = rec.energy_kwh
    dju = {}
    s = terms.dju_base_c
    for day, rec in tn_tx.iterrows():
        tn, tx = rec["tn_c"], rec["tx_c"]
        if math.isnan(tn) or math.isnan(tx):
            continue
        if s >= tx:
            v = s - (tn + tx) / 2
        elif s <= tn:
            v = 0.0
        else:
            v = (s - tn) * (0.08 + 0.42 * (s - tn) / (tx - tn))
        dju[day.date()] = v
    first, last = season_bounds(season, terms.season_start, terms.season_end)
    price = terms.price_eur_per_mwh_pci
    total_target = total_actual = 0.0
    bonus_total = penalty_total = Decimal("0")
    missing = 0
    for bt in terms.buildings:
        target = actual = 0.0
        day = first
        while day <= last:
            d = dju.get(day, 0.0)
            target += bt.nb_mwh_pci * d / bt.dju_ref
            e = energy.get((bt.channel_id, day))
            if e is None or math.isnan(e):
                missing += 1
            else:
                actual += e / 1000.0 / terms.pcs_pci_ratio
            day += dt.timedelta(days=1)
        gap = target - actual
        bonus = penalty = 0.0
        if abs(gap) > terms.franchise_pct / 100 * target:
            if gap > 0:
                bonus = terms.savings_share_contractor * min(
                    gap, terms.savings_cap_pct / 100 * target
                )
            else:
                penalty = terms.overrun_share_contractor * -gap
        cent = Decimal("0.01")
        bonus_total += (Decimal(repr(float(bonus))) * price).quantize(cent, ROUND_HALF_UP)
        penalty_total += (Decimal(repr(float(penalty))) * price).quantize(cent, ROUND_HALF_UP)
        total_target += target
        total_actual += actual
    return {
        "target_mwh_pci": total_target,
        "actual_mwh_pci": total_actual,
        "bonus_eur": bonus_total,
        "penalty_eur": penalty_total,
        "days_missing": missing,
    }


SETTLEMENT_SQL = """
WITH w AS (
  SELECT tn.day, tn.value AS tn, tx.value AS tx
  FROM contract c
  JOIN channel cn ON cn.station_id = c.station_id AND cn.quantity = 'temp_min_c'
  JOIN channel cx ON cx.station_id = c.station_id AND cx.quantity = 'temp_max_c'
  JOIN daily_rollup tn ON tn.channel_id = cn.id
  JOIN daily_rollup tx ON tx.channel_id = cx.id AND tx.day = tn.day
  WHERE c.code = :contract AND tn.day BETWEEN :first AND :last
    AND tn.value IS NOT NULL AND tx.value IS NOT NULL
), d AS (
  SELECT COALESCE(SUM(CASE WHEN :base >= tx THEN :base - (tn + tx) / 2
                           WHEN :base <= tn THEN 0
                           ELSE (:base - tn) * (0.08 + 0.42 * (:base - tn) / (tx - tn)) END),
                  0) AS dju
  FROM w
), e AS (
  SELECT cb.building_id, cb.nb_mwh_pci, cb.dju_ref,
         COALESCE(SUM(r.energy_kwh), 0) AS kwh, COUNT(r.energy_kwh) AS n
  FROM contract_building cb
  JOIN contract c ON c.id = cb.contract_id AND c.code = :contract
  LEFT JOIN daily_rollup r
    ON r.channel_id = cb.channel_id AND r.day BETWEEN :first AND :last
  GROUP BY cb.building_id, cb.nb_mwh_pci, cb.dju_ref
), b AS (
  SELECT e.nb_mwh_pci * d.dju / e.dju_ref AS target, e.kwh / 1000.0 / :ratio AS actual,
         :ndays - e.n AS missing
  FROM e CROSS JOIN d
), g AS (
  SELECT target, actual, missing, target - actual AS gap,
         ABS(target - actual) > :franchise * target AS beyond
  FROM b
)
SELECT SUM(target), SUM(actual),
       SUM(ROUND(CAST(CASE WHEN beyond AND gap > 0 THEN :share_saving *
                   (CASE WHEN gap < :cap * target THEN gap ELSE :cap * target END)
                   ELSE 0 END * :price AS NUMERIC), 2)),
       SUM(ROUND(CAST(CASE WHEN beyond AND gap < 0 THEN :share_overrun * -gap ELSE 0 END
                   * :price AS NUMERIC), 2)),
       SUM(missing)
FROM g
"""


def sql_settlement(engine, terms, season: str) -> dict:
    """The named baseline: the same season figures as one hand-written SQL statement over the
    stored rollups (DJU, target, actual, franchise, shares, cap, cents per building)."""
    first, last = season_bounds(season, terms.season_start, terms.season_end)
    params = {
        "contract": "BENCH", "first": first, "last": last, "ndays": (last - first).days + 1,
        "base": terms.dju_base_c, "ratio": terms.pcs_pci_ratio,
        "franchise": terms.franchise_pct / 100, "cap": terms.savings_cap_pct / 100,
        "share_saving": terms.savings_share_contractor,
        "share_overrun": terms.overrun_share_contractor,
        "price": float(terms.price_eur_per_mwh_pci),
    }  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(text(SETTLEMENT_SQL), params).one()
    return {
        "target_mwh_pci": float(row[0]), "actual_mwh_pci": float(row[1]),
        "bonus_eur": Decimal(str(row[2])), "penalty_eur": Decimal(str(row[3])),
        "days_missing": int(row[4]),
    }  # fmt: skip


def agree(ref: dict, got: dict, n_buildings: int) -> None:
    assert abs(ref["target_mwh_pci"] - got["target_mwh_pci"]) < 1e-6 * ref["target_mwh_pci"]
    assert abs(ref["actual_mwh_pci"] - got["actual_mwh_pci"]) < 1e-6 * ref["actual_mwh_pci"]
    assert abs(ref["bonus_eur"] - got["bonus_eur"]) <= Decimal("0.01") * n_buildings
    assert abs(ref["penalty_eur"] - got["penalty_eur"]) <= Decimal("0.01") * n_buildings
    assert ref["days_missing"] == got["days_missing"], (ref, got)


def bench_settlement(n_buildings: int, repeat: int, server: str | None) -> dict:
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = scratch(server, Path(tmp))
        try:
            return _bench_settlement(url, n_buildings, repeat, rng)
        finally:
            drop()


def _bench_settlement(url: str, n_buildings: int, repeat: int, rng) -> dict:
    engine = db.make_engine(url)
    db.upgrade(engine)
    t0 = time.perf_counter()
    build_portfolio(engine, n_buildings, rng)
    build_s = time.perf_counter() - t0
    with engine.connect() as conn:
        table_rows = conn.execute(text("SELECT count(*) FROM daily_rollup")).scalar_one()

    # end to end, database reads included, against the hand-written SQL (best of `repeat`)
    e2e_s = sql_s = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        reports = {}
        for season in SEASONS:
            terms = ContractTerms.from_record(contract_terms(engine, "BENCH"))
            data = settlement_frames(engine, settlement_plan(terms, season))
            reports[season] = settle_frames(terms, season, data, as_of=LAST_DAY).total
        e2e_s = min(e2e_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        by_sql = {season: sql_settlement(engine, terms, season) for season in SEASONS}
        sql_s = min(sql_s, time.perf_counter() - t0)
    for season in SEASONS:
        agree(by_sql[season], reports[season], n_buildings)

    # in memory: the same loaded frames for both implementations
    inputs = {}
    for s in SEASONS:
        data = settlement_frames(engine, settlement_plan(terms, s, signed=False))
        inputs[s] = (terms, *settlement_inputs(terms, s, data))
    tn_tx = {}
    for season, (_, _, dju_daily, _) in inputs.items():
        tn_tx[season] = dju_daily.set_index("day")[["tn_c", "tx_c"]]

    t0 = time.perf_counter()
    for _ in range(repeat):
        ours = {}
        for season, (terms, rollups, _, adjustments) in inputs.items():
            dju = station_daily_dju(tn_tx[season], None, terms.dju_method, terms.dju_base_c)
            dju_daily = dju.reset_index().assign(station_id=terms.station_id)
            ours[season] = settle(terms, season, rollups, dju_daily, adjustments).total
    ours_s = (time.perf_counter() - t0) / repeat

    t0 = time.perf_counter()
    for season, (terms, rollups, _, _) in inputs.items():
        agree(loop_settlement(terms, season, rollups, tn_tx[season]), ours[season], n_buildings)
    loop_s = time.perf_counter() - t0
    engine.dispose()
    return {"build_s": build_s, "e2e_s": e2e_s, "sql_s": sql_s, "ours_s": ours_s,
        "loop_s": loop_s, "rows": table_rows, "label": label(url)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under a minute")
    parser.add_argument("--buildings", type=int, default=None)
    add_database_argument(parser)
    args = parser.parse_args()
    n_buildings = args.buildings or (30 if args.quick else 100)
    repeat = 3 if args.quick else 10

    ours_fps, ref_fps = bench_fits(20 if args.quick else 100)
    print(f"baseline fits: ours {ours_fps:,.0f} fits/s (grid of {len(TB_GRID_C)} Tb, 730 days)")
    print(f"baseline fits: numpy closed form over every candidate Tb {ref_fps:,.1f} fits/s")
    print(f"fit_ratio={ours_fps / ref_fps:.3f}")

    r = bench_settlement(n_buildings, repeat, server_url(args))
    n_seasons = len(SEASONS)
    print(f"base : {r['label']}, table daily_rollup : {r['rows']} lignes")
    print(f"portfolio: {n_buildings} buildings x 5 years of daily rollups written in"
          f" {r['build_s']:.1f} s")  # fmt: skip
    print(
        f"settlement end to end (database reads included): {n_seasons} seasons x "
        f"{n_buildings} buildings in {r['e2e_s']:.3f} s"
    )
    print(f"baseline hand-written SQL of the same figures: {r['sql_s']:.3f} s"
          f" ({n_seasons} statements, same totals)")  # fmt: skip
    print(f"settlement in memory, ours (vectorised): {r['ours_s']:.3f} s;"
          f" per-day Python loop: {r['loop_s']:.3f} s")  # fmt: skip
    print("ratio = SQL time / our end-to-end time")
    print(f"ratio={r['sql_s'] / r['e2e_s']:.3f}")


if __name__ == "__main__":
    main()
