"""A database at the revision before the notifications migration, holding a town, its users,
bookings, logbook and alarms, upgrades with every row intact; its users have no e-mail yet
(and the digest at 07:00), and notices work at once. The revision is found by what the script
holds, not by its number (it is renumbered when branches merge)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from carnet import db as carnet_db
from carnet import roles
from carnet.access import Actor
from carnet.alarms import open_episode
from carnet.bookings import create_booking
from carnet.db import session_scope
from carnet.models import Building, Notice, User
from carnet.users import set_user
from carnet_cli.notify_cmd import run_once
from tests.helpers.notify_town import PEOPLE, seed_notify_town

TABLES = (
    "app_user",
    "building",
    "room",
    "booking",
    "logbook_entry",
    "alarm",
    "contract",
    "reading",
)


def revision_before_notifications() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(carnet_db.MIGRATIONS_DIR))
    for script in ScriptDirectory.from_config(cfg).walk_revisions():
        if script.path.endswith("_notifications.py"):
            return script.down_revision
    raise LookupError("no notifications migration")


def snapshot(engine) -> dict[str, pd.DataFrame]:
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            frame = pd.read_sql(text(f"SELECT * FROM {table}"), conn)
            frame = frame.drop(columns=[c for c in ("email", "digest_hour") if c in frame])
            out[table] = frame.sort_values(list(frame.columns)[:2]).reset_index(drop=True)
    return out


def test_a_database_before_notifications_upgrades_intact(engine, db_url, monkeypatch):
    seed_notify_town(engine)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=20)
    with session_scope(engine) as s:
        create_booking(s, Actor("programmation", roles.PROGRAMMER), "MAIRIE-CONSEIL", "Concert",
                       start, start + dt.timedelta(hours=2), setpoint_c=19)  # fmt: skip
        mairie = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        open_episode(s, "CH-MAIRIE:57", int(start.timestamp()) - 86400, 57, "Défaut brûleur",
                     mairie.id, None)  # fmt: skip
    before = revision_before_notifications()
    carnet_db.downgrade(engine, before)
    assert carnet_db.current_revision(engine) == before
    insp = inspect(engine)
    assert "notice" not in insp.get_table_names()
    assert "notification_pref" not in insp.get_table_names()
    assert "email" not in {c["name"] for c in insp.get_columns("app_user")}
    old = snapshot(engine)
    assert len(old["app_user"]) == len(PEOPLE) and len(old["reading"]) > 0

    carnet_db.reset_engines()
    carnet_db.upgrade(engine)
    assert not carnet_db.needs_upgrade(engine)
    new = snapshot(engine)
    for table in TABLES:
        later = new[table][old[table].columns]  # columns added by later migrations aside
        pd.testing.assert_frame_equal(later, old[table], check_dtype=False, obj=table)
    with session_scope(engine) as s:
        users = s.scalars(select(User)).all()
        assert {u.email for u in users} == {None} and {u.digest_hour for u in users} == {7}
        set_user(s, "exploitant", roles.CONTRACTOR, contract_code="TEST-CONTRAT",
                 email="exploitant@thermique.test", actor="test")  # fmt: skip
    monkeypatch.delenv("CARNET_SMTP_URL", raising=False)
    report = run_once(engine)
    assert report.created == 2 and report.smtp is None  # the booking and the alarm
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(Notice.kind))) == ["alarm_new", "booking_heating"]
