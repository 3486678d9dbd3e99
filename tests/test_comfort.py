"""Comfort delivered during bookings and heating energy outside use, on a constructed case whose
figures are worked out by hand here from the definitions."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from carnet import bookings as bk
from carnet.db import session_scope
from carnet.frames_comfort import comfort_frames
from carnet.models import Channel
from carnet.store import write_readings
from carnet_cli.main import main
from contract import comfort
from contract.comfort_report import comfort_report
from tests.helpers.booking_town import PROGRAMMER, make_town

PARIS = ZoneInfo("Europe/Paris")
KWH_PER_M3 = 10.0
# Saturday 07/11/2026, concert 19:00-22:00, setpoint 19 °C, pre-heating 60 min.
# Indoor temperature every 15 minutes from 19:00 (each value holds 15 minutes).
CONCERT_TEMPS = [16.0, 17.0, 17.8, 18.0, 18.6, 19.1, 19.2, 19.0, 17.5, 18.1, 18.4, 18.9]


def local(y, m, d, hh=0, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=PARIS)


def epoch(x: dt.datetime) -> int:
    return int(x.timestamp())


def gas_m3(hour_index: int) -> float:
    """Gas burnt in the hour starting `hour_index` hours after Saturday 00:00 local."""
    return 1.0 + (hour_index % 3)


@pytest.fixture
def case(engine):
    with session_scope(engine) as s:
        t = make_town(s)  # SDF usual schedule: Mondays 08:00-12:00
        temp = Channel(
            code="SDF-GRANDE-T",
            building_id=t["salle"].id,
            room_id=t["hall"].id,
            quantity="temp_indoor_c",
            kind="instant",
            unit="degC",
        )
        gas = Channel(
            code="SDF-GAZ",
            building_id=t["salle"].id,
            quantity="gas_volume_m3",
            kind="index",
            unit="m3",
            kwh_per_unit=KWH_PER_M3,
        )
        s.add_all([temp, gas])
        s.flush()
        concert = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Concert", local(2026, 11, 7, 19), local(2026, 11, 7, 22),
            setpoint_c=19, preheat_min=60,
        )  # fmt: skip
        meeting = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Réunion", local(2026, 11, 9, 9), local(2026, 11, 9, 10),
            setpoint_c=20,
        )  # fmt: skip
        # no temperature channel in the small room: no comfort figures, but it is occupancy
        bk.create_booking(
            s, PROGRAMMER, "SDF-PETITE", "Atelier", local(2026, 11, 8, 14), local(2026, 11, 8, 16),
            setpoint_c=18, preheat_min=30,
        )  # fmt: skip
        ids = {"concert": concert.id, "meeting": meeting.id, "temp": temp.id, "gas": gas.id}
        ids["building"] = t["salle"].id
        ids["room"] = t["hall"].id

    start = local(2026, 11, 7, 19)
    temps = [(start + dt.timedelta(minutes=15 * i), v) for i, v in enumerate(CONCERT_TEMPS)]
    temps += [(local(2026, 11, 7, 18, 45), 15.0), (local(2026, 11, 7, 22), 12.0)]
    temps += [(local(2026, 11, 9, 8, 30) + dt.timedelta(minutes=30 * i), 20.5) for i in range(4)]
    hours = pd.date_range(local(2026, 11, 7), local(2026, 11, 10), freq="h")
    index_m3 = np.concatenate([[1000.0], 1000.0 + np.cumsum([gas_m3(i) for i in range(72)])])
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "channel_id": ids["temp"],
                    "ts": [epoch(t) for t, _ in temps],
                    "value": [v for _, v in temps],
                }
            ),  # fmt: skip
            pd.DataFrame(
                {"channel_id": ids["gas"], "ts": [epoch(h) for h in hours], "value": index_m3}
            ),
        ]
    )
    write_readings(engine, frame)
    return ids


def test_comfort_figures_by_hand(case, engine):
    frames = comfort_frames(
        engine, dt.date(2026, 11, 1), dt.date(2026, 11, 30), None, comfort.DEFAULT_MAX_GAP_S
    )
    report = comfort_report(frames, now=local(2026, 12, 1).astimezone(dt.UTC))
    rows = report.bookings.set_index("booking_id")
    assert set(rows.index) == {case["concert"], case["meeting"]}  # the atelier has no sensor

    concert = rows.loc[case["concert"]]
    threshold = 19 - 1.0  # default tolerance: 1 °C below the setpoint
    ok_minutes = sum(15 for v in CONCERT_TEMPS if v >= threshold)  # 8 quarter-hours
    assert ok_minutes == 120
    assert concert["share_ok"] == pytest.approx(ok_minutes / 180)
    first_ok = next(i for i, v in enumerate(CONCERT_TEMPS) if v >= threshold)  # 19:45
    assert concert["minutes_late"] == pytest.approx(15 * first_ok) == 45
    assert concert["max_shortfall_c"] == pytest.approx(19 - min(CONCERT_TEMPS)) == 3.0
    assert concert["coverage"] == pytest.approx(1.0)
    assert bool(concert["reached"])

    meeting = rows.loc[case["meeting"]]  # 20.5 °C all along, setpoint 20
    assert meeting["share_ok"] == 1.0
    assert meeting["minutes_late"] == 0.0
    assert meeting["max_shortfall_c"] == 0.0

    # a stricter tolerance: 0.5 °C below 19 -> only readings >= 18.5 count
    strict = comfort_report(
        frames, now=local(2026, 12, 1).astimezone(dt.UTC), tolerance_below_c=0.5
    ).bookings.set_index("booking_id").loc[case["concert"]]  # fmt: skip
    assert strict["share_ok"] == pytest.approx(sum(15 for v in CONCERT_TEMPS if v >= 18.5) / 180)
    assert strict["minutes_late"] == 15 * next(i for i, v in enumerate(CONCERT_TEMPS) if v >= 18.5)

    # energy: hours [h, h+1) overlapping no use. Uses: Saturday 18:00-22:00 (concert with its
    # hour of pre-heating), Sunday 13:30-16:00 (atelier), Monday 08:00-12:00 (usual schedule,
    # which contains the meeting). Hour i counts from Saturday 00:00 local.
    used = set(range(18, 22)) | {24 + 13, 24 + 14, 24 + 15} | set(range(48 + 8, 48 + 12))
    outside_kwh = sum(gas_m3(i) * KWH_PER_M3 for i in range(72) if i not in used)
    total_kwh = sum(gas_m3(i) * KWH_PER_M3 for i in range(72))
    b = report.buildings.set_index("building_id").loc[case["building"]]
    assert b["energy_kwh"] == pytest.approx(total_kwh)
    assert b["energy_outside_kwh"] == pytest.approx(outside_kwh)
    assert b["share_outside"] == pytest.approx(outside_kwh / total_kwh)
    assert b["month"] == "2026-11"
    assert b["bookings"] == 2

    # monthly per room: time-weighted share, mean lateness, worst shortfall
    r = report.rooms.set_index("room_id").loc[case["room"]]
    assert r["bookings"] == 2
    assert r["booked_h"] == pytest.approx(4.0)
    assert r["share_ok"] == pytest.approx((ok_minutes + 60) / (180 + 60))
    assert r["mean_minutes_late"] == pytest.approx((45 + 0) / 2)
    assert r["late_bookings"] == 1
    assert r["max_shortfall_c"] == pytest.approx(3.0)


def test_comfort_cli_json(case, capsys):
    assert main(["comfort", "--month", "2026-11", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (room,) = out["rooms"]
    assert room["room"] == "SDF-GRANDE" and room["bookings"] == 2
    (building,) = out["buildings"]
    assert building["building"] == "SDF"
    assert building["energy_kwh"] == pytest.approx(sum(gas_m3(i) * KWH_PER_M3 for i in range(72)))
    assert main(["comfort", "--month", "2026-11"]) == 0
    text = capsys.readouterr().out
    assert "SDF-GRANDE" in text and "75 %" in text
    # scoped to a contract: CHAUFF-T holds the hall, AUTRE-T only the school
    assert main(["comfort", "--month", "2026-11", "--contract", "CHAUFF-T", "--json"]) == 0
    assert [r["room"] for r in json.loads(capsys.readouterr().out)["rooms"]] == ["SDF-GRANDE"]
    assert main(["comfort", "--month", "2026-11", "--contract", "AUTRE-T", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rooms"] == []
    assert main(["comfort", "--contract", "NOPE"]) == 2


def test_silence_longer_than_max_gap_is_no_data():
    bookings = pd.DataFrame(
        {"booking_id": [1], "room_id": [7], "building_id": [1], "start_ts": [0],
         "end_ts": [6 * 3600], "setpoint_c": [19.0]}
    )  # fmt: skip
    # warm at 0 then silent for 6 hours: only the first 3 hours (max gap) are covered
    temps = pd.DataFrame({"room_id": [7], "ts": [0], "temp_c": [19.5]})
    out = comfort.booking_comfort(bookings, temps).iloc[0]
    assert out["covered_s"] == 3 * 3600
    assert out["coverage"] == pytest.approx(0.5)
    assert out["share_ok"] == 1.0


def test_usual_schedule_follows_the_local_clock_across_dst():
    # Sundays 08:00-12:00 local: 06:00 UTC on 18/10/2026 (summer), 07:00 UTC on 25/10 and 01/11
    frame = comfort.schedule_intervals(
        {1: {"sun": ["08:00-12:00"]}}, dt.date(2026, 10, 18), dt.date(2026, 11, 1)
    )
    starts = [dt.datetime.fromtimestamp(int(x), dt.UTC).hour for x in frame["start_ts"]]
    assert starts == [6, 7, 7]
    assert list(frame["end_ts"] - frame["start_ts"]) == [4 * 3600] * 3
