"""Quarantine: readings held apart until a person decides.

A reading that is physically implausible (`ingest.plausibility`) or that would change a closed
period is not written to `reading`: it is kept in `quarantined_reading` with its file, line,
raw text and a French reason that names the figure at fault, so it changes no rollup,
settlement or export. The manager (capability `quarantine.review`) then accepts it (written
through `carnet.store.upsert_readings`, rollups refreshed), rejects it, or declares the meter
replacement it reveals. Every decision is audited: who, when, why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.orm import Session

from carnet import audit, versions
from carnet.kinds import Quality
from carnet.models import Channel, IndexReset, LogbookEntry, QuarantinedReading, Reading, User
from carnet.roles import can
from carnet.store import refresh_rollups, take_write_lock, upsert_readings
from carnet.timeutil import fr_date

STATUSES = ("held", "accepted", "rejected", "replaced", "applied")
STATUS_LABELS_FR = {
    "held": "en quarantaine",
    "accepted": "accepté",
    "rejected": "rejeté",
    "replaced": "changement de compteur",
    "applied": "appliqué",
}
REASON_LABELS_FR = {
    "jump": "saut d'index",
    "drop": "baisse d'index",
    "range": "valeur hors plage",
    "before_install": "avant la pose",
    "future": "dans le futur",
    "closed_period": "période close",
}
LIST_COLUMNS = [
    "id",
    "batch_id",
    "channel_id",
    "channel_code",
    "building_code",
    "ts",
    "at",
    "value",
    "unit",
    "file",
    "line_no",
    "raw",
    "reason_code",
    "reason",
    "status",
    "closed_period_id",
    "decided_at",
    "decided_by",
    "decision_note",
    "quality",
]
_HOLD_COLUMNS = ["channel_id", "ts", "value", "quality", "reason_code", "reason"]
_OPTIONAL = ["line_no", "raw", "closed_period_id"]


class QuarantineError(ValueError):
    """A refused decision; the message is for the user (French)."""


def fr_num(x: float | None, decimals: int = 3) -> str:
    """1234.5 -> « 1 234,5 » (narrow no-break space, decimal comma, no trailing zeros)."""
    if x is None or x != x:
        return "—"
    out = f"{x:,.{decimals}f}"
    if decimals:
        out = out.rstrip("0").rstrip(".")
    out = out.replace(",", "\u202f").replace(".", ",")
    return "0" if out == "-0" else out.replace("-", "\u2212")  # the typographic minus


def reason_label(code: str) -> str:
    return REASON_LABELS_FR.get(code, code)


# --- holding -------------------------------------------------------------------------------


def hold(conn: Connection, held: pd.DataFrame, *, batch_id: int | None, file: str | None) -> int:
    """Store held readings (status `held`) inside the caller's transaction; return how many.

    `held` has columns channel_id, ts, value, quality, reason_code, reason and optionally
    line_no, raw, closed_period_id. A reading already waiting with the same channel, instant
    and value (the same file imported again) is not held twice, and neither is one a person
    already rejected: it is counted, not stored again.
    """
    if held is None or not len(held):
        return 0
    missing = set(_HOLD_COLUMNS) - set(held.columns)
    if missing:
        raise ValueError(f"held frame lacks columns {sorted(missing)}")
    frame = held.reset_index(drop=True)
    frame = frame[~_already_waiting(conn, frame)]
    if not len(frame):
        return 0
    n = len(frame)
    value = frame["value"].to_numpy(dtype=float)
    cols = {
        "batch_id": [batch_id] * n,
        "channel_id": frame["channel_id"].astype("int64").tolist(),
        "ts": frame["ts"].astype("int64").tolist(),
        "value": [None if v != v else v for v in value.tolist()],
        "quality": frame["quality"].fillna(int(Quality.MEASURED)).astype("int64").tolist(),
        "file": [file] * n,
        "reason_code": frame["reason_code"].astype(str).tolist(),
        "reason": frame["reason"].astype(str).tolist(),
        "status": ["held"] * n,
    }
    for name in _OPTIONAL:
        col = frame[name] if name in frame else pd.Series([None] * n)
        col = col.astype(object).where(col.notna(), None).tolist()
        cols[name] = [None if v is None else (str(v) if name == "raw" else int(v)) for v in col]
    _insert_many(conn, cols, n)
    return n


def _insert_many(conn: Connection, cols: dict[str, list], n: int) -> None:
    """One bulk write on the driver (executemany on SQLite, COPY on PostgreSQL): a hostile
    file can hold many rows, and SQLAlchemy's per-row parameter processing would cost more
    than the checks themselves."""
    now = dt.datetime.now(dt.UTC)
    sqlite = conn.dialect.name == "sqlite"
    # on SQLite as UTCDateTime stores it: naive UTC text
    stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    cols["created_at"] = [stamp] * n
    names = ", ".join(cols)
    rows = zip(*cols.values(), strict=True)
    versions.touch(conn)  # written on the driver's cursor, unseen by the engine
    raw = conn.connection.driver_connection
    if sqlite:
        marks = ", ".join("?" * len(cols))
        raw.executemany(f"INSERT INTO quarantined_reading ({names}) VALUES ({marks})", rows)
    else:  # COPY: an executemany costs a round of parameter handling per row (42 µs a row)
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY quarantined_reading ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def _already_waiting(conn: Connection, frame: pd.DataFrame) -> np.ndarray:
    """Mask of rows whose (channel, ts, value) is already held or was rejected."""
    q = QuarantinedReading.__table__.c
    ids = sorted({int(c) for c in frame["channel_id"]})
    lo, hi = int(frame["ts"].min()), int(frame["ts"].max())
    rows = conn.execute(
        select(q.channel_id, q.ts, q.value).where(
            q.channel_id.in_(ids),
            q.ts >= lo,
            q.ts <= hi,
            q.status.in_(("held", "rejected")),
        )
    ).all()
    if not rows:
        return np.zeros(len(frame), bool)
    seen = {(int(c), int(t), None if v is None else float(v)) for c, t, v in rows}
    value = frame["value"].to_numpy(dtype=float)
    keys = zip(
        frame["channel_id"].astype("int64").tolist(),
        frame["ts"].astype("int64").tolist(),
        [None if np.isnan(v) else float(v) for v in value],
        strict=True,
    )
    return np.fromiter((k in seen for k in keys), bool, len(frame))


# --- reading the quarantine ---------------------------------------------------------------


def list_held(
    engine: Engine,
    *,
    status: str | None = "held",
    channel_ids: Iterable[int] | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Quarantined readings, newest first (`status=None`: every status). `channel_ids`
    restricts to those channels (a contractor's scope); an empty iterable gives nothing."""
    where: list[str] = []
    params: dict = {"n": int(limit)}
    if status is not None:
        if status not in STATUSES:
            raise QuarantineError(f"statut inconnu « {status} » (attendu : {', '.join(STATUSES)})")
        where.append("q.status = :s")
        params["s"] = status
    if channel_ids is not None:
        ids = sorted({int(c) for c in channel_ids})
        if not ids:
            return pd.DataFrame(columns=LIST_COLUMNS)
        where.append(f"q.channel_id IN ({','.join(str(i) for i in ids)})")
    return _select(engine, where, params)


def get_held(engine: Engine, quarantine_id: int) -> pd.Series | None:
    """One quarantined reading (any status) with the columns of `list_held`, or None."""
    frame = _select(engine, ["q.id = :i"], {"i": int(quarantine_id), "n": 1})
    return frame.iloc[0] if len(frame) else None


def _select(engine: Engine, where: list[str], params: dict) -> pd.DataFrame:
    sql = (
        "SELECT q.id, q.batch_id, q.channel_id, c.code AS channel_code,"
        " b.code AS building_code, q.ts, q.value, c.unit, q.file, q.line_no, q.raw,"
        " q.reason_code, q.reason, q.status, q.closed_period_id, q.decided_at,"
        " q.decided_by, q.decision_note, q.quality"
        " FROM quarantined_reading q JOIN channel c ON c.id = q.channel_id"
        " LEFT JOIN building b ON b.id = c.building_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY q.id DESC LIMIT :n"
    )
    with engine.connect() as conn:
        frame = pd.read_sql_query(text(sql), conn, params=params)
    frame["ts"] = frame["ts"].astype("int64")
    frame["at"] = pd.Series(
        [dt.datetime.fromtimestamp(int(t), dt.UTC) for t in frame["ts"]],
        index=frame.index,
        dtype=object,
    )
    frame["decided_at"] = pd.Series(
        [_aware(v) for v in frame["decided_at"]], index=frame.index, dtype=object
    )
    for col in ("batch_id", "line_no", "closed_period_id"):
        frame[col] = frame[col].astype("Int64")
    frame["raw"] = frame["raw"].astype(object).where(frame["raw"].notna(), None)
    return frame[LIST_COLUMNS]


def _aware(value) -> dt.datetime | None:
    """A stored instant as an aware UTC datetime (SQLite gives naive UTC text)."""
    if value is None or (not isinstance(value, str | dt.datetime) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


# --- deciding ------------------------------------------------------------------------------


def _check_actor(session: Session, actor: str) -> None:
    if not actor or not str(actor).strip():
        raise QuarantineError("décision refusée : l'auteur de la décision n'est pas nommé")
    user = session.scalar(select(User).where(User.login == actor))
    if user is not None and (not user.active or not can(user.role, "quarantine.review")):
        raise QuarantineError(
            f"{actor} ({user.role}) n'a pas le droit de décider d'un relevé en quarantaine"
            " (gestionnaire seulement)"
        )


def _pending(session: Session, quarantine_id: int, actor: str, why: str) -> QuarantinedReading:
    if not why or not str(why).strip():
        raise QuarantineError("décision refusée : dites pourquoi (--why)")
    _check_actor(session, actor)
    take_write_lock(session.connection())  # the readings' lock before the row's (see store)
    row = session.get(QuarantinedReading, int(quarantine_id), with_for_update=True)
    if row is None:
        raise QuarantineError(f"aucun relevé en quarantaine n° {quarantine_id}")
    if row.status != "held":
        who = f" par {row.decided_by}" if row.decided_by else ""
        when = f" le {fr_date(row.decided_at)}" if row.decided_at else ""
        raise QuarantineError(
            f"le relevé n° {row.id} est déjà décidé ({STATUS_LABELS_FR.get(row.status, row.status)}"
            f"{who}{when}) : rien n'est changé"
        )
    return row


def _not_closed(row: QuarantinedReading) -> None:
    """A reading waiting on a closed period is applied when the period is reopened (a
    pending regularisation, carnet.closing), not accepted here: written now, it would be
    held again by the same closed period."""
    if row.reason_code == "closed_period":
        raise QuarantineError(
            f"le relevé n° {row.id} attend la réouverture d'une période close (régularisation"
            " en attente) : il s'applique en rouvrant la période, ou se rejette"
        )


def _image(row: QuarantinedReading) -> dict:
    return {
        "channel_id": row.channel_id,
        "ts": row.ts,
        "value": row.value,
        "quality": row.quality,
        "reason_code": row.reason_code,
        "status": row.status,
        "batch_id": row.batch_id,
        "decided_by": row.decided_by,
        "decision_note": row.decision_note,
    }


def _describe(session: Session, row: QuarantinedReading) -> tuple[str, str]:
    ch = session.get(Channel, row.channel_id)
    when = fr_date(dt.datetime.fromtimestamp(int(row.ts), dt.UTC))
    return f"{ch.code} le {when}", ch.unit


def _write(session: Session, row: QuarantinedReading, quality: int):
    """Upsert the reading (rollups refreshed); return the store's counts."""
    frame = pd.DataFrame(
        {
            "channel_id": [int(row.channel_id)],
            "ts": [int(row.ts)],
            "value": [np.nan if row.value is None else float(row.value)],
            "quality": [int(quality)],
        }
    )
    return upsert_readings(session.connection(), frame, batch_id=row.batch_id, refresh=True)


def _outcome(counts, stored: Reading | None, unit: str) -> str:
    """What writing the reading did, in French."""
    if getattr(counts, "held", 0):
        return "il touche une période close : il attend en régularisation"
    if counts.inserted:
        return "enregistré, cumuls recalculés"
    if counts.updated:
        return "enregistré à la place de la valeur précédente, cumuls recalculés"
    if stored is not None and stored.value is not None:
        return (
            f"une valeur mesurée est déjà enregistrée à cet instant ({fr_num(stored.value)}"
            f" {unit}) : elle est gardée, rien ne change"
        )
    return "rien ne change"


def _decide(session: Session, row: QuarantinedReading, status: str, actor: str, why: str):
    before = _image(row)
    row.status = status
    row.decided_at = dt.datetime.now(dt.UTC)
    row.decided_by = actor
    row.decision_note = why.strip()
    session.flush()
    audit.record(
        session,
        actor,
        {"accepted": "accept", "rejected": "reject", "replaced": "replace"}[status],
        "quarantined_reading",
        row.id,
        before,
        _image(row) | {"decided_at": row.decided_at},
    )


def accept(engine: Engine, quarantine_id: int, *, actor: str, why: str) -> str:
    """The person says the reading is right: write it (rollups refreshed), mark it accepted."""
    with Session(engine) as session, session.begin():
        row = _pending(session, quarantine_id, actor, why)
        _not_closed(row)
        what, unit = _describe(session, row)
        stored = session.get(Reading, (row.channel_id, row.ts))
        counts = _write(session, row, row.quality)
        _decide(session, row, "accepted", actor, why)
        note = ""
        if row.reason_code == "drop" and (counts.inserted or counts.updated):
            ch = session.get(Channel, row.channel_id)
            note = (
                f" ; la baisse d'index est comptée comme un passage par zéro (modulo"
                f" {fr_num(ch.modulus)} {unit})"
                if ch.modulus
                else " ; aucune consommation n'est calculée entre le relevé précédent et"
                " celui-ci (déclarez plutôt un changement de compteur s'il a eu lieu)"
            )
        return (
            f"relevé n° {row.id} accepté ({what} : {fr_num(row.value)} {unit}) :"
            f" {_outcome(counts, stored, unit)}{note}."
        )


def reject(engine: Engine, quarantine_id: int, *, actor: str, why: str) -> str:
    """The person says the reading is wrong: it stays out of the record for good."""
    with Session(engine) as session, session.begin():
        row = _pending(session, quarantine_id, actor, why)
        what, unit = _describe(session, row)
        _decide(session, row, "rejected", actor, why)
        return (
            f"relevé n° {row.id} rejeté ({what} : {fr_num(row.value)} {unit}) : il ne sera pas"
            " enregistré."
        )


def declare_replacement(
    engine: Engine,
    quarantine_id: int,
    *,
    actor: str,
    old_final_value: float,
    new_start_value: float,
    why: str,
) -> str:
    """The drop was a meter replacement: close the old index at `old_final_value`, open the
    new one at `new_start_value` (index_reset + `meter_change` logbook entry, declared by
    `actor`), then write the reading flagged RESET; status `replaced`."""
    with Session(engine) as session, session.begin():
        row = _pending(session, quarantine_id, actor, why)
        _not_closed(row)
        if row.value is None:
            raise QuarantineError("un relevé sans valeur ne peut pas ouvrir un nouvel index")
        what, unit = _describe(session, row)
        note = record_replacement(
            session,
            row.channel_id,
            int(row.ts),
            old_final_value=old_final_value,
            new_start_value=new_start_value,
            actor=actor,
            why=why,
            value_at=float(row.value),
            origin=f"relevé n° {row.id} en quarantaine"
            + (f" ({row.file}, ligne {row.line_no})" if row.file else ""),
        )
        _write(session, row, int(Quality.RESET))
        _decide(session, row, "replaced", actor, why)
        return f"relevé n° {row.id} enregistré comme premier index du nouveau compteur : {note}."


# --- meter replacements declared by a person ------------------------------------------------


def record_replacement(
    session: Session,
    channel_id: int,
    ts: int,
    *,
    old_final_value: float,
    new_start_value: float,
    actor: str,
    why: str,
    value_at: float | None = None,
    origin: str | None = None,
) -> str:
    """Write the index_reset of a declared meter replacement and its `meter_change` logbook
    entry (audited); return the French summary. Refused when the figures contradict the
    stored readings (an old final index below the reading before, a new start above the
    reading at `ts`), which would turn into a negative or invented consumption."""
    ch = session.get(Channel, int(channel_id))
    if ch is None:
        raise QuarantineError(f"point de mesure inconnu (n° {channel_id})")
    if ch.kind != "index":
        raise QuarantineError(
            f"{ch.code} n'est pas un index (type {ch.kind}) : pas de changement de compteur"
        )
    old, new = float(old_final_value), float(new_start_value)
    if not (np.isfinite(old) and np.isfinite(new)) or old < 0 or new < 0:
        raise QuarantineError("index de l'ancien et du nouveau compteur : nombres positifs")
    when = dt.datetime.fromtimestamp(int(ts), dt.UTC)
    before = session.execute(
        select(Reading.ts, Reading.value)
        .where(Reading.channel_id == ch.id, Reading.ts < int(ts), Reading.value.is_not(None))
        .order_by(Reading.ts.desc())
        .limit(1)
    ).first()
    if before is not None and old < float(before.value):
        raise QuarantineError(
            f"index final de l'ancien compteur ({fr_num(old)} {ch.unit}) inférieur au relevé "
            f"précédent ({fr_num(before.value)} {ch.unit} le "
            f"{fr_date(dt.datetime.fromtimestamp(int(before.ts), dt.UTC))})"
        )
    if value_at is not None and new > value_at:
        raise QuarantineError(
            f"index de départ du nouveau compteur ({fr_num(new)} {ch.unit}) supérieur au relevé "
            f"du {fr_date(when)} ({fr_num(value_at)} {ch.unit})"
        )
    after = session.execute(
        select(Reading.ts, Reading.value)
        .where(Reading.channel_id == ch.id, Reading.ts > int(ts), Reading.value.is_not(None))
        .order_by(Reading.ts)
        .limit(1)
    ).first()
    if after is not None and float(after.value) >= old > new:
        raise QuarantineError(
            f"le relevé suivant déjà enregistré ({fr_num(after.value)} {ch.unit} le "
            f"{fr_date(dt.datetime.fromtimestamp(int(after.ts), dt.UTC))}) continue l'ancien"
            f" index : le compteur n'a pas été changé le {fr_date(when)} (rejetez plutôt le"
            " relevé)"
        )
    if session.get(IndexReset, (ch.id, int(ts))) is not None:
        raise QuarantineError(
            f"un changement de compteur est déjà enregistré sur {ch.code} le {fr_date(when)}"
        )
    summary = (
        f"changement de compteur sur {ch.code} le {fr_date(when)} : ancien index clos à "
        f"{fr_num(old)} {ch.unit}, nouvel index ouvert à {fr_num(new)} {ch.unit}"
    )
    entry_id = None
    if ch.building_id is not None:
        entry_id = session.execute(
            insert(LogbookEntry.__table__)
            .values(
                building_id=ch.building_id,
                equipment_id=ch.equipment_id,
                occurred_at=when,
                kind="meter_change",
                title=f"Changement de compteur {ch.code}",
                text=(
                    f"Déclaré par {actor}"
                    + (f" ({origin})" if origin else "")
                    + f". Ancien compteur : dernier index {fr_num(old)} {ch.unit}. Nouveau "
                    f"compteur : index de départ {fr_num(new)} {ch.unit}. Motif : {why.strip()}"
                ),
                author_login=actor,
                status="done",
                source="user",
            )
            .returning(LogbookEntry.__table__.c.id)
        ).scalar()
    session.execute(
        insert(IndexReset.__table__).values(
            channel_id=ch.id,
            ts=int(ts),
            old_final_value=old,
            new_start_value=new,
            logbook_entry_id=entry_id,
        )
    )
    audit.record(
        session,
        actor,
        "create",
        "index_reset",
        f"{ch.code}@{int(ts)}",
        None,
        {
            "channel": ch.code,
            "ts": int(ts),
            "at": when,
            "old_final_value": old,
            "new_start_value": new,
            "logbook_entry_id": entry_id,
            "why": why.strip(),
        },
    )
    return summary


def declare_meter_replacement(
    engine: Engine,
    channel_code: str,
    at: dt.datetime,
    *,
    actor: str,
    old_final_value: float,
    new_start_value: float,
    why: str,
) -> str:
    """A replacement declared ahead of the file (`carnet meter replace`): the index_reset, its
    logbook entry, and the new meter's start index stored as a RESET reading at `at`, so that
    the next import compares the new meter's readings with its start, not with the old one."""
    if at.tzinfo is None:
        raise ValueError("aware datetime expected")
    ts = int(at.timestamp())
    with Session(engine) as session, session.begin():
        _check_actor(session, actor)
        if not why or not str(why).strip():
            raise QuarantineError("déclaration refusée : dites pourquoi (--why)")
        take_write_lock(session.connection())  # what is stored at `at`, read under it
        ch = session.scalar(select(Channel).where(Channel.code == channel_code))
        if ch is None:
            raise QuarantineError(f"point de mesure inconnu « {channel_code} »")
        stored = session.get(Reading, (ch.id, ts))
        value_at = None if stored is None or stored.value is None else float(stored.value)
        summary = record_replacement(
            session,
            ch.id,
            ts,
            old_final_value=old_final_value,
            new_start_value=new_start_value,
            actor=actor,
            why=why,
            value_at=value_at,
            origin="carnet meter replace",
        )
        conn = session.connection()
        if stored is None:
            upsert_readings(
                conn,
                pd.DataFrame(
                    {
                        "channel_id": [ch.id],
                        "ts": [ts],
                        "value": [float(new_start_value)],
                        "quality": [int(Quality.RESET)],
                    }
                ),
                refresh=True,
            )
        else:
            session.execute(
                update(Reading.__table__)
                .where(Reading.channel_id == ch.id, Reading.ts == ts)
                .values(quality=int(Quality.RESET))
            )
            refresh_rollups(conn, pd.DataFrame({"channel_id": [ch.id], "ts": [ts]}))
        return summary
