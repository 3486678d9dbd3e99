"""A town's database at 0003 whose logbook holds fault episodes upgrades to head with one alarm
row per episode, linked to its entry (open while the entry is open), and nothing else becomes an
alarm; the downgrade takes the tables away again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, inspect, select

from carnet import db as carnet_db
from carnet.alarms import open_episode_keys
from carnet.models import Alarm, Building, Equipment, LogbookEntry

KEY = "GW-MAIRIE/10/fault_code"
AT = dt.datetime(2026, 1, 10, 6, 30, tzinfo=dt.UTC)


def _entry(**fields) -> LogbookEntry:
    base = {"kind": "alarm", "author_login": "poller", "source": "poller", "occurred_at": AT}
    return LogbookEntry(**(base | fields))


def test_fault_episodes_of_a_0003_database_become_alarms(db_url):
    engine = carnet_db.make_engine(db_url)
    try:
        carnet_db.upgrade(engine, "0003")
        assert "alarm" not in inspect(engine).get_table_names()
        with carnet_db.session_scope(engine) as s:
            # the building's columns of revision 0003 only (later ones do not exist yet)
            building_id = s.execute(
                insert(Building.__table__).values(code="MAIRIE", name="Hôtel de ville")
            ).inserted_primary_key[0]
            eq = Equipment(code="MAIRIE-CHAUD", kind="boiler", building_id=building_id)
            s.add(eq)
            s.flush()
            ids = {}
            for name, entry in {
                "open": _entry(
                    building_id=building_id,
                    equipment_id=eq.id,
                    alarm_key=KEY,
                    title=f"Alarme {KEY} : défaut 20 (sonde extérieure)",
                    text="Le relevé automatique signale un défaut 20.",
                    status="open",
                ),
                "cleared": _entry(
                    building_id=building_id,
                    equipment_id=eq.id,
                    alarm_key=KEY,
                    title=f"Alarme {KEY} : défaut 12 (ignition failure)",
                    text="Le relevé automatique signale un défaut 12.",
                    status="done",
                    answer="Défaut disparu le 10/01/2026 08:00 (relevé automatique).",
                ),
                "closed_by_hand": _entry(
                    building_id=building_id,
                    equipment_id=eq.id,
                    alarm_key="MAIRIE-CHAUD-DEF:7:1767000000",
                    title="Défaut chaudière",
                    status="done",
                    text="Défaut chaudière remonté : code 7 (surchauffe).",
                ),
                "by_a_person": _entry(
                    building_id=building_id,
                    source="user",
                    author_login="gestionnaire",
                    text="Alarme incendie testée",
                    status="done",
                ),
                "observation": _entry(
                    building_id=building_id,
                    kind="observation",
                    source="qr",
                    author_login="agent",
                    text="Froid",
                    status="open",
                ),
            }.items():
                s.add(entry)
                s.flush()
                ids[name] = entry.id

        carnet_db.upgrade(engine)
        with carnet_db.session_scope(engine) as s:
            rows = {a.entry_id: a for a in s.scalars(select(Alarm))}
            assert set(rows) == {ids["open"], ids["cleared"], ids["closed_by_hand"]}
            opened = rows[ids["open"]]
            assert (opened.status, opened.code, opened.alarm_key, opened.opened_at) == (
                "open",
                20,
                KEY,
                AT,
            )
            assert (opened.building_id, opened.equipment_id) == (building_id, eq.id)
            assert opened.device_cleared_at is None and opened.closed_at is None
            cleared = rows[ids["cleared"]]
            assert (cleared.status, cleared.code, cleared.closed_by) == ("closed", 12, "poller")
            assert cleared.device_cleared_at is not None and "disparu" in cleared.close_note
            by_hand = rows[ids["closed_by_hand"]]
            assert (by_hand.status, by_hand.code, by_hand.closed_by) == ("closed", 7, "reprise")
            # the poller goes on with the open episode instead of opening a new one
            assert open_episode_keys(s) == {KEY}
            # the entries themselves are as they were
            assert s.get(LogbookEntry, ids["open"]).status == "open"

        carnet_db.downgrade(engine, "0003")
        tables = set(inspect(engine).get_table_names())
        assert not {"alarm", "work_order"} & tables and "logbook_entry" in tables
        carnet_db.upgrade(engine)
        with carnet_db.session_scope(engine) as s:
            assert len(s.scalars(select(Alarm)).all()) == 3
    finally:
        engine.dispose()
