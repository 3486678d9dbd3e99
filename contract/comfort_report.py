"""The comfort figures of some buildings over local dates, from what the record holds
(`carnet.frames_comfort.comfort_frames`, indoor temperatures from
`comfort.DEFAULT_MAX_GAP_S` before the first day): each booking judged, then per room and building,
with the heating energy spent outside use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract import comfort
from contract.calendar import local_day_bounds


@dataclass
class ComfortReport:
    day_from: dt.date
    day_to: dt.date
    bookings: pd.DataFrame  # per booking comfort figures, with room/building codes and title
    rooms: pd.DataFrame  # monthly per room
    buildings: pd.DataFrame  # monthly per building
    energy: pd.DataFrame  # heating increments with the `outside` flag


def comfort_report(
    frames,
    now: dt.datetime | None = None,
    tolerance_below_c: float = comfort.DEFAULT_TOLERANCE_BELOW_C,
    tolerance_above_c: float | None = None,
) -> ComfortReport:
    """Comfort and energy outside use over the frames' local dates (inclusive).

    Only bookings that have ended by `now` are judged.
    """
    now = now or dt.datetime.now(dt.UTC)
    day_from, day_to = frames.day_from, frames.day_to
    lo, hi = local_day_bounds(day_from, day_to)
    now_ts = int(now.timestamp())
    book, rooms, buildings = frames.bookings, frames.rooms, frames.buildings
    heat_from = book["start_ts"] - book["preheat_min"].fillna(0).astype("int64") * 60
    in_window = book[(book["end_ts"] > lo) & (heat_from < hi)]
    judged = in_window[
        (in_window["start_ts"] < hi)
        & (in_window["end_ts"] <= now_ts)
        & in_window["setpoint_c"].notna()
    ]
    result = comfort.booking_comfort(judged, frames.temps, tolerance_below_c, tolerance_above_c)
    result = result.merge(book[["booking_id", "title"]], on="booking_id", how="left")
    result = result.merge(rooms[["room_id", "room", "room_name"]], on="room_id", how="left")
    result = result.merge(buildings[["building_id", "building"]], on="building_id", how="left")

    schedules = {
        int(bid): s for bid, s in zip(buildings["building_id"], buildings["schedule"], strict=True)
    }
    occupied = comfort.occupied_intervals(
        in_window.loc[:, ["building_id", "start_ts", "end_ts", "preheat_min"]],
        schedules,
        day_from,
        day_to,
    )
    energy = comfort.energy_outside(frames.increments, occupied)

    room_month = comfort.monthly_rooms(result).merge(
        rooms[["room_id", "room", "room_name"]], on="room_id", how="left"
    )
    building_month = comfort.monthly_buildings(result, energy).merge(
        buildings[["building_id", "building", "building_name"]], on="building_id", how="left"
    )
    return ComfortReport(day_from, day_to, result, room_month, building_month, energy)


def comfort_records(report: ComfortReport) -> list[dict]:
    """The month's usage performance of the buildings (DESIGN.md, "Usage performance"), as
    the contract report shows it: same figures as `carnet comfort`."""

    def num(value, ndigits=4):
        if value is None:
            return None
        value = float(value)
        return round(value, ndigits) if np.isfinite(value) else None

    out = []
    for rec in report.buildings.to_dict("records"):
        share_ok, share_out = num(rec.get("share_ok")), num(rec.get("share_outside"))
        out.append(
            {
                "building_code": rec["building"],
                "bookings": int(rec.get("bookings") or 0),
                "share_ok_pct": None if share_ok is None else round(100 * share_ok, 1),
                "late_bookings": int(rec.get("late_bookings") or 0),
                "max_shortfall_c": num(rec.get("max_shortfall_c"), 2),
                "energy_kwh": num(rec.get("energy_kwh"), 1),
                "energy_outside_kwh": num(rec.get("energy_outside_kwh"), 1),
                "share_outside_pct": None if share_out is None else round(100 * share_out, 1),
            }
        )
    return out
