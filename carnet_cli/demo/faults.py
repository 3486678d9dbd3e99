"""The faults planted in the demo town for the manager (and the tests) to find: a hall heated
every weekend, a lost night setback, two boiler lock-outs and their alarms (one still open), a
gas meter replaced mid-season, a week of lost gas readings, a silent boiler controller.

The physics applies the behaviours (`physics`); this module says when they happen and writes
what the record keeps of them: alarms, the meter change and its index reset, device status.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.alarms import POLLER
from carnet.kinds import Quality
from carnet.models import Alarm, Channel, DeviceStatus, IndexReset
from carnet.timeutil import TZ, local_to_utc, to_epoch
from carnet_cli.demo.calendar_weather import Clock
from carnet_cli.demo.history import Logbook

WEEKEND_HEATED = "SALLE-FETES"  # heated every weekend, booked or not
OVERRUN = ("GYMNASE", dt.date(2024, 10, 15), dt.date(2026, 3, 10))  # night setback lost
BOILER_FAULT = ("GS-MICHEL", dt.datetime(2025, 12, 9, 2, 0), 13, 28)  # local start, hours, code
FAULT_LABELS = {
    28: "F.28 : échec d'allumage, brûleur en sécurité",
    37: "F.37 : manque de pression d'eau dans l'installation",
}
OPEN_FAULT = ("MAIRIE", 37, 3)  # yesterday 05:00 local, 3 h, still open in the logbook
METER_CHANGE = ("CENTRE-SOCIAL", dt.datetime(2025, 1, 14, 10, 20), 3.0)  # local time, new start
MISSING_WEEK = ("CRECHE", dt.date(2026, 1, 19), 7)  # gas readings lost for 7 local days
SILENT_DEVICE_BUILDING = "CTM"  # its boiler controller's gateway lost power yesterday


def fault_episodes(clock: Clock, now: dt.datetime) -> list[dict]:
    """Boiler lock-outs: hours [i0, i1) of the clock with their fault code."""
    out = []
    yesterday = (now.astimezone(TZ) - dt.timedelta(days=1)).replace(tzinfo=None)
    for building, start, hours, code, closed in (
        (*BOILER_FAULT, True),
        (OPEN_FAULT[0], yesterday.replace(hour=5, minute=0), OPEN_FAULT[2], OPEN_FAULT[1], False),
    ):
        ts0 = int(to_epoch(local_to_utc([start], ambiguous="NaT", nonexistent="NaT"))[0])
        if ts0 + hours * 3600 > now.timestamp() or ts0 < clock.ts[0]:
            continue
        i0 = int((ts0 - clock.ts[0]) // 3600) + 1  # readings after the lock-out began
        out.append(
            dict(
                building=building,
                start_ts=ts0,
                end_ts=ts0 + hours * 3600,
                i0=i0,
                i1=i0 + hours,
                code=code,
                label=FAULT_LABELS[code],
                closed=closed,
            )
        )
    return out


def replace_meter(
    clock: Clock, index: np.ndarray, gas_m3: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The old meter closes at its final index, the new one starts near zero: the index at
    each reading, its quality (the first reading of the new meter is a reset) and the change
    as the logbook and the index reset record it (empty before the change)."""
    when = int(to_epoch(local_to_utc([METER_CHANGE[1]]))[0])
    quality = np.zeros(len(index), dtype="int64")
    i = int(np.searchsorted(clock.ts, when, side="right"))  # first reading of the new meter
    if i >= len(index) or when < clock.ts[0]:
        return index, quality, {}
    hour_m3 = gas_m3[i - 1]  # consumption of the hour [ts[i-1], ts[i])
    before = (when - clock.ts[i - 1]) / 3600.0
    old_final = round(index[i - 1] + hour_m3 * before, 2)
    new_start = METER_CHANGE[2]
    new = index.copy()
    new[i:] = new_start + (index[i:] - index[i - 1] - hour_m3 * before)
    quality[i] = int(Quality.RESET)
    change = dict(
        building=METER_CHANGE[0],
        ts=int(clock.ts[i]),
        when_ts=when,
        old_final=old_final,
        new_start=new_start,
        first_new=round(float(new[i]), 2),
    )
    return new, quality, change


def drop_missing_week(gas: pd.DataFrame) -> pd.DataFrame:
    """The gas readings of MISSING_WEEK's building without the week the remote reading lost."""
    lo = int(to_epoch(local_to_utc([pd.Timestamp(MISSING_WEEK[1])]))[0])
    hi = lo + MISSING_WEEK[2] * 86400  # no DST change in January
    return gas[(gas["ts"] < lo) | (gas["ts"] >= hi)]


def write_alarms(log: Logbook, episodes: list[dict]) -> None:
    """The alarms the boiler fault channel raised, as the poller logs them."""
    for ep in episodes:
        main = f"{ep['building']}-CHAUD-1"
        when = dt.datetime.fromtimestamp(ep["start_ts"], dt.UTC)
        log.add(
            when,
            ep["building"],
            "alarm",
            "Défaut chaudière",
            f"Défaut chaudière remonté par la télégestion : code {ep['code']} ({ep['label']}).",
            "system",
            status="done" if ep["closed"] else "open",
            eq=main,
            source="poller",
            alarm_key=f"{main}-DEF:{ep['code']}:{ep['start_ts']}",
        )


def write_alarm_rows(session: Session, log: Logbook, episodes: list[dict]) -> int:
    """Each fault episode's alarm (`carnet.alarms`), beside its flushed logbook entry: open while
    the fault lasts, closed by the device when it cleared; returns how many."""
    by_key = {e.alarm_key: e for e in log.entries if e.kind == "alarm" and e.alarm_key}
    n = 0
    for ep in episodes:
        main = f"{ep['building']}-CHAUD-1"
        entry = by_key[f"{main}-DEF:{ep['code']}:{ep['start_ts']}"]
        end = dt.datetime.fromtimestamp(ep["end_ts"], dt.UTC) if ep["closed"] else None
        session.add(
            Alarm(
                building_id=entry.building_id,
                equipment_id=entry.equipment_id,
                alarm_key=entry.alarm_key,
                code=ep["code"],
                label=entry.title,
                status="closed" if ep["closed"] else "open",
                opened_at=entry.occurred_at,
                device_cleared_at=end,
                entry_id=entry.id,
                closed_at=end,
                closed_by=POLLER if ep["closed"] else None,
            )
        )
        n += 1
    session.flush()
    return n


def write_meter_change(session: Session, log: Logbook, portfolio: dict, change: dict) -> None:
    """The meter replaced mid-season: the logbook event that closes the old index, and the
    index reset that points at it."""
    if not change:
        return
    b = next(x for x in portfolio["buildings"] if x["code"] == change["building"])
    gas = next(c for c in b["channels"] if c["quantity"] == "gas_volume_m3")
    when = dt.datetime.fromtimestamp(change["when_ts"], dt.UTC)
    old = f"{change['old_final']:,.2f}".replace(",", "\u202f").replace(".", ",")
    new = f"{change['new_start']:.2f}".replace(".", ",")
    e = log.add(
        when,
        change["building"],
        "meter_change",
        "Remplacement du compteur gaz",
        f"Compteur gaz remplacé par le distributeur (PCE {gas['external_ref']}) : ancien"
        f" compteur Schlumberger G16 n° SCH-9712083, index final {old} m³ ; nouveau"
        f" compteur Itron G16 Gallus n° ITR-2501066, index de pose {new} m³.",
        "gestionnaire",
        eq=f"{change['building']}-COMPTEUR-2",
    )
    log.flush(session)  # the index reset needs the entry's id
    channel_id = session.scalar(select(Channel.id).where(Channel.code == gas["code"]))
    session.add(
        IndexReset(
            channel_id=channel_id,
            ts=change["ts"],
            old_final_value=change["old_final"],
            new_start_value=change["new_start"],
            logbook_entry_id=e.id,
        )
    )


def write_device_status(
    session: Session, buildings: dict, equipment: dict, now: dt.datetime
) -> None:
    """The boiler controllers' last contact, as the Modbus poller leaves it: every controller
    answered a few minutes ago, except the technical centre's, silent since yesterday (its
    gateway lost power), which the contractor's page must show."""
    for i, (code, building) in enumerate(sorted(buildings.items())):
        boiler = equipment.get(f"{code}-CHAUD-1")
        silent = code == SILENT_DEVICE_BUILDING
        last = now - (dt.timedelta(hours=26) if silent else dt.timedelta(minutes=1 + i % 3))
        session.add(
            DeviceStatus(
                gateway_code=f"GW-{code}",
                unit=10,
                model="generic-boiler",
                building_id=building.id,
                equipment_id=boiler.id if boiler else None,
                last_contact_at=last,
                last_error=(
                    "pas de réponse de l'unité 10 (délai de 2 s dépassé)" if silent else None
                ),
                last_error_at=now - dt.timedelta(minutes=1) if silent else None,
                consecutive_failures=26 * 60 if silent else 0,
            )
        )
    session.flush()
