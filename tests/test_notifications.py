"""E-mail notifications end to end, through a real SMTP server on loopback (aiosmtpd): each
event reaches the right user once, within its scope, as the user chose (at once, in the daily
digest, or not at all); a server that refuses or is away delays the notice, never loses it,
and it is delivered exactly once, even when two runs overlap."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from carnet import roles
from carnet.access import SYSTEM, Actor
from carnet.alarms import acknowledge, device_normal, open_episode
from carnet.bookings import cancel_booking, create_booking, edit_booking
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.logbook_triage import close_with_answer
from carnet.models import Building, ClosedPeriod, Contract, Notice, QuarantinedReading, User
from carnet.notifications import Thresholds, next_digest_at, set_preferences
from carnet.obligations import add_obligation
from carnet.outbox import BACKOFF_FIRST
from carnet.timeutil import TZ
from carnet_cli.main import COMMAND_MODULES, COMMANDS
from carnet_cli.notify_cmd import run_once
from carnet_cli.notify_schedule import every_minutes, start_schedule
from tests.helpers.fresh_interpreter import modules_after as _modules_after
from tests.helpers.notify_town import (
    EMAIL_OF,
    SmtpServer,
    free_port,
    html_of,
    seed_notify_town,
    self_signed_certificate,
    text_of,
)

ROOT = Path(__file__).resolve().parent.parent
CARNET = str(Path(sys.executable).parent / "carnet")
PROGRAMMER = Actor("programmation", roles.PROGRAMMER)
AGENT = Actor("agent", roles.AGENT)


@pytest.fixture
def town(engine):
    return seed_notify_town(engine)


@pytest.fixture
def smtp(monkeypatch):
    server = SmtpServer()
    server.start()
    monkeypatch.setenv("CARNET_SMTP_URL", server.url)
    monkeypatch.setenv("CARNET_BASE_URL", "https://carnet.ville.test/")
    yield server
    server.stop()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def book(engine, room: str, hours_ahead: float, **kw) -> int:
    start = now() + dt.timedelta(hours=hours_ahead)
    with session_scope(engine) as s:
        b = create_booking(
            s, PROGRAMMER, room, kw.pop("title", "Concert"), start, start + dt.timedelta(hours=3),
            setpoint_c=kw.pop("setpoint_c", 19.5), preheat_min=90, heating_note="portes à 19:30",
            **kw,
        )  # fmt: skip
        return b.id


def notices(engine, login: str | None = None) -> list[Notice]:
    with session_scope(engine) as s:
        stmt = select(Notice).order_by(Notice.id)
        if login:
            stmt = stmt.join(User, User.id == Notice.user_id).where(User.login == login)
        rows = s.scalars(stmt).all()
        s.expunge_all()
        return rows


def kinds(engine, login: str) -> list[str]:
    return sorted(n.kind for n in notices(engine, login))


def test_a_booking_with_a_heating_note_reaches_its_contractor_only_once(engine, town, smtp):
    book(engine, "MAIRIE-CONSEIL", 30, title="Concert du conservatoire")
    first = run_once(engine, now())
    assert first.sent == 1 and first.failed == 0
    [msg] = smtp.sink.messages
    assert msg["X-Envelope-To"] == EMAIL_OF["exploitant"]
    assert "Réservation créée" in msg["Subject"] and "Concert du conservatoire" in msg["Subject"]
    body = text_of(msg)
    assert "Salle du conseil, Hôtel de ville" in body and "consigne 19,5 °C" in body
    assert "préchauffage 90 min" in body and "portes à 19:30" in body
    assert "https://carnet.ville.test/planning-chauffage" in body
    assert 'href="https://carnet.ville.test/planning-chauffage"' in html_of(msg)
    assert "https://carnet.ville.test/mes-notifications" in body
    # the same fact again: nothing new, nothing sent twice
    again = run_once(engine, now() + dt.timedelta(minutes=5))
    assert again.created == 0 and again.sent == 0 and len(smtp.sink.messages) == 1
    assert kinds(engine, "autre-exploitant") == []  # another contract's building: nothing
    assert kinds(engine, "gestionnaire") == []


def test_changed_and_cancelled_bookings_are_new_facts(engine, town, smtp):
    booking = book(engine, "PASTEUR-PREAU", 60)
    run_once(engine, now())
    with session_scope(engine) as s:
        edit_booking(s, PROGRAMMER, booking, setpoint_c=21.0)
    run_once(engine, now())
    with session_scope(engine) as s:
        cancel_booking(s, PROGRAMMER, booking)
    run_once(engine, now())
    subjects = [m["Subject"] for m in smtp.sink.to(EMAIL_OF["autre-exploitant"])]
    assert [s.split(" : ")[0].removeprefix("[Carnet] ") for s in subjects] == [
        "Réservation créée",
        "Réservation modifiée",
        "Réservation annulée",
    ]
    assert smtp.sink.to(EMAIL_OF["exploitant"]) == []


def test_digest_waits_for_its_hour_but_a_booking_within_48_h_goes_at_once(engine, town, smtp):
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.login == "exploitant"))
        set_preferences(s, user, {"booking_heating": "digest"}, digest_hour=6)
    book(engine, "MAIRIE-CONSEIL", 24 * 5, title="Bal lointain")  # in 5 days: the digest
    book(engine, "MAIRIE-CONSEIL", 20, title="Répétition proche")  # within 48 h: at once
    t0 = now()
    run_once(engine, t0)
    [urgent] = smtp.sink.messages
    assert "Répétition proche" in urgent["Subject"]
    waiting = [n for n in notices(engine, "exploitant") if n.state == "pending"]
    assert [n.mode for n in waiting] == ["digest"]
    digest_at = next_digest_at(t0, 6)
    assert digest_at.astimezone(TZ).hour == 6 and waiting[0].due_at == digest_at
    run_once(engine, digest_at - dt.timedelta(minutes=1))
    assert len(smtp.sink.messages) == 1
    run_once(engine, digest_at)
    digest = smtp.sink.messages[1]
    assert digest["Subject"].startswith("[Carnet] Résumé du") and "1 avis" in digest["Subject"]
    assert "Bal lointain" in text_of(digest)
    run_once(engine, digest_at + dt.timedelta(hours=1))
    assert len(smtp.sink.messages) == 2


def test_opting_out_creates_no_notice(engine, town, smtp):
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.login == "exploitant"))
        set_preferences(s, user, {"booking_heating": "off"})
    book(engine, "MAIRIE-CONSEIL", 10)
    report = run_once(engine, now())
    assert report.created == 0 and smtp.sink.messages == []


def test_each_event_reaches_the_right_users_once(engine, town, smtp):
    today = now().astimezone(TZ).date()
    with session_scope(engine) as s:
        mairie = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        pasteur = s.scalar(select(Building).where(Building.code == "ECOLE-PASTEUR"))
        # the poller's fault episodes; the device clears the third one before the later run
        ts = int(now().timestamp())
        burner = open_episode(s, "CH-MAIRIE:57", ts, 57, "Chaudière en défaut", mairie.id, None)
        open_episode(s, "CH-PASTEUR:12", ts, 12, "Pression basse", pasteur.id, None)
        open_episode(s, "CH-PASTEUR:31", ts, 31, "Sonde départ", pasteur.id, None)
        burner_id = burner.id
        observation = add_entry(s, AGENT, mairie, "observation", "Radiateur froid, salle 2")
        add_obligation(s, SYSTEM, mairie, "Contrôle gaz", months=12,
                       next_due_on=today + dt.timedelta(days=12))  # fmt: skip
        add_obligation(s, SYSTEM, pasteur, "Ramonage", months=6,
                       next_due_on=today - dt.timedelta(days=3))  # fmt: skip
        contract = s.scalar(select(Contract).where(Contract.code == "TEST-CONTRAT"))
        period = ClosedPeriod(
            contract_id=contract.id, period_kind="month", period="2026-10",
            first_day=dt.date(2026, 10, 1), last_day=dt.date(2026, 10, 31), figures={},
            fingerprint="0" * 64, closed_by="gestionnaire",
        )  # fmt: skip
        s.add(period)
        s.flush()
        channel_id = mairie.channels[0].id
        s.add(QuarantinedReading(channel_id=channel_id, ts=1_792_000_000, value=1.0,
                                 reason_code="closed_period", reason="période arrêtée",
                                 closed_period_id=period.id))  # fmt: skip
        observation_id = observation.id
    # a later run finds the alarm open for more than the set time
    th = Thresholds(alarm_open_h=1.0)
    run_once(engine, now(), th)
    with session_scope(engine) as s:
        close_with_answer(s, SYSTEM, observation_id, "Purge faite, merci.")
        acknowledge(s, SYSTEM, burner_id)  # taken in hand, not closed: still open
        device_normal(s, "CH-PASTEUR:31", int(now().timestamp()))
    later = now() + dt.timedelta(hours=2)
    run_once(engine, later, th)
    run_once(engine, later + dt.timedelta(days=1, minutes=1), th)  # every digest is due

    assert kinds(engine, "exploitant") == [
        "alarm_new", "obligation_due", "signalement_new",
    ]  # fmt: skip
    assert kinds(engine, "autre-exploitant") == ["alarm_new", "alarm_new"]
    assert kinds(engine, "gestionnaire") == [
        "alarm_open", "alarm_open", "obligation_overdue", "regularisation_pending",
        "signalement_new",
    ]  # fmt: skip
    assert kinds(engine, "agent") == ["signalement_answer"]
    assert kinds(engine, "finances") == ["month_closed"]
    assert kinds(engine, "programmation") == []
    assert all(n.state == "sent" and n.attempts == 1 for n in notices(engine))

    contractor_mail = " ".join(text_of(m) for m in smtp.sink.to(EMAIL_OF["exploitant"]))
    assert "Chaudière en défaut" in contractor_mail and "Contrôle gaz" in contractor_mail
    assert "Pression basse" not in contractor_mail and "Ramonage" not in contractor_mail
    other_mail = " ".join(text_of(m) for m in smtp.sink.to(EMAIL_OF["autre-exploitant"]))
    assert "Pression basse" in other_mail and "Hôtel de ville" not in other_mail
    manager_mail = " ".join(text_of(m) for m in smtp.sink.to(EMAIL_OF["gestionnaire"]))
    assert "Chaudière en défaut" in manager_mail and "Pression basse" in manager_mail
    assert "Sonde départ" not in manager_mail  # closed by the device: not left open
    [answer] = smtp.sink.to(EMAIL_OF["agent"])
    assert "Purge faite, merci." in text_of(answer)
    assert "https://carnet.ville.test/mes-signalements" in text_of(answer)
    [closed] = smtp.sink.to(EMAIL_OF["finances"])
    assert "2026-10" in closed["Subject"]
    assert "https://carnet.ville.test/export/finances/TEST-CONTRAT/2026-10.csv" in text_of(closed)
    assert smtp.sink.to(EMAIL_OF["programmation"]) == []
    # every user got each notice in exactly one e-mail
    ids = [m["Message-ID"] for m in smtp.sink.messages]
    assert len(ids) == len(set(ids))


def test_a_refusing_server_then_an_accepting_one_delivers_exactly_once(engine, town, smtp):
    book(engine, "MAIRIE-CONSEIL", 12)
    smtp.sink.refusing = True
    t0 = now()
    first = run_once(engine, t0)
    assert first.failed == 1 and first.sent == 0 and smtp.sink.refused == 1
    [notice] = notices(engine)
    assert notice.state == "failed" and notice.attempts == 1 and "451" in notice.last_error
    assert notice.next_attempt_at == t0 + BACKOFF_FIRST
    # not yet time for the next attempt: the server is not even asked
    run_once(engine, t0 + BACKOFF_FIRST / 2)
    assert smtp.sink.refused == 1
    run_once(engine, t0 + BACKOFF_FIRST)  # still refusing: the wait doubles
    [notice] = notices(engine)
    assert notice.attempts == 2 and notice.next_attempt_at == t0 + 3 * BACKOFF_FIRST
    smtp.sink.refusing = False
    run_once(engine, t0 + 3 * BACKOFF_FIRST)
    [notice] = notices(engine)
    assert notice.state == "sent" and notice.attempts == 3
    run_once(engine, t0 + dt.timedelta(hours=1))
    assert len(smtp.sink.messages) == 1


def test_a_server_that_is_away_for_a_while_loses_nothing(engine, town, smtp):
    book(engine, "MAIRIE-CONSEIL", 12, title="Concert A")
    book(engine, "PASTEUR-PREAU", 14, title="Concert B")
    smtp.stop()
    t0 = now()
    report = run_once(engine, t0)
    assert report.failed == 2 and report.waiting == 2
    assert {n.state for n in notices(engine)} == {"failed"}
    assert all("Connection refused" in n.last_error or "Errno" in n.last_error
               for n in notices(engine))  # fmt: skip
    smtp.start()
    run_once(engine, t0 + dt.timedelta(minutes=2))
    assert sorted(m["X-Envelope-To"] for m in smtp.sink.messages) == sorted(
        [EMAIL_OF["exploitant"], EMAIL_OF["autre-exploitant"]]
    )
    assert {n.state for n in notices(engine)} == {"sent"}


def test_overlapping_runs_send_each_notice_once(engine, town, smtp):
    for i in range(6):
        book(engine, "MAIRIE-CONSEIL", 10 + 4 * i, title=f"Séance {i}")
        book(engine, "PASTEUR-PREAU", 10 + 4 * i, title=f"Séance {i}")
    t0 = now()
    barrier = threading.Barrier(3)
    errors = []

    def run():
        try:
            barrier.wait()
            run_once(engine, t0)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(notices(engine)) == 12 and {n.state for n in notices(engine)} == {"sent"}
    ids = [m["Message-ID"] for m in smtp.sink.messages]
    assert len(ids) == 12 and len(set(ids)) == 12


def test_without_smtp_url_notices_wait_in_the_outbox(engine, town, monkeypatch, db_url):
    monkeypatch.delenv("CARNET_SMTP_URL", raising=False)
    book(engine, "MAIRIE-CONSEIL", 12)
    done = subprocess.run(
        [CARNET, "notify", "run"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CARNET_SMTP_URL non défini" in done.stdout and "1 avis" in done.stdout
    listed = subprocess.run(
        [CARNET, "notify", "list", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["user"] == "exploitant" and row["state"] == "pending"
    assert row["kind"] == "booking_heating" and row["attempts"] == 0


def test_the_schedule_survives_a_failing_round(engine, town, smtp, monkeypatch, caplog):
    """`serve` and `poll` run this thread: a round that fails (here an unreadable server URL)
    is logged, and the next one sends what waited."""
    book(engine, "MAIRIE-CONSEIL", 12)
    monkeypatch.setenv("CARNET_SMTP_URL", "http://pas-un-serveur-smtp")
    thread, stop = start_schedule(engine, 0.01)
    try:
        deadline = time.monotonic() + 30
        while "la tournée a échoué" not in caplog.text and time.monotonic() < deadline:
            stop.wait(0.05)
        assert "la tournée a échoué" in caplog.text and thread.is_alive()
        monkeypatch.setenv("CARNET_SMTP_URL", smtp.url)
        while not smtp.sink.messages and time.monotonic() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert len(smtp.sink.messages) == 1 and not thread.is_alive()
    monkeypatch.delenv("CARNET_NOTIFY_EVERY_MIN", raising=False)
    assert every_minutes(None) is None
    monkeypatch.setenv("CARNET_NOTIFY_EVERY_MIN", "5")
    assert every_minutes(None) == 5.0 and every_minutes(2) == 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_starttls_then_login_when_the_server_offers_them(engine, town, tmp_path, monkeypatch):
    """A relay that demands STARTTLS before anything and AUTH after it (aiosmtpd's defaults
    for both): the credentials of the URL go only over TLS, checked against the town's CA."""
    cert, key = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"secret")

    server = SmtpServer(tls_context=tls, require_starttls=True, authenticator=authenticator,
                        auth_required=True)  # fmt: skip
    server.start()
    monkeypatch.setenv("CARNET_SMTP_URL", server.url)
    monkeypatch.setenv("CARNET_SMTP_CA_FILE", cert)
    try:
        book(engine, "MAIRIE-CONSEIL", 12)
        report = run_once(engine, now())
    finally:
        server.stop()
    assert report.sent == 1 and len(server.sink.messages) == 1
    assert logins == [(b"carnet", b"secret", True)]


def test_carnet_serve_sends_on_its_schedule(engine, town, smtp, db_url):
    """`carnet serve --notify-every-min N`: the dashboards and, beside them, the notices."""
    book(engine, "MAIRIE-CONSEIL", 12, title="Concert servi")
    port = free_port()
    proc = subprocess.Popen(
        [CARNET, "serve", "--port", str(port), "--notify-every-min", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert f"http://127.0.0.1:{port}/" in proc.stdout.readline()
        deadline = time.monotonic() + 60
        while not smtp.sink.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    [msg] = smtp.sink.messages
    assert "Concert servi" in msg["Subject"] and msg["X-Envelope-To"] == EMAIL_OF["exploitant"]


def test_serve_and_poll_start_without_the_notify_module():
    for command in ("serve", "poll"):
        modules = _modules_after(
            f"from carnet_cli.main import build_parser\nbuild_parser([{command!r}])\n"
        )
        assert set(COMMAND_MODULES) & modules == {COMMANDS[command][0]}, command
