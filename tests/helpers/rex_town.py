"""An incident on `tests.helpers.carnet_web_seed`'s town for the retours d'expérience: the
logbook entries and the booking a rex links, and one entry of another building it may not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from carnet import bookings as bk
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import Room, User
from carnet.timeutil import TZ
from tests.helpers.booking_town import PROGRAMMER


def incident(engine) -> dict:
    """MAIRIE (TEST-CONTRAT): a boiler alarm, a cold concert reported by the agent, the repair;
    a broken window at ECOLE (another contract). Returns their ids."""
    with session_scope(engine) as s:
        agent = s.scalar(select(User).where(User.login == "agent"))
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        alarm = add_entry(s, manager, "MAIRIE", "alarm", "Chaudière en défaut", source="poller",
                          occurred_at=dt.date(2026, 11, 6))  # fmt: skip
        cold = add_entry(s, agent, "MAIRIE", "observation", "Salle du conseil glaciale",
                         occurred_at=dt.date(2026, 11, 7))  # fmt: skip
        repair = add_entry(s, manager, "MAIRIE", "corrective", "Allumeur remplacé",
                           occurred_at=dt.date(2026, 11, 8))  # fmt: skip
        elsewhere = add_entry(s, manager, "ECOLE", "observation", "Fenêtre cassée")
        s.scalar(select(Room).where(Room.code == "MAIRIE-CONSEIL")).bookable = True
        concert = bk.create_booking(
            s, PROGRAMMER, "MAIRIE-CONSEIL", "Concert", dt.datetime(2026, 11, 7, 19, tzinfo=TZ),
            dt.datetime(2026, 11, 7, 22, tzinfo=TZ), setpoint_c=19,
        )  # fmt: skip
        return {"alarm": alarm.id, "cold": cold.id, "repair": repair.id,
                "elsewhere": elsewhere.id, "concert": concert.id}  # fmt: skip
