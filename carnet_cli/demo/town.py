"""The demo town's build: `simulate` everything it would have recorded since ORIGIN (pure
numpy/pandas: same seed and `today` -> same frames), then `build_demo` writes it into an empty
record.

Every random stream is keyed by (seed, purpose), and the weather and the buildings are always
simulated from ORIGIN to the end of the current season, so the past does not change with `today`
or with the `start` of what is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from carnet.config import data_dir
from carnet.db import session_scope
from carnet.models import Building, Channel, ConversionFactor, ImportBatch, utcnow
from carnet.store import UpsertCounts, recompute_daily, upsert_readings
from carnet.timeutil import TZ, local_dates, local_to_utc, to_epoch
from carnet_cli.demo.bookings import simulate_bookings, write_bookings
from carnet_cli.demo.calendar_weather import (
    ORIGIN,
    Clock,
    heating_days,
    in_yearly_span,
    month_day,
    public_holidays,
    school_holidays,
    season_year,
    simulate_weather,
)
from carnet_cli.demo.faults import (
    fault_episodes,
    write_alarm_rows,
    write_alarms,
    write_device_status,
    write_meter_change,
)
from carnet_cli.demo.history import Logbook, write_obligations, write_story
from carnet_cli.demo.physics import (
    BuildingSim,
    DemoData,
    World,
    conversion_factors,
    ewm,
    gas_volumes,
    nb_references,
    reading_frames,
    simulate_building,
)
from carnet_cli.demo.scenario import DEMO_PASSWORD, load_demo_portfolio, portfolio_path
from carnet_cli.demo.works import planted_works, write_works
from contract.degree_days import dju_costic
from contract.terms import season_of
from ingest.importer import import_file


def _now(today) -> dt.datetime:
    if today is None:
        now = dt.datetime.now(dt.UTC)
    elif isinstance(today, dt.datetime):
        now = today if today.tzinfo else today.replace(tzinfo=TZ)
    else:  # a date: the build happens at its local midnight
        now = dt.datetime.combine(today, dt.time(0, 0), tzinfo=TZ)
    now = now.astimezone(dt.UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def simulate(
    portfolio: dict,
    seed: int = 42,
    today: dt.datetime | dt.date | None = None,
    start: dt.date | None = None,
) -> DemoData:
    """Everything the demo records, as frames; nothing is written."""
    now = _now(today)
    now_local = now.astimezone(TZ).date()
    end_day = dt.date(season_year(now_local) + 1, 7, 1)
    clock = Clock.build(end_day)
    weather = simulate_weather(clock, seed)
    mmdd = month_day(clock.days)
    roll3 = pd.Series((weather.tn_c + weather.tx_c) / 2).rolling(3, min_periods=1).mean()
    shoulder = in_yearly_span(mmdd, "09-15", "09-30") | in_yearly_span(mmdd, "05-21", "06-10")
    years = range(ORIGIN.year, end_day.year + 1)
    world = World(
        seed=seed,
        clock=clock,
        weather=weather,
        t_eff=ewm(weather.hourly_c, 0.15),
        t_free=ewm(weather.hourly_c, 0.04) + 4.0,
        heating_day=season_of(clock.days).notna().to_numpy()
        | (shoulder & (roll3.to_numpy() < 12.0)),
        public_holiday=np.isin(
            clock.days, np.array(sorted(public_holidays(years)), dtype="datetime64[D]")
        ),
        school_off=school_holidays(clock.days),
        mmdd=mmdd,
        bookings=simulate_bookings(seed, dt.date(2023, 9, 1), now_local + dt.timedelta(days=56)),
        episodes=fault_episodes(clock, now),
    )
    sims: dict[str, BuildingSim] = {}
    room_temps: dict[str, np.ndarray] = {}
    for b in portfolio["buildings"]:
        sims[b["code"]], rooms = simulate_building(world, b)
        room_temps.update(rooms)
    data = DemoData(
        seed=seed,
        now_ts=int(now.timestamp()),
        start_ts=int(to_epoch(local_to_utc([pd.Timestamp(start or ORIGIN)]))[0]),
        clock=clock,
        weather=weather,
        buildings=sims,
        rooms=room_temps,
        bookings=world.bookings,
        conversion=conversion_factors(seed, clock),
        fault_episodes=world.episodes,
        works=planted_works(world, portfolio, sims),
    )
    gas_volumes(data)
    nb_references(data)
    reading_frames(data, portfolio)
    return data


def build_demo(
    engine: Engine,
    seed: int = 42,
    today: dt.datetime | dt.date | None = None,
    start: dt.date | None = None,
    passwords: bool = True,
) -> dict:
    """Load the demo portfolio into an empty database and write the simulated record.

    Returns a summary (counts, DJU per season, seconds). `start` limits the readings written
    (the simulation itself always starts at ORIGIN); `today` defaults to now.
    """
    from carnet.portfolio import load_portfolio
    from carnet.users import set_user

    t0 = time.perf_counter()
    portfolio = load_demo_portfolio()
    data = simulate(portfolio, seed=seed, today=today, start=start)
    now = dt.datetime.fromtimestamp(data.now_ts, dt.UTC)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Building)):
            raise RuntimeError("la base de démonstration n'est pas vide")
        batch = ImportBatch(
            source=f"carnet demo (graine {seed})",
            origin="demo",
            format="demo",
            user_login="demo",
            status="running",
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        load_portfolio(session, portfolio_path(), actor="demo", obligations=False)
        if passwords:
            for user in portfolio["users"]:
                set_user(
                    session,
                    user["login"],
                    user["role"],
                    contract_code=user.get("contract"),
                    password=DEMO_PASSWORD.format(login=user["login"]),
                    actor="demo",
                )
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Channel.code, Channel.id)).all())
        for code in data.buildings:
            gas_id = ids[_gas_code(portfolio, code)]
            session.add_all(
                ConversionFactor(
                    channel_id=gas_id,
                    valid_from=row.valid_from,
                    kwh_per_unit=float(row.kwh_per_unit),
                    batch_id=batch_id,
                )
                for row in data.conversion.itertuples()
            )
        history = _write_history(session, data, portfolio, now)
        write_bookings(session, data.bookings, seed, data.start_ts, data.now_ts)
        history["works"] = write_works(session, data.works)
    t_meta = time.perf_counter()
    counts = UpsertCounts()
    with engine.begin() as conn:  # one frame per channel, rollups once at the end
        for code, frame in data.readings.items():
            frame = frame.assign(channel_id=ids[code])
            counts = counts + upsert_readings(conn, frame, batch_id=batch_id, refresh=False)
        windows = [
            (ids[code], int(f["ts"].min()), int(f["ts"].max()))
            for code, f in data.readings.items()
            if len(f)
        ]
        recompute_daily(conn, windows)
    with session_scope(engine) as session:
        batch = session.get(ImportBatch, batch_id)
        batch.rows_read = counts.total
        batch.rows_inserted, batch.rows_updated = counts.inserted, counts.updated
        batch.rows_unchanged = counts.unchanged
        batch.status, batch.finished_at = "ok", utcnow()
    # the price indices the contract's P1/P2/P3 revision reads, as a town imports them
    indices = import_file(engine, data_dir() / "samples" / "indices_fr.csv", fmt="indices")
    if indices.status != "ok":
        raise RuntimeError(f"indices de la démo : {indices.message}")
    rows = counts.total
    elapsed = time.perf_counter() - t0
    return {
        "seed": seed,
        "today": now.isoformat(),
        "buildings": len(portfolio["buildings"]),
        "channels": len(ids),
        "readings": rows,
        "bookings": int((data.bookings["start_ts"] >= data.start_ts).sum()),
        "logbook_entries": history["logbook"],
        "obligations": history["obligations"],
        "works": history["works"],
        "dju_by_season": season_dju_recorded(data),
        "nb_mwh_pci": data.nb_mwh_pci,
        "seconds_simulation_and_record": round(t_meta - t0, 1),
        "seconds": round(elapsed, 1),
    }


def season_dju_recorded(data: DemoData) -> dict[str, float]:
    """COSTIC DJU per season from the daily min/max written (the current season: to date)."""
    tn, tx = data.readings["LESQUIN-TN"], data.readings["LESQUIN-TX"]
    days = local_dates(tn["ts"].to_numpy())
    dju = dju_costic(tn["value"].to_numpy(), tx["value"].to_numpy())
    out = {}
    for season in sorted(data.weather.season_dju):
        a, b = heating_days(season)
        m = (days >= np.datetime64(a)) & (days <= np.datetime64(b))
        if m.any():
            out[f"{season}-{season + 1}"] = round(float(dju[m].sum()), 1)
    return out


def _gas_code(portfolio: dict, building: str) -> str:
    b = next(b for b in portfolio["buildings"] if b["code"] == building)
    return next(c["code"] for c in b["channels"] if c["quantity"] == "gas_volume_m3")


def _write_history(session, data: DemoData, portfolio: dict, now: dt.datetime) -> dict:
    """The carnet de santé: obligations with their past completions, works, observations,
    alarms, the meter change, the controllers' last contact. Written with the ORM, dated in the
    past, in the order that gives the entries their ids."""
    log = Logbook(session)
    n_obligations = write_obligations(session, log, now.astimezone(TZ).date())
    write_story(log, now)
    write_alarms(log, data.fault_episodes)
    write_meter_change(session, log, portfolio, data.meter_change)
    log.flush(session)
    write_alarm_rows(session, log, data.fault_episodes)
    write_device_status(session, log.buildings, log.equipment, now)
    return {"logbook": len(log.entries), "obligations": n_obligations}


def readings_checksum(frames: dict[str, pd.DataFrame], lo: int, hi: int) -> str:
    """A digest of the readings with lo <= ts < hi (to check determinism)."""
    h = hashlib.sha256()
    for code in sorted(frames):
        f = frames[code]
        f = f[(f["ts"] >= lo) & (f["ts"] < hi)]
        h.update(code.encode())
        h.update(f["ts"].to_numpy(dtype="int64").tobytes())
        h.update(np.round(f["value"].to_numpy(dtype=float), 3).tobytes())
    return h.hexdigest()


def existing_demo(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return bool(session.scalar(select(func.count()).select_from(Building)))


def interrupted_demo(engine: Engine) -> bool:
    """A demo build that did not finish (its batch is still « running »)."""
    with session_scope(engine) as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(ImportBatch)
                .where(ImportBatch.origin == "demo", ImportBatch.status != "ok")
            )
        )
