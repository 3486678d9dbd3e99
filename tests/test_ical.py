"""iCal feeds: parsed by the real `icalendar` library, open only with a valid, unrevoked token."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest

from carnet import bookings as bk
from carnet import ical
from carnet.db import session_scope
from carnet_cli.main import main
from tests.helpers.booking_town import MANAGER, PROGRAMMER, make_town

PARIS = ZoneInfo("Europe/Paris")
NOTE = (
    "Concert, portes à 19:30 ; la salle doit être à 19 °C, chauffage coupé à 23h, "
    "prévenir le régisseur, merci !"
)


def local(y, m, d, hh=0, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.fixture
def feeds(engine, db_url):
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).astimezone(PARIS).date()
    at = lambda hh, d=start: dt.datetime.combine(d, dt.time(hh), tzinfo=PARIS)  # noqa: E731
    with session_scope(engine) as s:
        make_town(s)
        concert = bk.create_booking(
            s, PROGRAMMER, "SDF-GRANDE", "Concert", at(20), at(23),
            setpoint_c=19, preheat_min=90, heating_note=NOTE, attendance=250,
        )  # fmt: skip
        atelier = bk.create_booking(
            s, PROGRAMMER, "SDF-PETITE", "Atelier", at(14), at(16), setpoint_c=18, preheat_min=45
        )
        gone = bk.create_booking(s, PROGRAMMER, "SDF-GRANDE", "Annulé", at(9), at(10))
        bk.cancel_booking(s, PROGRAMMER, gone.id)
        bk.create_booking(s, PROGRAMMER, "ECOLE-PREAU", "Kermesse", at(14), at(18), setpoint_c=17)
        contract_token = ical.set_contract_token(s, MANAGER, "CHAUFF-T")
        room_token = ical.set_room_token(s, MANAGER, "SDF-PETITE")
        ids = {"concert": concert.id, "atelier": atelier.id, "gone": gone.id}
    from dashboards.app import create_app

    client = create_app(db_url).server.test_client()
    return {
        "client": client,
        "contract_token": contract_token,
        "room_token": room_token,
        "at": at,
        **ids,
    }


def _events(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_contract_feed_parsed_by_icalendar_with_preheat(feeds):
    at = feeds["at"]
    resp = feeds["client"].get(f"/ical/{feeds['contract_token']}.ics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/calendar")
    events = _events(resp.data)
    # the contract's building only (not the school of the other contract)
    assert set(events) == {
        f"booking-{feeds['concert']}@carnet",
        f"booking-{feeds['atelier']}@carnet",
        f"booking-{feeds['gone']}@carnet",
    }
    concert = events[f"booking-{feeds['concert']}@carnet"]
    # the event spans the heating period: 20:00 - 90 min = 18:30 local, until 23:00
    assert concert.decoded("DTSTART") == at(20) - dt.timedelta(minutes=90)
    assert concert.decoded("DTSTART") == at(18).replace(minute=30)
    assert concert.decoded("DTEND") == at(23)
    assert str(concert["X-CARNET-PREHEAT-MIN"]) == "90"
    assert str(concert["X-CARNET-SETPOINT-C"]) == "19"
    assert str(concert["STATUS"]) == "CONFIRMED"
    assert "19 °C" in str(concert["SUMMARY"]) and "Concert" in str(concert["SUMMARY"])
    description = str(concert["DESCRIPTION"])
    assert NOTE in description  # folded and escaped, read back intact
    assert "préchauffage 90 min" in description
    assert f"Début de la réservation : {at(20):%d/%m/%Y %H:%M}" in description
    gone = events[f"booking-{feeds['gone']}@carnet"]
    assert str(gone["STATUS"]) == "CANCELLED"
    for line in resp.data.split(b"\r\n"):
        assert len(line) <= 75


def test_room_feed_holds_the_room_only(feeds):
    at = feeds["at"]
    resp = feeds["client"].get(f"/ical/{feeds['room_token']}.ics")
    assert resp.status_code == 200
    events = _events(resp.data)
    assert list(events) == [f"booking-{feeds['atelier']}@carnet"]
    atelier = events[f"booking-{feeds['atelier']}@carnet"]
    assert atelier.decoded("DTSTART") == at(14) - dt.timedelta(minutes=45)
    assert atelier.decoded("DTEND") == at(16)


def test_feed_refused_without_a_valid_token_and_after_revocation(feeds, engine, capsys):
    client = feeds["client"]
    for path in ("/ical/.ics", "/ical/nope.ics", "/ical/" + "x" * 32 + ".ics", "/ical/a%20b.ics"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert b"VCALENDAR" not in resp.data
    # read-only
    assert client.post(f"/ical/{feeds['contract_token']}.ics").status_code in (401, 405)
    # regenerate from the command line: the old URL dies, the new one works
    assert main(["ical", "token", "--contract", "CHAUFF-T"]) == 0
    out = capsys.readouterr().out
    new_path = next(line for line in out.splitlines() if line.startswith("/ical/"))
    assert client.get(f"/ical/{feeds['contract_token']}.ics").status_code == 404
    assert client.get(new_path).status_code == 200
    # revoke
    assert main(["ical", "token", "--contract", "CHAUFF-T", "--revoke"]) == 0
    assert client.get(new_path).status_code == 404
    assert main(["ical", "token", "--room", "SDF-PETITE", "--revoke"]) == 0
    assert client.get(f"/ical/{feeds['room_token']}.ics").status_code == 404
    with session_scope(engine) as s:
        from sqlalchemy import select

        from carnet.models import AuditEvent

        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "ical_contract")
        ).all()
        assert actions == ["update", "update", "revoke"]
        # the secret itself never reaches the audit trail
        afters = s.scalars(select(AuditEvent.after).where(AuditEvent.entity.like("ical_%"))).all()
        assert all(feeds["contract_token"] not in str(a) for a in afters)


def test_only_the_manager_manages_tokens(engine):
    with session_scope(engine) as s:
        t = make_town(s)
        for actor in (PROGRAMMER, t["contractor"]):
            with pytest.raises(bk.BookingPermissionError):
                ical.set_contract_token(s, actor, "CHAUFF-T")


def test_fold_never_splits_a_character():
    line = "DESCRIPTION:" + "é" * 100
    folded = ical.fold(line)
    parts = folded.split("\r\n ")
    assert "".join(parts) == line
    assert all(len(p.encode()) <= 75 for p in parts)
