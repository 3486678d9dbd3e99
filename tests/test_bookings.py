"""Bookings: conflicts, weekly series across both DST changes, edits and cancellations audited,
roles checked by the service itself."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from carnet import bookings as bk
from carnet.db import session_scope
from carnet.models import AuditEvent, Booking
from tests.helpers.booking_town import MANAGER, PROGRAMMER, make_town

PARIS = ZoneInfo("Europe/Paris")


def local(y, m, d, hh=0, mm=0) -> dt.datetime:
    """An aware Paris wall-clock time (zoneinfo picks the right offset)."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.fixture
def town(engine):
    with session_scope(engine) as s:
        t = make_town(s)
        ids = {k: v.id for k, v in t.items() if hasattr(v, "id")}
        contractor = t["contractor"]
        other = t["other_contractor"]
    return {"engine": engine, **ids, "contractor": contractor, "other_contractor": other}


def book(s, title, start, end, room="SDF-GRANDE", **kw):
    return bk.create_booking(s, PROGRAMMER, room, title, start, end, **kw)


def test_weekly_series_keeps_19h_local_across_both_dst_changes(town):
    # Saturdays from 17/10/2026 to 10/04/2027: summer time ends on Sunday 25/10/2026,
    # starts again on Sunday 28/03/2027; 26/12/2026 is skipped.
    first = local(2026, 10, 17, 19)
    until = dt.date(2027, 4, 10)
    skip = {dt.date(2026, 12, 26)}
    with session_scope(town["engine"]) as s:
        report = bk.create_series(
            s,
            PROGRAMMER,
            "SDF-GRANDE",
            "Chorale",
            first,
            local(2026, 10, 17, 22),
            until,
            skip,
            setpoint_c=19,
            preheat_min=60,
        )
        assert report.conflicts == []
        assert report.skipped_dates == [dt.date(2026, 12, 26)]
        saturdays = [
            dt.date(2026, 10, 17) + dt.timedelta(weeks=k)
            for k in range((until - dt.date(2026, 10, 17)).days // 7 + 1)
        ]
        expected_days = [d for d in saturdays if d not in skip]
        rows = s.scalars(
            select(Booking).where(Booking.series_id == report.series_id).order_by(Booking.starts_at)
        ).all()
        assert [b.starts_at.astimezone(PARIS).date() for b in rows] == expected_days
        assert len(report.created) == len(expected_days) == 25
        for b in rows:
            start_l, end_l = b.starts_at.astimezone(PARIS), b.ends_at.astimezone(PARIS)
            assert (start_l.hour, start_l.minute) == (19, 0)
            assert (end_l.hour, end_l.minute) == (22, 0)
            day = start_l.date()
            winter = dt.date(2026, 10, 25) <= day < dt.date(2027, 3, 28)
            # 19:00 local is 18:00 UTC in winter (+01:00) and 17:00 UTC in summer (+02:00)
            assert b.starts_at.astimezone(dt.UTC).hour == (18 if winter else 17)
            assert start_l.utcoffset() == dt.timedelta(hours=1 if winter else 2)
            assert b.series_id == report.series_id
        offsets = {b.starts_at.astimezone(PARIS).utcoffset() for b in rows}
        assert offsets == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


def test_weekly_occurrences_over_the_changes_keep_wall_duration():
    # an overnight booking Saturday 22:00 -> Sunday 04:00 on the night of the October change
    # lasts 6 wall-clock hours but 7 real hours; on the March change night 5 real hours
    occ, _ = bk.weekly_occurrences(
        dt.datetime(2026, 10, 24, 22), dt.datetime(2026, 10, 25, 4), dt.date(2026, 10, 24)
    )
    assert occ[0][1] - occ[0][0] == dt.timedelta(hours=7)
    occ, _ = bk.weekly_occurrences(
        dt.datetime(2027, 3, 27, 22), dt.datetime(2027, 3, 28, 4), dt.date(2027, 3, 27)
    )
    assert occ[0][1] - occ[0][0] == dt.timedelta(hours=5)


def test_touching_edges_are_not_a_conflict_overlap_is_refused_and_named(town):
    with session_scope(town["engine"]) as s:
        concert = book(s, "Concert de Noël", local(2026, 12, 5, 19), local(2026, 12, 5, 23))
        # ends exactly when the concert starts, starts exactly when it ends: both fine
        book(s, "Répétition", local(2026, 12, 5, 16), local(2026, 12, 5, 19))
        book(s, "Rangement", local(2026, 12, 5, 23), local(2026, 12, 6, 1))
        # the same slot in another room is fine
        book(s, "Réunion", local(2026, 12, 5, 20), local(2026, 12, 5, 21), room="SDF-PETITE")
        with pytest.raises(bk.BookingConflict) as err:
            book(s, "Théâtre", local(2026, 12, 5, 22, 59), local(2026, 12, 5, 23, 30))
        message = str(err.value)
        assert err.value.other.id == concert.id
        assert "Concert de Noël" in message
        assert "05/12/2026 19:00" in message and "05/12/2026 23:00" in message
        # a booking inside the other one, and one covering it, are refused too
        for start, end in [
            (local(2026, 12, 5, 20), local(2026, 12, 5, 21)),
            (local(2026, 12, 5, 18), local(2026, 12, 6, 0)),
        ]:
            with pytest.raises(bk.BookingConflict):
                book(s, "Autre", start, end)
        assert s.scalar(select(Booking.id).where(Booking.title == "Théâtre")) is None


def test_cancelled_bookings_do_not_conflict(town):
    with session_scope(town["engine"]) as s:
        first = book(s, "Loto", local(2026, 11, 14, 14), local(2026, 11, 14, 18))
        bk.cancel_booking(s, PROGRAMMER, first.id, reason="annulé par l'association")
        second = book(s, "Bourse aux jouets", local(2026, 11, 14, 15), local(2026, 11, 14, 17))
        assert second.id != first.id
        # bringing the cancelled one back would now overlap: refused, naming the other
        with pytest.raises(bk.BookingConflict) as err:
            bk.edit_booking(s, PROGRAMMER, first.id, status="confirmed")
        assert "Bourse aux jouets" in str(err.value)
        # a cancelled booking may be created over anything
        book(s, "Ancien loto", local(2026, 11, 14, 14), local(2026, 11, 14, 18), status="cancelled")


def test_series_reports_each_conflicting_occurrence_and_creates_the_others(town):
    with session_scope(town["engine"]) as s:
        a = book(s, "Conseil municipal", local(2027, 1, 12, 18), local(2027, 1, 12, 20))
        b = book(s, "Vœux du maire", local(2027, 1, 26, 19, 30), local(2027, 1, 26, 22))
        report = bk.create_series(
            s,
            PROGRAMMER,
            "SDF-GRANDE",
            "Yoga",
            local(2027, 1, 5, 19),
            local(2027, 1, 5, 20),
            dt.date(2027, 2, 2),
        )
        # Tuesdays 05/01, 12/01, 19/01, 26/01, 02/02: the 12th and the 26th collide
        assert [c.other.id for c in report.conflicts] == [a.id, b.id]
        assert [c.starts_at.astimezone(PARIS).date() for c in report.conflicts] == [
            dt.date(2027, 1, 12),
            dt.date(2027, 1, 26),
        ]
        assert "Conseil municipal" in report.conflicts[0].message
        assert "12/01/2027 19:00" in report.conflicts[0].message
        assert [x.starts_at.astimezone(PARIS).date() for x in report.created] == [
            dt.date(2027, 1, 5),
            dt.date(2027, 1, 19),
            dt.date(2027, 2, 2),
        ]
        assert {x.series_id for x in report.created} == {report.series_id}
        assert "2 occurrence(s) refusée(s)" in report.summary_fr()
        # nothing overlaps in the room
        live = s.scalars(
            select(Booking)
            .where(Booking.room_id == town["hall"], Booking.status != "cancelled")
            .order_by(Booking.starts_at)
        ).all()
        for prev, nxt in zip(live, live[1:], strict=False):
            assert prev.ends_at <= nxt.starts_at
        cancelled = bk.cancel_series(s, PROGRAMMER, report.series_id, dt.date(2027, 1, 10))
        assert len(cancelled) == 2


def test_edits_and_cancellations_are_audited(town):
    with session_scope(town["engine"]) as s:
        x = book(
            s,
            "Concert",
            local(2026, 12, 12, 20),
            local(2026, 12, 12, 23),
            setpoint_c=19,
            preheat_min=90,
            heating_note="portes à 19:30, la salle doit être à 19 °C",
        )
        bk.edit_booking(s, MANAGER, x.id, setpoint_c=20.0, title="Concert du chœur")
        bk.cancel_booking(s, PROGRAMMER, x.id, reason="artiste malade")
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "booking", AuditEvent.entity_id == str(x.id))
            .order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["create", "update", "cancel"]
        assert [e.actor for e in events] == ["prog", "gest", "prog"]
        update = events[1]
        assert update.before["setpoint_c"] == 19.0 and update.after["setpoint_c"] == 20.0
        assert update.before["title"] == "Concert" and update.after["title"] == "Concert du chœur"
        assert events[2].after["status"] == "cancelled"
        assert events[2].after["reason"] == "artiste malade"


def test_roles_are_checked_by_the_service(town):
    with session_scope(town["engine"]) as s:
        book(s, "Gala", local(2026, 12, 19, 20), local(2026, 12, 19, 23))
        bk.create_booking(
            s, MANAGER, "ECOLE-PREAU", "Kermesse", local(2026, 12, 19, 14), local(2026, 12, 19, 18)
        )
        with pytest.raises(bk.BookingPermissionError):
            bk.create_booking(
                s,
                town["contractor"],
                "SDF-GRANDE",
                "Essai",
                local(2026, 12, 20, 9),
                local(2026, 12, 20, 10),
            )
        with pytest.raises(bk.BookingPermissionError):
            bk.list_bookings(s, bk.Actor("compta", "finance"))
        # the contractor reads the bookings of its contract's buildings only
        seen = bk.list_bookings(s, town["contractor"])
        assert [b.title for b in seen] == ["Gala"]
        assert [b.title for b in bk.list_bookings(s, town["other_contractor"])] == ["Kermesse"]
        assert len(bk.list_bookings(s, PROGRAMMER)) == 2


def test_input_is_validated_in_french(town):
    with session_scope(town["engine"]) as s:
        with pytest.raises(bk.BookingError, match="pas réservable"):
            book(s, "Bureau", local(2026, 12, 1, 9), local(2026, 12, 1, 10), room="SDF-BUREAU")
        with pytest.raises(bk.BookingError, match="après le début"):
            book(s, "Envers", local(2026, 12, 1, 10), local(2026, 12, 1, 9))
        with pytest.raises(bk.BookingError, match="consigne"):
            book(s, "Sauna", local(2026, 12, 1, 9), local(2026, 12, 1, 10), setpoint_c=45)
        with pytest.raises(bk.BookingError, match="inconnue"):
            book(s, "Nulle part", local(2026, 12, 1, 9), local(2026, 12, 1, 10), room="XX")
    with pytest.raises(bk.BookingError, match="n'existe pas"):
        bk.parse_local_datetime("2027-03-28T02:30")
    with pytest.raises(bk.BookingError, match="ambiguë"):
        bk.parse_local_datetime("2026-10-25T02:30")
    # French and ISO input, with and without an offset
    assert bk.parse_local_datetime("05/12/2026 19:00") == dt.datetime(
        2026, 12, 5, 18, tzinfo=dt.UTC
    )
    assert bk.parse_local_datetime("2026-07-05T19:00") == dt.datetime(2026, 7, 5, 17, tzinfo=dt.UTC)
    assert bk.parse_local_datetime("2026-10-25T02:30+01:00") == dt.datetime(
        2026, 10, 25, 1, 30, tzinfo=dt.UTC
    )
