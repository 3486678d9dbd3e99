"""The demo town's room bookings: weekly series and one-off events from
`data/demo/simulation.yaml`, the hours they heat their room, and the bookings as the programmer
would have entered them."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import Booking, Room
from carnet.timeutil import local_to_utc, to_epoch
from carnet_cli.demo.calendar_weather import Clock, public_holidays, school_holidays
from carnet_cli.demo.scenario import behaviour
from carnet_cli.demo.streams import uniform


def _local_ts(day: np.datetime64, hhmm: str, plus_min: int = 0) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    naive = pd.Timestamp(day) + pd.Timedelta(minutes=h * 60 + m + plus_min)
    return int(to_epoch(local_to_utc([naive], ambiguous="NaT", nonexistent="NaT"))[0])


def simulate_bookings(seed: int, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Bookings of the rooms from `first` to `last` (local dates): weekly series outside school
    holidays, one-off events; no two bookings of a room overlap."""
    days = np.arange(np.datetime64(first), np.datetime64(last) + 1, dtype="datetime64[D]")
    weekday = pd.DatetimeIndex(days).day_of_week.to_numpy()
    holidays = school_holidays(days) | np.isin(
        days,
        np.array(sorted(public_holidays(range(first.year, last.year + 2))), dtype="datetime64[D]"),
    )
    summer = np.isin(pd.DatetimeIndex(days).month.to_numpy(), (7, 8))
    rows = []
    world = behaviour()
    for sid, s in enumerate(world["series"], start=1):
        k = np.flatnonzero((weekday == s.weekday) & ~holidays & ~summer)
        if s.monthly:
            k = k[::4]
        for d in days[k]:
            rows.append(
                dict(
                    room=s.room,
                    series_id=sid,
                    title=s.title,
                    organiser=s.organiser,
                    day=d,
                    start=s.start,
                    end=s.end,
                    setpoint_c=s.setpoint_c,
                    preheat_min=s.preheat_min,
                    heating_note=s.note,
                    attendance=s.attendance,
                )
            )
    for e, ev in enumerate(world["events"]):
        room, titles, wdays = ev["room"], ev["titles"], tuple(ev["weekdays"])
        day_slot, eve_slot = tuple(ev["day_slot"]), tuple(ev["evening_slot"])
        sp, pre, rate = ev["setpoint_c"], ev["preheat_min"], ev["per_month"]
        day_no = days.astype("int64")  # draws keyed by the day: stable whatever the range
        ok = np.isin(weekday, wdays) & ~summer
        k = np.flatnonzero(ok & (uniform(seed, room, day_no) < rate * 12 / 52 / len(wdays)))
        pick = (uniform(seed, room + "/title", day_no[k]) * len(titles)).astype(int)
        evening = uniform(seed, room + "/evening", day_no[k]) < 0.65
        size = uniform(seed, room + "/attendance", day_no[k])
        for d, t, ev, z in zip(days[k], pick, evening, size, strict=True):
            a, b = eve_slot if ev else day_slot
            title = titles[t]
            note = (
                f"{title} : salle à {sp:g} °C à l'ouverture des portes ({a.replace(':', ' h ')})."
            )
            rows.append(
                dict(
                    room=room,
                    series_id=None,
                    title=title,
                    organiser=None,
                    day=d,
                    start=a,
                    end=b,
                    setpoint_c=float(sp),
                    preheat_min=pre,
                    heating_note=note,
                    attendance=int(40 + 260 * z) if e < 2 else int(15 + 95 * z),
                )
            )
    frame = pd.DataFrame(rows)
    starts, ends = [], []
    for d, a, b in zip(frame["day"], frame["start"], frame["end"], strict=True):
        starts.append(_local_ts(d, a))
        ends.append(_local_ts(d, b) if b != "23:59" else _local_ts(d, "00:00", 24 * 60 + 60))
    frame["start_ts"] = np.array(starts, dtype="int64")
    frame["end_ts"] = np.array(ends, dtype="int64")
    # series first: an event never displaces a weekly slot; drop overlaps per room
    frame["prio"] = frame["series_id"].isna().astype(int)
    frame = frame.sort_values(["room", "start_ts", "prio"]).reset_index(drop=True)
    prev_end = frame.groupby("room")["end_ts"].shift(1)
    overlap = frame["start_ts"] < prev_end.fillna(-1)
    frame = frame[~overlap].reset_index(drop=True)
    room_no = frame["room"].map(lambda r: int(hashlib.sha256(r.encode()).hexdigest()[:8], 16))
    key = (frame["start_ts"].to_numpy(), room_no.to_numpy(dtype="int64"))
    frame["status"] = np.where(uniform(seed, "cancelled", *key) < 0.03, "cancelled", "confirmed")
    frame["late"] = (uniform(seed, "late", *key) < 0.12) & (frame["status"] == "confirmed")
    frame["organiser"] = frame["organiser"].fillna(
        pd.Series(
            np.where(
                frame["room"].str.startswith("SALLE-FETES"),
                "Particulier / association",
                "Service culturel",
            ),
            index=frame.index,
        )
    )
    return frame.drop(columns=["prio"])


def room_heated(bookings: pd.DataFrame, clock: Clock) -> tuple[np.ndarray, np.ndarray]:
    """Per hour of the clock: heated by a booking (incl. preheating) and the target °C."""
    heated = np.zeros(len(clock.ts), dtype=bool)
    target = np.zeros(len(clock.ts))
    b = bookings[bookings["status"] != "cancelled"]
    if not len(b):
        return heated, target
    preheat = b["preheat_min"].to_numpy() - np.where(b["late"].to_numpy(), 90, 0)
    heat_from = b["start_ts"].to_numpy() - np.maximum(preheat, 0) * 60
    t0 = clock.ts[0]
    i0 = np.clip((heat_from - t0 + 3599) // 3600 + 1, 0, len(clock.ts))
    i1 = np.clip((b["end_ts"].to_numpy() - t0) // 3600 + 1, 0, len(clock.ts))
    span = np.maximum(i1 - i0, 0)
    rep = np.repeat(np.arange(len(b)), span)
    idx = i0[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    heated[idx] = True
    start_i = (b["start_ts"].to_numpy() - t0) // 3600
    sp = b["setpoint_c"].to_numpy(dtype=float)
    # boost while preheating, then hold just above the setpoint
    target[idx] = sp[rep] + np.where(idx <= start_i[rep], 1.5, 0.5)
    return heated, target


def _utc(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC)


def write_bookings(
    session: Session, bookings: pd.DataFrame, seed: int, start_ts: int, now_ts: int
) -> None:
    """Bookings as the programmer would have entered them; a weekly series shares the id of
    its first occurrence as `series_id`, as `carnet.bookings` does."""
    rooms = dict(session.execute(select(Room.code, Room.id)).all())
    b = bookings[bookings["start_ts"] >= start_ts].sort_values("start_ts")
    future = b["start_ts"] > now_ts
    pending = uniform(seed, "option", b["start_ts"].to_numpy()) < 0.2
    option = future & pending & b["series_id"].isna()  # events not yet confirmed
    # entered three weeks ahead; a series all at once, before its first occurrence
    first = b.groupby("series_id")["start_ts"].transform("min")
    entered = np.where(b["series_id"].notna(), first, b["start_ts"]) - 21 * 86400
    entered = np.minimum(entered, now_ts)
    rows = [
        Booking(
            room_id=rooms[r.room],
            title=r.title,
            organiser=r.organiser,
            attendance=int(r.attendance),
            starts_at=_utc(r.start_ts),
            ends_at=_utc(r.end_ts),
            status="option" if opt else r.status,
            setpoint_c=float(r.setpoint_c),
            preheat_min=int(r.preheat_min),
            heating_note=r.heating_note,
            created_by="culture",
            created_at=_utc(c),
            updated_at=_utc(c),
        )
        for r, opt, c in zip(b.itertuples(), option, entered, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    series_ids: dict[int, int] = {}
    for booking, sid in zip(rows, b["series_id"], strict=True):
        if not pd.isna(sid):
            booking.series_id = series_ids.setdefault(int(sid), booking.id)
