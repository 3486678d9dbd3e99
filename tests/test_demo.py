"""The demo town's invariants: built once for the module (it takes seconds, not milliseconds),
then checked against figures computed here from the readings and DESIGN.md's formulas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from carnet import db as carnet_db
from carnet.db import session_scope
from carnet.kinds import Quality
from carnet.models import (
    Booking,
    Building,
    Channel,
    ContractBuilding,
    DeviceStatus,
    ImportBatch,
    IndexReset,
    LogbookEntry,
    Obligation,
    Reading,
    Room,
)
from carnet.queries import daily_frame, monthly_frame
from carnet.timeutil import local_dates, local_day_bounds
from carnet.users import authenticate
from carnet_cli.demo.calendar_weather import ORIGIN
from carnet_cli.demo.scenario import demo_passwords, load_demo_portfolio
from carnet_cli.demo.town import readings_checksum, simulate
from tests.helpers.demo_copy import demo_copy, demo_summary

TODAY = dt.date(2026, 11, 25)
SEASONS = (2023, 2024, 2025)


def _season(season: int) -> tuple[dt.date, dt.date]:
    return dt.date(season, 10, 1), dt.date(season + 1, 5, 20)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A copy of the worker's build (`tests/helpers/demo_copy.py`), on its own database
    (SQLite file or a scratch PostgreSQL database), so that other tests' fixtures cannot wipe
    it meanwhile."""
    with demo_copy(tmp_path_factory.mktemp("demo"), "carnet_demo", today=TODAY) as url:
        engine = carnet_db.make_engine(url)
        yield engine, demo_summary(today=TODAY), url
        engine.dispose()


def _readings(engine, code: str, lo: int | None = None, hi: int | None = None) -> pd.DataFrame:
    sql = (
        "SELECT r.ts, r.value, r.quality FROM reading r JOIN channel c ON c.id = r.channel_id"
        " WHERE c.code = :code AND r.ts >= :lo AND r.ts < :hi ORDER BY r.ts"
    )
    with engine.connect() as conn:
        return pd.read_sql_query(
            text(sql), conn, params={"code": code, "lo": lo or 0, "hi": hi or 2**62}
        )


def _costic(tn: np.ndarray, tx: np.ndarray, base: float = 18.0) -> np.ndarray:
    """DESIGN.md, COSTIC method, written out case by case."""
    out = np.zeros(len(tn))
    for i, (n, x) in enumerate(zip(tn, tx, strict=True)):
        if base >= x:
            out[i] = base - (n + x) / 2
        elif base <= n:
            out[i] = 0.0
        else:
            out[i] = (base - n) * (0.08 + 0.42 * (base - n) / (x - n))
    return out


def _season_dju(engine) -> dict[int, float]:
    tn = _readings(engine, "LESQUIN-TN")
    tx = _readings(engine, "LESQUIN-TX")
    assert (tn["ts"].to_numpy() == tx["ts"].to_numpy()).all()
    days = local_dates(tn["ts"].to_numpy())
    dju = _costic(tn["value"].to_numpy(), tx["value"].to_numpy())
    out = {}
    for s in SEASONS:
        a, b = _season(s)
        m = (days >= np.datetime64(a)) & (days <= np.datetime64(b))
        assert m.sum() == (b - a).days + 1, f"season {s}: daily min/max missing"
        out[s] = float(dju[m].sum())
    return out


def test_the_dozen_buildings_with_their_usages(demo):
    engine, summary, _ = demo
    with session_scope(engine) as s:
        buildings = s.scalars(select(Building)).all()
        usages = {b.usage for b in buildings}
        assert 11 <= len(buildings) <= 13
        for usage in (
            "mairie",
            "école maternelle",
            "école élémentaire",
            "groupe scolaire",
            "salle polyvalente",
            "salle des fêtes",
            "médiathèque",
            "gymnase",
            "centre social",
            "crèche",
            "centre technique",
        ):
            assert usage in usages
        for b in buildings:
            assert 200 <= b.heated_area_m2 <= 3000
            assert b.main_energy == "gas" and b.station is not None
            assert "Loos-en-Gohelle" in b.address
        bookable = s.scalars(select(Room).where(Room.bookable.is_(True))).all()
        sensors = {
            c.room_id for c in s.scalars(select(Channel).where(Channel.quantity == "temp_indoor_c"))
        }
        assert bookable and all(r.id in sensors for r in bookable)
        # the demo logins work with the passwords `carnet demo` prints
        for login, password in demo_passwords(load_demo_portfolio()).items():
            assert authenticate(s, login, password) is not None
    assert summary["buildings"] == len(buildings)
    with session_scope(engine) as s:
        (batch,) = s.scalars(select(ImportBatch).where(ImportBatch.origin == "demo")).all()
        assert batch.status == "ok" and batch.rows_inserted == summary["readings"]
        n = s.scalar(select(func.count()).select_from(Reading))
        assert n == summary["readings"] > 1_000_000


def test_three_full_seasons_and_the_current_one_of_hourly_readings(demo):
    engine, _, _ = demo
    first, _ = local_day_bounds(ORIGIN, ORIGIN)
    now = local_day_bounds(TODAY, TODAY)[0]
    current, _ = local_day_bounds(dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    for code in ("LESQUIN-T", "MAIRIE-GAZ", "SALLE-FETES-CHAUD-1-TD", "GYMNASE-SALLE-T"):
        r = _readings(engine, code)
        ts = r["ts"].to_numpy()
        assert ts[0] <= first + 3600 and ts[-1] == now
        assert (np.diff(ts) == 3600).all(), f"{code}: the hourly series has holes"
        assert ts[0] <= local_day_bounds(*_season(2023))[0] and (ts >= current).sum() > 24 * 50
    t = _readings(engine, "LESQUIN-T")["value"]
    assert -15 < t.min() < 0 and 28 < t.max() < 40  # a plausible Lille range


def test_degree_days_per_season_are_those_of_lille(demo):
    engine, summary, _ = demo
    dju = _season_dju(engine)
    for s, value in dju.items():
        assert 2400 <= value <= 2700, (s, value)
        assert summary["dju_by_season"][f"{s}-{s + 1}"] == pytest.approx(value, abs=0.2)
    # a mild winter and a cold one
    assert max(dju.values()) - min(dju.values()) > 100
    # each winter has a cold spell: five days averaging below freezing... or close to it
    tn, tx = _readings(engine, "LESQUIN-TN"), _readings(engine, "LESQUIN-TX")
    mean = pd.Series((tn["value"].to_numpy() + tx["value"].to_numpy()) / 2)
    days = local_dates(tn["ts"].to_numpy())
    for s in SEASONS:
        a, b = _season(s)
        m = (days >= np.datetime64(a)) & (days <= np.datetime64(b))
        assert mean[m].rolling(5).mean().min() < 2.0


def test_same_seed_same_readings_other_seed_other_readings(demo):
    engine, _, _ = demo
    lo, hi = local_day_bounds(dt.date(2025, 1, 13), dt.date(2025, 1, 15))
    with engine.connect() as conn:
        codes = [c for (c,) in conn.execute(text("SELECT code FROM channel"))]
    stored = {code: _readings(engine, code, lo, hi) for code in codes}
    portfolio = load_demo_portfolio()
    again = simulate(portfolio, seed=42, today=TODAY, start=dt.date(2024, 12, 1))
    assert readings_checksum(stored, lo, hi) == readings_checksum(again.readings, lo, hi)
    other = simulate(portfolio, seed=7, today=TODAY)
    assert readings_checksum(other.readings, lo, hi) != readings_checksum(stored, lo, hi)
    # the past does not change when the demo is rebuilt later (next season here)
    later = simulate(portfolio, seed=42, today=dt.date(2027, 8, 2))
    assert readings_checksum(later.readings, lo, hi) == readings_checksum(stored, lo, hi)
    past = again.bookings[again.bookings["end_ts"] < lo].reset_index(drop=True)
    same = later.bookings[later.bookings["end_ts"] < lo].reset_index(drop=True)
    pd.testing.assert_frame_equal(past, same)


def _weekend_ratio(engine, code: str, a: dt.date, b: dt.date) -> float:
    d = daily_frame(engine, [code], a, b)
    weekend = pd.to_datetime(d["day"]).dt.day_of_week >= 5
    return float(d.loc[weekend, "energy_kwh"].mean() / d.loc[~weekend, "energy_kwh"].mean())


def test_a_building_is_heated_every_weekend(demo):
    engine, _, _ = demo
    a, b = dt.date(2025, 12, 1), dt.date(2026, 2, 28)
    with engine.connect() as conn:
        gas = [c for (c,) in conn.execute(text("SELECT code FROM channel WHERE unit = 'm3'"))]
    ratio = {code: _weekend_ratio(engine, code, a, b) for code in gas}
    # heated on Saturdays and Sundays at least as much as on weekdays: the only one
    assert ratio["SALLE-FETES-GAZ"] > 1.2
    assert max(ratio, key=ratio.get) == "SALLE-FETES-GAZ"
    assert sorted(ratio.values())[-2] < 1.0
    for closed in ("EC-ELEM-FERRY-GAZ", "EC-MAT-CURIE-GAZ", "CTM-GAZ"):
        assert ratio[closed] < 0.8


def test_a_meter_replaced_mid_season(demo):
    engine, _, _ = demo
    with session_scope(engine) as s:
        ch = s.scalar(select(Channel).where(Channel.code == "CENTRE-SOCIAL-GAZ"))
        reset = s.scalar(select(IndexReset).where(IndexReset.channel_id == ch.id))
        entry = s.get(LogbookEntry, reset.logbook_entry_id)
        assert entry.kind == "meter_change"
        old = f"{reset.old_final_value:,.2f}".replace(",", "\u202f").replace(".", ",")
        assert old in entry.text and f"{reset.new_start_value:.2f}".replace(".", ",") in entry.text
        ts, old_final, new_start = reset.ts, reset.old_final_value, reset.new_start_value
    day = local_dates([ts])[0].astype(object)
    lo, hi = local_day_bounds(day, day)
    r = _readings(engine, "CENTRE-SOCIAL-GAZ", lo, hi + 1)  # the day's 24 hourly intervals
    at = r.index[r["ts"] == ts][0]
    assert r.loc[at, "quality"] == Quality.RESET and r.loc[at, "value"] < old_final
    # the day's consumption by hand: differences, and across the replacement
    # (old final - previous) + (first new - new start)
    v = r["value"].to_numpy()
    diffs = np.diff(v)
    k = at - 1
    diffs[k] = (old_final - v[k]) + (v[at] - new_start)
    assert (diffs >= 0).all()
    rollup = daily_frame(engine, ["CENTRE-SOCIAL-GAZ"], day, day).iloc[0]
    assert rollup["value"] == pytest.approx(diffs.sum(), abs=0.02)


def test_a_week_without_gas_readings_is_reported(demo):
    engine, _, _ = demo
    a, b = dt.date(2026, 1, 19), dt.date(2026, 1, 25)
    lo, hi = local_day_bounds(a, b)
    assert _readings(engine, "CRECHE-GAZ", lo, hi).empty
    assert len(_readings(engine, "CRECHE-CHAUD-1-TD", lo, hi)) == 7 * 24
    d = daily_frame(engine, ["CRECHE-GAZ"], a, b).set_index("day")
    for day in pd.date_range(a, b).date:  # missing, or flagged as an estimate: never "measured"
        assert day not in d.index or bool(d.loc[day, "estimated"])
    m = monthly_frame(engine, ["CRECHE-GAZ"], dt.date(2026, 1, 1), dt.date(2026, 1, 31)).iloc[0]
    assert m["days_missing"] + m["days_estimated"] >= 7


def test_a_boiler_fault_episode_and_its_alarms(demo):
    engine, _, _ = demo
    lo, hi = local_day_bounds(dt.date(2025, 12, 9), dt.date(2025, 12, 9))
    fault = _readings(engine, "GS-MICHEL-CHAUD-1-DEF", lo, hi + 1)
    down = fault[fault["value"] > 0]
    assert len(down) >= 6 and set(down["value"]) == {28.0}
    gas = _readings(engine, "GS-MICHEL-GAZ", int(down["ts"].min()), int(down["ts"].max()) + 1)
    assert np.allclose(np.diff(gas["value"]), 0.0)  # the burner is locked out: no gas
    with session_scope(engine) as s:
        alarms = s.scalars(select(LogbookEntry).where(LogbookEntry.kind == "alarm")).all()
        assert {a.status for a in alarms} == {"done", "open"}
        assert all(a.source == "poller" and a.alarm_key for a in alarms)
    # the open one is yesterday's, on the town hall's boiler, and visible in its channel
    lo, hi = local_day_bounds(TODAY - dt.timedelta(days=1), TODAY - dt.timedelta(days=1))
    assert (_readings(engine, "MAIRIE-CHAUD-1-DEF", lo, hi)["value"] > 0).any()


def test_contract_references_match_the_pre_contract_season(demo):
    """NB = the 2023-24 season's MWh PCI brought to DJU_ref; afterwards most buildings save
    against the corrected target N'B = NB * DJU / DJU_ref and one over-consumes."""
    engine, _, _ = demo
    dju = _season_dju(engine)
    with session_scope(engine) as s:
        refs = {
            cb.building.code: (cb.channel.code, cb.nb_mwh_pci, cb.dju_ref)
            for cb in s.scalars(select(ContractBuilding))
        }
    assert len(refs) == 12
    gaps = {}
    for building, (channel, nb, dju_ref) in refs.items():
        actual = {}
        for season in (2023, 2024):
            d = daily_frame(engine, [channel], *_season(season))
            actual[season] = d["energy_kwh"].sum() / 1000 / 1.11
        assert nb == pytest.approx(actual[2023] * dju_ref / dju[2023], rel=0.02), building
        target = nb * dju[2024] / dju_ref
        gaps[building] = (target - actual[2024]) / target
    savers = [b for b, g in gaps.items() if g > 0.02]
    assert len(savers) >= 8
    assert min(gaps, key=gaps.get) == "GYMNASE" and gaps["GYMNASE"] < -0.12


def test_bookings_logbook_and_obligations(demo):
    engine, _, _ = demo
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    with session_scope(engine) as s:
        bookings = s.scalars(select(Booking)).all()
        rooms = {r.id: r for r in s.scalars(select(Room))}
        assert {rooms[b.room_id].bookable for b in bookings} == {True}
        assert any(b.starts_at > now + dt.timedelta(days=14) for b in bookings)
        assert any(b.series_id for b in bookings) and any(not b.series_id for b in bookings)
        by_id = {b.id: b for b in bookings}
        for b in bookings:  # a series is named by its first occurrence, as carnet.bookings does
            if b.series_id:
                head = by_id[b.series_id]
                assert head.series_id == b.series_id and head.starts_at <= b.starts_at
                assert (head.room_id, head.title) == (b.room_id, b.title)
        assert all(b.setpoint_c and b.preheat_min and b.heating_note for b in bookings)
        frame = pd.DataFrame(
            [(b.room_id, b.starts_at, b.ends_at) for b in bookings if b.status != "cancelled"],
            columns=["room", "start", "end"],
        ).sort_values(["room", "start"])
        assert (
            frame["start"] >= frame.groupby("room")["end"].shift(1).fillna(frame["start"])
        ).all()
        entries = s.scalars(select(LogbookEntry)).all()
        kinds = {e.kind for e in entries}
        assert {
            "observation",
            "preventive",
            "inspection",
            "works",
            "alarm",
            "meter_change",
        } <= kinds
        assert any(e.cost_cents and e.cost_cents > 1_000_000 for e in entries if e.kind == "works")
        assert {"exploitant", "agent", "gestionnaire"} <= {e.author_login for e in entries}
        assert all(e.occurred_at <= now for e in entries)
        obligations = s.scalars(select(Obligation)).all()
        today = TODAY
        overdue = [o for o in obligations if o.active and o.next_due_on < today]
        assert 3 <= len(overdue) < len(obligations) / 4
        templates = {o.template for o in obligations}
        assert {"boiler_maintenance", "chimney_sweeping", "erp_electrical"} <= templates
        assert "heating_inspection_70kw" not in templates  # no heat pump in the demo town
        # a done preventive entry is what moved its obligation's last-done date
        for o in obligations:
            if o.last_done_on and o.template == "boiler_maintenance":
                done = [e for e in entries if e.obligation_id == o.id]
                assert max(e.occurred_at for e in done).date() == o.last_done_on


def test_rooms_are_warm_when_booked(demo):
    engine, _, _ = demo
    with session_scope(engine) as s:
        room = s.scalar(select(Room).where(Room.code == "MEDIATHEQUE-AUDITORIUM"))
        past = s.scalars(
            select(Booking).where(
                Booking.room_id == room.id,
                Booking.status == "confirmed",
                Booking.starts_at >= dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
                Booking.ends_at <= dt.datetime(2026, 2, 28, tzinfo=dt.UTC),
            )
        ).all()
    assert past
    lo, hi = local_day_bounds(dt.date(2025, 12, 1), dt.date(2026, 2, 27))
    t = _readings(engine, "MEDIATHEQUE-AUDITORIUM-T", lo, hi)
    booked = np.zeros(len(t), dtype=bool)
    for b in past:
        booked |= (t["ts"] > b.starts_at.timestamp()) & (t["ts"] <= b.ends_at.timestamp())
    night = pd.to_datetime(t["ts"], unit="s", utc=True).dt.tz_convert("Europe/Paris").dt.hour < 5
    during = t.loc[booked, "value"].mean()
    assert during > 18.0 and during - t.loc[night & ~booked, "value"].mean() > 2.0


def test_carnet_demo_on_an_existing_database_prints_the_logins(demo, monkeypatch, capsys):
    from carnet_cli.main import main

    _, _, url = demo
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    carnet_db.reset_engines()
    try:
        assert main(["demo", "--no-serve"]) == 0
    finally:
        carnet_db.reset_engines()
    out = capsys.readouterr().out
    assert "non reconstruite" in out
    for login, password in demo_passwords(load_demo_portfolio()).items():
        assert login in out and password in out


def test_force_starts_from_an_empty_database(db_url):
    """`carnet demo --force` wipes the database it points at before rebuilding."""
    from carnet_cli.demo_cmd import _wipe

    engine = carnet_db.get_engine(db_url)
    with session_scope(engine) as s:
        s.add(Building(code="X", name="À effacer"))
    _wipe(db_url)
    engine = carnet_db.get_engine(db_url)  # migrated again, from empty
    with session_scope(engine) as s:
        assert s.scalars(select(Building)).all() == []


def test_the_boiler_controllers_last_contact(demo):
    """Every controller answered minutes before the build, except the technical centre's."""
    engine, _, _ = demo
    with session_scope(engine) as s:
        rows = s.scalars(select(DeviceStatus)).all()
        by_building = {r.building_id: r for r in rows}
        buildings = {b.id: b.code for b in s.scalars(select(Building))}
    assert set(by_building) == set(buildings)
    silent = [r for r in rows if r.consecutive_failures > 0]
    assert [buildings[r.building_id] for r in silent] == ["CTM"]
    newest = max(r.last_contact_at for r in rows)
    assert newest - silent[0].last_contact_at > dt.timedelta(hours=24)
    assert "délai" in silent[0].last_error
