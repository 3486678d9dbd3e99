"""Readings an import held in quarantine, written as the importer would have, and what became
of them (the held row, the stored reading, the audit trail): the imports review, on the page
and in a real browser."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, select

from carnet.db import session_scope
from carnet.kinds import Quality
from carnet.models import AuditEvent, ImportBatch, QuarantinedReading, Reading
from tests.helpers.seed import epoch


def hold_readings(engine: Engine, ids: dict[str, int]) -> dict[str, int]:
    """One file batch that held three MAIRIE/PASTEUR gas readings (SQL, as the importer
    would have); returns name -> quarantined_reading id. The seed's last MAIRIE-GAZ index is
    123 456 m³ on 15/01/2025 14:00 (Paris)."""
    started = dt.datetime(2025, 1, 16, 8, 0, tzinfo=dt.UTC)
    held = {
        "jump": (
            "MAIRIE-GAZ",
            dt.datetime(2025, 1, 15, 15, 0),
            173464.0,
            "jump",
            "+50 008 m³ en 1 h, soit 560 090 kW pour une chaudière de 250 kW",
            4,
        ),
        "drop": (
            "MAIRIE-GAZ",
            dt.datetime(2025, 1, 15, 16, 0),
            12.5,
            "drop",
            "baisse d'index de 123 456 à 12,5 m³ sans changement de compteur déclaré",
            5,
        ),
        "pasteur": (
            "PASTEUR-GAZ",
            dt.datetime(2024, 7, 14, 10, 0),
            1280.0,
            "jump",
            "+1 277 m³ en 1 h, soit 14 302 kW",
            6,
        ),
    }
    out = {}
    with session_scope(engine) as s:
        batch = ImportBatch(
            source="/tmp/depot/releves-janvier.csv",
            origin="csv",
            format="generic-long",
            sha256="0" * 64,
            user_login="gestionnaire",
            started_at=started,
            finished_at=started,
            rows_read=3,
            rows_quarantined=3,
            status="partial",
            message="3 relevés en quarantaine",
        )
        s.add(batch)
        s.flush()
        for name, (code, local, value, reason_code, reason, line) in held.items():
            out[name] = s.execute(
                insert(QuarantinedReading)
                .values(
                    batch_id=batch.id,
                    channel_id=ids[code],
                    ts=epoch(local),
                    value=value,
                    quality=int(Quality.MEASURED),
                    file="releves-janvier.csv",
                    line_no=line,
                    raw=f"{code};{local:%d/%m/%Y %H:%M};{value:g}".replace(".", ","),
                    reason_code=reason_code,
                    reason=reason,
                    status="held",
                    created_at=started,
                )
                .returning(QuarantinedReading.id)
            ).scalar_one()
    return out


def quarantine_row(engine, qid) -> QuarantinedReading:
    with session_scope(engine) as s:
        row = s.get(QuarantinedReading, qid)
        s.expunge(row)
        return row


def stored(engine, channel_id: int, ts: int):
    with session_scope(engine) as s:
        row = s.get(Reading, (channel_id, ts))
        return None if row is None else (row.value, row.quality, row.batch_id)


def audit_of(engine, qid) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        return [
            (e.actor, e.action)
            for e in s.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "quarantined_reading", AuditEvent.entity_id == str(qid)
                )
            )
        ]
