"""The contractor's heating schedule (what changed since the last look) and the booking CLI."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from carnet import bookings as bk
from carnet import heating_schedule as hs
from carnet.db import session_scope
from carnet.models import Booking, User
from carnet_cli.main import main
from tests.helpers.booking_town import PROGRAMMER, make_town

PARIS = ZoneInfo("Europe/Paris")


def local(y, m, d, hh=0, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.fixture
def town(engine):
    with session_scope(engine) as s:
        t = make_town(s)
        user = User(
            login="exploit", name="Exploitant", role="contractor", contract_id=t["contract"].id
        )
        s.add(user)
        s.flush()
        return {"engine": engine, "contractor": t["contractor"], "user_id": user.id}


def _age(s, booking_id: int, when: dt.datetime) -> None:
    """Pretend the booking was created and last changed at `when`."""
    b = s.get(Booking, booking_id)
    b.created_at = when
    b.updated_at = when
    s.flush()


def test_schedule_heats_from_start_minus_preheat_and_flags_changes_since_last_look(town):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = (now + dt.timedelta(days=2)).astimezone(PARIS).date()
    at = lambda hh, d=day: dt.datetime.combine(d, dt.time(hh), tzinfo=PARIS)  # noqa: E731
    with session_scope(town["engine"]) as s:
        kept = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Concert", at(20), at(23), setpoint_c=19, preheat_min=90
        )
        moved = bk.create_booking(
            s, PROGRAMMER, "SDF-PETITE", "Atelier", at(14), at(16), setpoint_c=18, preheat_min=30
        )
        dropped = bk.create_booking(
            s, PROGRAMMER, "SDF-PETITE", "Réunion", at(9), at(11), setpoint_c=19
        )
        option = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Peut-être", at(9), at(10), status="option"
        )
        far = bk.create_booking(
            s,
            PROGRAMMER,
            "SDF-GRANDE",
            "Trop loin",
            at(9, day + dt.timedelta(days=20)),
            at(10, day + dt.timedelta(days=20)),
        )
        other = bk.create_booking(
            s, PROGRAMMER, "ECOLE-PREAU", "Kermesse", at(14), at(18), setpoint_c=17
        )
        for b in (kept, moved, dropped, option, far, other):
            _age(s, b.id, now - dt.timedelta(hours=2))
        previous = hs.record_view(s, town["user_id"], now - dt.timedelta(hours=1))
        assert previous is None
        assert hs.last_seen(s, town["user_id"]) == now - dt.timedelta(hours=1)

        bk.edit_booking(s, PROGRAMMER, moved.id, starts_at=at(15))
        bk.cancel_booking(s, PROGRAMMER, dropped.id)
        new = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Bal", at(14), at(18), setpoint_c=20, preheat_min=120
        )
        since = hs.last_seen(s, town["user_id"])
        frame = hs.heating_schedule(s, town["contractor"], now=now, since=since)

    by_id = frame.set_index("booking_id")
    # confirmed bookings of the contract's buildings, within 14 days; the cancelled one stays
    # visible as cancelled; the option, the one in 20 days and the other contract's are out
    assert set(by_id.index) == {kept.id, moved.id, dropped.id, new.id}
    assert by_id.loc[kept.id, "heat_from"] == at(20) - dt.timedelta(minutes=90)
    assert by_id.loc[kept.id, "until"] == at(23)
    assert by_id.loc[kept.id, "setpoint_c"] == 19
    assert by_id.loc[new.id, "heat_from"] == at(14) - dt.timedelta(minutes=120)
    assert by_id.loc[moved.id, "heat_from"] == at(15) - dt.timedelta(minutes=30)
    assert pd_none(by_id.loc[kept.id, "change"])
    assert by_id.loc[new.id, "change"] == "new"
    assert by_id.loc[moved.id, "change"] == "updated"
    assert by_id.loc[dropped.id, "change"] == "cancelled"
    assert set(frame["heating_zone"]) == {"Z-NORD"}

    # both rooms share zone Z-NORD: the Bal (12:00-18:00) and the Atelier (14:30-16:00) merge
    zones = hs.zone_periods(frame)
    assert len(zones) == 2
    merged = zones.iloc[0]
    assert merged["heat_from"] == at(12) and merged["until"] == at(18)
    assert merged["setpoint_c"] == 20
    assert merged["rooms"] == "SDF-GRANDE, SDF-PETITE"
    assert zones.iloc[1]["heat_from"] == at(20) - dt.timedelta(minutes=90)


def pd_none(value) -> bool:
    return value is None or value != value


def test_schedule_refused_to_the_programmer(town):
    with session_scope(town["engine"]) as s, pytest.raises(bk.BookingPermissionError):
        hs.heating_schedule(s, PROGRAMMER)


def test_cli_add_refuses_a_conflict_with_non_zero_exit_and_names_it(engine, capsys):
    with session_scope(engine) as s:
        make_town(s)
    rc = main(
        [
            "booking", "add", "--room", "SDF-GRANDE", "--start", "2026-12-05T19:00",
            "--end", "2026-12-05T23:00", "--setpoint", "19", "--preheat", "90",
            "--note", "portes à 19:30", "--title", "Concert de Noël",
        ]
    )  # fmt: skip
    assert rc == 0
    assert "créée" in capsys.readouterr().out
    rc = main(
        ["booking", "add", "--room", "SDF-GRANDE", "--start", "05/12/2026 22:00",
         "--end", "05/12/2026 23:30", "--title", "Bal"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0
    assert "Concert de Noël" in err and "05/12/2026 19:00" in err
    # touching the end is fine
    assert main(["booking", "add", "--room", "SDF-GRANDE", "--start", "2026-12-05T23:00",
                 "--end", "2026-12-06T01:00"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["booking", "list", "--json", "--from", "2026-12-05", "--to", "05/12/2026"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in rows] == ["Concert de Noël", "Réservation"]
    assert rows[0]["start"] == "2026-12-05T19:00:00+01:00"
    assert rows[0]["setpoint_c"] == 19.0 and rows[0]["preheat_min"] == 90
    assert rows[0]["heating_note"] == "portes à 19:30"


def test_cli_weekly_series_reports_conflicts(engine, capsys):
    with session_scope(engine) as s:
        make_town(s)
    assert main(["booking", "add", "--room", "SDF-GRANDE", "--start", "2027-01-12T18:00",
                 "--end", "2027-01-12T20:00", "--title", "Conseil"]) == 0  # fmt: skip
    capsys.readouterr()
    rc = main(
        ["booking", "add", "--room", "SDF-GRANDE", "--start", "2027-01-05T19:00",
         "--end", "2027-01-05T20:00", "--title", "Yoga", "--weekly-until", "2027-02-02",
         "--except", "2027-01-19"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1  # partial success: created, but some occurrences refused
    assert "3 occurrence(s) créée(s)" in out
    assert "12/01/2027 19:00" in out and "Conseil" in out
    assert "19/01/2027" in out  # the exception
    with session_scope(engine) as s:
        yoga = s.scalars(select(Booking).where(Booking.title == "Yoga")).all()
        assert len(yoga) == 3 and len({b.series_id for b in yoga}) == 1
