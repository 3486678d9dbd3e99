"""Closed months and seasons: what both sides agreed on stays agreed.

A contract's month or season, once closed, keeps the figures it had (stored as shown) and the
fingerprint of their inputs. Readings that would change a closed period are not applied: they
wait in `quarantined_reading` (reason `closed_period`) as a pending regularisation, until the
manager reopens the period or books the difference in an open month.

This module is the system-of-record side (store, read, divert); the computation of figures
lives in `contract/` and is composed by the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, or_, select

from carnet.models import Channel, ClosedPeriod, Contract, ContractBuilding
from carnet.timeutil import TZ, local_dates, local_day_bounds

MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
REASON_CODE = "closed_period"


class ClosingError(ValueError):
    """A refused close, reopen or booking; the message is for the user (French)."""


class NotAllowed(ClosingError):
    """The signing user's role may not close, reopen or book (manager only)."""


@dataclass(frozen=True)
class ClosedRef:
    """A closed period, as named to the user."""

    id: int
    contract_code: str
    period_kind: str  # month, season
    period: str  # AAAA-MM or AAAA-AAAA
    closed_at: dt.datetime
    closed_by: str
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    contract_id: int | None = None

    @property
    def label(self) -> str:
        """« CHAUFF-2024 novembre 2025 » / « CHAUFF-2024 saison 2024-2025 »."""
        return f"{self.contract_code} {period_label(self.period_kind, self.period)}"

    @property
    def marker(self) -> str:
        """« arrêté le 05/12/2025 par gestionnaire » (« arrêtée » for a season)."""
        return closed_marker(self.closed_at, self.closed_by, self.period_kind == "season")


def period_label(period_kind: str, period: str) -> str:
    if period_kind == "month":
        year, month = period.split("-")
        return f"{MONTHS_FR[int(month) - 1]} {year}"
    return f"saison {period}"


def of_label(label: str) -> str:
    """« de novembre 2025 », « d'octobre 2025 » (French elision)."""
    return ("d'" if label[:1].lower() in "aeéiouy" else "de ") + label


def closed_marker(closed_at: dt.datetime, closed_by: str, feminine: bool = False) -> str:
    day = closed_at.astimezone(TZ).strftime("%d/%m/%Y")
    return f"arrêté{'e' if feminine else ''} le {day} par {closed_by}"


def _closed_refs(conn) -> list[ClosedRef]:
    rows = conn.execute(
        select(
            ClosedPeriod.id,
            Contract.code,
            ClosedPeriod.period_kind,
            ClosedPeriod.period,
            ClosedPeriod.closed_at,
            ClosedPeriod.closed_by,
            ClosedPeriod.first_day,
            ClosedPeriod.last_day,
            ClosedPeriod.contract_id,
        )
        .join(Contract, Contract.id == ClosedPeriod.contract_id)
        .where(ClosedPeriod.status == "closed")
        .order_by(ClosedPeriod.id)
    ).all()
    out = []
    for r in rows:
        closed_at = r[4]
        if closed_at is not None and closed_at.tzinfo is None:  # Connection, not Session
            closed_at = closed_at.replace(tzinfo=dt.UTC)
        out.append(
            ClosedRef(r[0], r[1], r[2], r[3], closed_at, r[5], _date(r[6]), _date(r[7]), r[8])
        )
    return out


def _date(value) -> dt.date:
    if isinstance(value, str):  # SQLite through a bare Connection
        return dt.date.fromisoformat(value[:10])
    return value


def contract_channels(conn, contract_ids) -> pd.DataFrame:
    """(contract_id, channel_id) pairs: the channels of the contract's buildings, its metering
    and hot-water channels, and the channels of its weather station (the contract's, or the
    buildings' own when the contract names none, as the settlement does)."""
    contract_ids = sorted({int(c) for c in contract_ids})
    if not contract_ids:
        return pd.DataFrame({"contract_id": [], "channel_id": []}, dtype="int64")
    cb = conn.execute(
        select(
            ContractBuilding.contract_id,
            ContractBuilding.building_id,
            ContractBuilding.channel_id,
            ContractBuilding.ecs_channel_id,
        ).where(ContractBuilding.contract_id.in_(contract_ids))
    ).all()
    # the settlement's station: the contract's, else each building's (contract.terms)
    from carnet.models import Building

    stations = conn.execute(
        select(
            ContractBuilding.contract_id, func.coalesce(Contract.station_id, Building.station_id)
        )
        .join(Contract, Contract.id == ContractBuilding.contract_id)
        .join(Building, Building.id == ContractBuilding.building_id)
        .where(ContractBuilding.contract_id.in_(contract_ids))
    ).all()
    stations = [r for r in stations if r[1] is not None]
    building_ids = sorted({r[1] for r in cb})
    station_ids = sorted({r[1] for r in stations})
    chans = conn.execute(
        select(Channel.id, Channel.building_id, Channel.station_id).where(
            or_(
                Channel.building_id.in_(building_ids or [-1]),
                Channel.station_id.in_(station_ids or [-1]),
            )
        )
    ).all()
    chan = pd.DataFrame(chans, columns=["channel_id", "building_id", "station_id"])
    cbf = pd.DataFrame(cb, columns=["contract_id", "building_id", "channel_id", "ecs_channel_id"])
    stf = pd.DataFrame(stations, columns=["contract_id", "station_id"])
    parts = [
        cbf[["contract_id", "building_id"]].merge(chan, on="building_id")[
            ["contract_id", "channel_id"]
        ],
        stf.merge(chan.dropna(subset=["station_id"]), on="station_id")[
            ["contract_id", "channel_id"]
        ],
        cbf[["contract_id", "channel_id"]].dropna(),
        cbf[["contract_id", "ecs_channel_id"]]
        .dropna()
        .rename(columns={"ecs_channel_id": "channel_id"}),
    ]
    pairs = pd.concat(parts, ignore_index=True).astype("int64").drop_duplicates()
    return pairs.reset_index(drop=True)


def _match(conn, frame: pd.DataFrame) -> tuple[np.ndarray, dict[int, ClosedRef]]:
    """For each row of `frame`, the id of one closed period it would change (0 if none).

    When several closed periods cover a row (a closed month inside a closed season), the
    widest one is named. One query for the periods, three for the channels; then numpy masks,
    one per closed period (there are few), over the rows that could be concerned.
    """
    hit = np.zeros(len(frame), dtype="int64")
    if frame.empty:
        return hit, {}
    refs = _closed_refs(conn)
    if not refs:
        return hit, {}
    by_id = {r.id: r for r in refs}
    pairs = contract_channels(conn, {r.contract_id for r in refs})
    channel = frame["channel_id"].to_numpy(dtype="int64")
    ts = frame["ts"].to_numpy(dtype="int64")
    lo = min(local_day_bounds(r.first_day, r.first_day)[0] for r in refs)
    hi = max(local_day_bounds(r.last_day, r.last_day)[1] for r in refs)
    cand = np.flatnonzero(np.isin(channel, pairs["channel_id"].to_numpy()) & (ts >= lo) & (ts < hi))
    if not len(cand):
        return hit, by_id
    days = local_dates(ts[cand])
    cand_channel = channel[cand]
    widest_first = sorted(refs, key=lambda r: (-(r.last_day - r.first_day).days, r.id))
    for ref in widest_first:
        chans = pairs.loc[pairs["contract_id"] == ref.contract_id, "channel_id"].to_numpy()
        mask = (
            np.isin(cand_channel, chans)
            & (days >= np.datetime64(ref.first_day, "D"))
            & (days <= np.datetime64(ref.last_day, "D"))
        )
        free = hit[cand] == 0
        hit[cand[mask & free]] = ref.id
    return hit, by_id


def periods_touched(conn, frame: pd.DataFrame) -> list[ClosedRef]:
    """The closed periods that these readings (`channel_id`, `ts` UTC epoch s) would change."""
    hit, by_id = _match(conn, frame)
    return [by_id[i] for i in sorted(set(np.unique(hit[hit > 0]).tolist()))]


def held_reason(ref: ClosedRef) -> str:
    """« période arrêtée : CHAUFF-2024 novembre 2025 (arrêtée le 05/12/2025 par gestionnaire) »."""
    return f"période arrêtée : {ref.label} ({closed_marker(ref.closed_at, ref.closed_by, True)})"


def split_closed(conn, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(open rows, held rows). Held rows keep their columns and gain `closed_period_id`,
    `reason_code` ('closed_period') and `reason` (French, naming the period)."""
    hit, by_id = _match(conn, frame)
    held_mask = hit > 0
    if not held_mask.any():
        empty = frame.iloc[0:0].assign(
            closed_period_id=pd.Series(dtype="int64"),
            reason_code=pd.Series(dtype=object),
            reason=pd.Series(dtype=object),
        )
        return frame, empty
    held = frame.loc[held_mask].copy()
    ids = hit[held_mask]
    held["closed_period_id"] = ids
    held["reason_code"] = REASON_CODE
    reasons = {i: held_reason(by_id[i]) for i in np.unique(ids).tolist()}
    held["reason"] = pd.Series(ids, index=held.index).map(reasons)
    return frame.loc[~held_mask], held


# --- diverting later data ---------------------------------------------------------------------

APPLY_FLAG = "carnet.closing.apply"  # conn.info key: the caller applies pending rows on purpose


def _stored(conn, frame: pd.DataFrame) -> pd.DataFrame:
    """The stored (value, quality) of the frame's keys: one range query per channel (a held
    frame spans a handful of channels)."""
    from sqlalchemy import text

    parts = []
    for cid, grp in frame.groupby("channel_id"):
        rows = conn.execute(
            text(
                "SELECT ts, value, quality FROM reading WHERE channel_id = :c"
                " AND ts >= :a AND ts <= :b"
            ),
            {"c": int(cid), "a": int(grp["ts"].min()), "b": int(grp["ts"].max())},
        ).all()
        if rows:
            arr = np.array([(r[0], np.nan if r[1] is None else r[1], r[2]) for r in rows], float)
            parts.append(
                pd.DataFrame(
                    {
                        "channel_id": int(cid),
                        "ts": arr[:, 0].astype("int64"),
                        "old_value": arr[:, 1],
                        "old_quality": arr[:, 2].astype("int64"),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(
            {"channel_id": [], "ts": [], "old_value": [], "old_quality": []}
        ).astype({"channel_id": "int64", "ts": "int64", "old_quality": "int64"})
    return pd.concat(parts, ignore_index=True)


def would_change(conn, frame: pd.DataFrame) -> np.ndarray:
    """Mask of normalised readings that would change the record (the store's own rule: a
    measured value is not replaced by an estimate, a gap never erases a value)."""
    from carnet.kinds import Quality

    if not len(frame):
        return np.zeros(0, dtype=bool)
    merged = frame[["channel_id", "ts", "value", "quality"]].merge(
        _stored(conn, frame), on=["channel_id", "ts"], how="left"
    )
    exists = merged["old_quality"].notna().to_numpy()
    value, old = merged["value"].to_numpy(float), merged["old_value"].to_numpy(float)
    quality = merged["quality"].to_numpy("int64")
    old_q = merged["old_quality"].fillna(-1).to_numpy("int64")
    differs = ~((value == old) | (np.isnan(value) & np.isnan(old))) | (quality != old_q)
    keep_measured = (old_q == int(Quality.MEASURED)) & (quality == int(Quality.ESTIMATED))
    keep_value = np.isin(quality, [int(Quality.GAP), int(Quality.INVALID)]) & ~np.isnan(old)
    return ~exists | (differs & ~keep_measured & ~keep_value)


def _store_held(conn, held: pd.DataFrame, batch_id: int | None) -> int:
    """Insert the held rows (status held), except those already waiting for a closed period
    with the same value (the same file imported again). Only closed-period rows count: a
    reading held as implausible and then accepted by a person comes here as a new pending
    regularisation, not lost as a duplicate."""
    from carnet.models import ImportBatch, QuarantinedReading

    q = QuarantinedReading.__table__
    ids = sorted({int(c) for c in held["channel_id"]})
    waiting = conn.execute(
        select(q.c.channel_id, q.c.ts, q.c.value).where(
            q.c.channel_id.in_(ids),
            q.c.ts >= int(held["ts"].min()),
            q.c.ts <= int(held["ts"].max()),
            q.c.status == "held",
            q.c.reason_code == REASON_CODE,
        )
    ).all()
    frame = held
    if waiting:
        seen = pd.DataFrame(waiting, columns=["channel_id", "ts", "old"]).astype(
            {"channel_id": "int64", "ts": "int64", "old": "float64"}
        )
        m = held[["channel_id", "ts", "value"]].merge(seen, on=["channel_id", "ts"], how="left")
        value, old = m["value"].to_numpy(float), m["old"].to_numpy(float)
        again = (value == old) | (np.isnan(value) & np.isnan(old) & m["old"].notna().to_numpy())
        frame = held.loc[~again]
    if not len(frame):
        return 0
    source = None
    if batch_id is not None:
        source = conn.execute(select(ImportBatch.source).where(ImportBatch.id == batch_id)).scalar()
    now = dt.datetime.now(dt.UTC)
    value = frame["value"].to_numpy(dtype=float)
    records = [
        {
            "batch_id": batch_id,
            "channel_id": int(c),
            "ts": int(t),
            "value": None if np.isnan(v) else float(v),
            "quality": int(qual),
            "file": source,
            "reason_code": REASON_CODE,
            "reason": str(why),
            "closed_period_id": int(cp),
            "status": "held",
            "created_at": now,
        }
        for c, t, v, qual, why, cp in zip(
            frame["channel_id"], frame["ts"], value, frame["quality"], frame["reason"],
            frame["closed_period_id"], strict=True,
        )  # held rows of one upsert: a correction file, rarely more than a few thousand
    ]  # fmt: skip
    conn.execute(q.insert(), records)
    return len(records)


@dataclass
class Held:
    """What `hold_closed` kept apart: the rows that touch a closed period and would change it."""

    rows: int = 0
    periods: list[ClosedRef] | None = None


def hold_closed(conn, frame: pd.DataFrame, batch_id: int | None = None):
    """Divert the normalised readings that would change a closed period into the quarantine
    (status held, reason `closed_period`): they are the pending regularisation. Returns
    (rows to write, Held). A row equal to what is stored passes (it changes nothing); a row
    already waiting is counted again but not stored twice. Cheap when nothing is closed."""
    if conn.info.get(APPLY_FLAG) or not len(frame):
        return frame, Held(0, [])
    open_rows, held = split_closed(conn, frame)
    if not len(held):
        return frame, Held(0, [])
    changes = would_change(conn, held)
    if not changes.all():
        open_rows = pd.concat([open_rows, held.loc[~changes, frame.columns]]).sort_index()
        held = held.loc[changes]
    if not len(held):
        return open_rows, Held(0, [])
    _store_held(conn, held, batch_id)
    by_id = {r.id: r for r in _closed_refs(conn)}
    periods = [by_id[i] for i in sorted(set(held["closed_period_id"].tolist())) if i in by_id]
    return open_rows, Held(len(held), periods)


# --- storing and reading closed periods -------------------------------------------------------

CLOSE_FIELDS = ["contract_id", "period_kind", "period", "first_day", "last_day", "status"]
CLOSE_FIELDS += ["fingerprint", "inputs", "closed_at", "closed_by"]
REOPEN_FIELDS = ["status", "reopened_at", "reopened_by", "reopen_reason"]


def contract_by_code(session, code: str) -> Contract:
    contract = session.scalar(select(Contract).where(Contract.code == code))
    if contract is None:
        raise LookupError(f"contrat inconnu : {code}")
    return contract


def check_actor(session, actor: str | None) -> str:
    """The login that signs: named, and a manager when it is a known user."""
    from carnet.models import User
    from carnet.roles import can

    if not actor or not str(actor).strip():
        raise ClosingError("décision refusée : qui arrête ou rouvre la période n'est pas nommé")
    user = session.scalar(select(User).where(User.login == actor))
    if user is not None and (not user.active or not can(user.role, "period.close")):
        raise NotAllowed(
            f"{actor} ({user.role}) n'a pas le droit d'arrêter ou de rouvrir une période"
            " (gestionnaire seulement)"
        )
    return str(actor).strip()


def ref_of(row: ClosedPeriod, contract_code: str) -> ClosedRef:
    return ClosedRef(
        row.id, contract_code, row.period_kind, row.period, row.closed_at, row.closed_by,
        row.first_day, row.last_day, row.contract_id,
    )  # fmt: skip


def find_closed(session, contract_id: int, kind: str, period: str) -> ClosedPeriod | None:
    return session.scalar(
        select(ClosedPeriod)
        .where(
            ClosedPeriod.contract_id == contract_id,
            ClosedPeriod.period_kind == kind,
            ClosedPeriod.period == period,
            ClosedPeriod.status == "closed",
        )
        .order_by(ClosedPeriod.id.desc())
    )


def closed_rows(session, contract_id: int) -> list[ClosedPeriod]:
    """The contract's closed periods (status closed), oldest first."""
    return list(
        session.scalars(
            select(ClosedPeriod)
            .where(ClosedPeriod.contract_id == contract_id, ClosedPeriod.status == "closed")
            .order_by(ClosedPeriod.id)
        )
    )


def month_closed_by(session, contract_id: int, month: str, season: str) -> ClosedPeriod | None:
    """What freezes a month: the month's own close (signed first), else its season's."""
    return find_closed(session, contract_id, "month", month) or find_closed(
        session, contract_id, "season", season
    )


def store_closed(
    session,
    contract: Contract,
    kind: str,
    period: str,
    first_day: dt.date,
    last_day: dt.date,
    figures: dict,
    fingerprint_hex: str,
    inputs: dict,
    actor: str,
) -> ClosedPeriod:
    """Store the figures as they stand, signed by `actor` (audited). Refused when the period,
    or the season that holds a month, is already closed."""
    actor = check_actor(session, actor)
    label = period_label(kind, period)
    already = find_closed(session, contract.id, kind, period)
    if already is not None:
        raise ClosingError(
            f"{contract.code} {label} est déjà arrêté"
            f"{'e' if kind == 'season' else ''} ({closed_marker(already.closed_at, already.closed_by, kind == 'season')}) :"
            " rouvrez-la d'abord pour l'arrêter à nouveau"
        )
    row = ClosedPeriod(
        contract_id=contract.id,
        period_kind=kind,
        period=period,
        first_day=first_day,
        last_day=last_day,
        status="closed",
        figures=figures,
        fingerprint=fingerprint_hex,
        inputs=inputs,
        closed_at=dt.datetime.now(dt.UTC),
        closed_by=actor,
    )
    session.add(row)
    session.flush()
    from carnet import audit

    audit.record(session, actor, "close", "closed_period", row.id, after=_image(row, CLOSE_FIELDS))
    return row


def _image(row: ClosedPeriod, fields: list[str]) -> dict:
    return {name: getattr(row, name) for name in fields}


def mark_reopened(session, row: ClosedPeriod, actor: str, why: str) -> None:
    actor = check_actor(session, actor)
    if not why or not why.strip():
        raise ClosingError("réouverture refusée : dites pourquoi (--why)")
    before = _image(row, REOPEN_FIELDS)
    row.status = "reopened"
    row.reopened_at = dt.datetime.now(dt.UTC)
    row.reopened_by = actor
    row.reopen_reason = why.strip()
    session.flush()
    from carnet import audit

    audit.record(
        session, actor, "reopen", "closed_period", row.id, before, _image(row, REOPEN_FIELDS)
    )


# --- fingerprint of the inputs ----------------------------------------------------------------


def _cursor_rows(conn, sql: str) -> list[tuple]:
    result = conn.exec_driver_sql(sql)
    try:
        return result.fetchall()
    finally:
        result.close()


def _day_numbers(values) -> np.ndarray:
    if not len(values):
        return np.zeros(0, dtype="int64")
    days = [v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10]) for v in values]
    return np.asarray(days, dtype="datetime64[D]").astype("int64")


def _floats(values) -> np.ndarray:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    arr[np.isnan(arr)] = np.nan  # one NaN bit pattern whatever the driver gave
    return arr


def fingerprint(conn, contract_id: int, first_day: dt.date, last_day: dt.date):
    """SHA-256 of what the period's figures are computed from: the readings and daily rollups
    of the contract's channels (buildings, metering, hot water, weather station) over the
    period's local days, the contract terms and its adjustments. Returns (hex, inputs), the
    latter saying what was covered (ids, days, row counts). Identical on SQLite and PostgreSQL
    for identical data: numbers are hashed as int64/float64 bytes, in key order."""
    import hashlib
    import json

    from carnet.models import Adjustment

    pairs = contract_channels(conn, [contract_id])
    ids = sorted(set(pairs["channel_id"].tolist()))
    lo, hi = local_day_bounds(first_day, last_day)
    digest = hashlib.sha256()
    id_list = ",".join(str(int(i)) for i in ids) or "-1"
    readings = _cursor_rows(
        conn,
        f"SELECT channel_id, ts, value, quality FROM reading WHERE channel_id IN ({id_list})"
        f" AND ts >= {int(lo)} AND ts < {int(hi)} ORDER BY channel_id, ts",
    )
    cols = list(zip(*readings, strict=True)) if readings else [[], [], [], []]
    digest.update(b"reading")
    digest.update(np.asarray(cols[0], dtype="int64").tobytes())
    digest.update(np.asarray(cols[1], dtype="int64").tobytes())
    digest.update(_floats(cols[2]).tobytes())
    digest.update(np.asarray(cols[3], dtype="int64").tobytes())
    rollups = _cursor_rows(
        conn,
        "SELECT channel_id, day, value, energy_kwh, min_value, max_value, n_readings,"
        f" coverage, estimated FROM daily_rollup WHERE channel_id IN ({id_list})"
        f" AND day >= '{first_day.isoformat()}' AND day <= '{last_day.isoformat()}'"
        " ORDER BY channel_id, day",
    )
    rcols = list(zip(*rollups, strict=True)) if rollups else [[]] * 9
    digest.update(b"daily_rollup")
    digest.update(np.asarray(rcols[0], dtype="int64").tobytes())
    digest.update(_day_numbers(rcols[1]).tobytes())
    for i in (2, 3, 4, 5, 7):
        digest.update(_floats(rcols[i]).tobytes())
    digest.update(np.asarray(rcols[6], dtype="int64").tobytes())
    digest.update(np.asarray([bool(v) for v in rcols[8]], dtype="int8").tobytes())
    terms = _terms_image(conn, contract_id)
    digest.update(b"terms" + json.dumps(terms, sort_keys=True, default=str).encode())
    adj = Adjustment.__table__.c
    cb_ids = [cb["id"] for cb in terms["buildings"]]
    adjustments = [
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r._mapping.items()}
        for r in conn.execute(
            select(adj.id, adj.contract_building_id, adj.effective_from, adj.effective_to,
                   adj.kind, adj.nb_factor, adj.delta_mwh_pci)
            .where(adj.contract_building_id.in_(cb_ids or [-1]), adj.status == "active")
            .order_by(adj.id)
        )
    ]  # fmt: skip
    digest.update(b"adjustments" + json.dumps(adjustments, sort_keys=True).encode())
    inputs = {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "days": (last_day - first_day).days + 1,
        "channel_ids": ids,
        "readings": len(readings),
        "daily_rollups": len(rollups),
        "adjustment_ids": [a["id"] for a in adjustments],
        "contract_building_ids": cb_ids,
    }
    return digest.hexdigest(), inputs


def _terms_image(conn, contract_id: int) -> dict:
    c = Contract.__table__.c
    row = conn.execute(select(Contract.__table__).where(c.id == contract_id)).one()._mapping
    image = {k: (str(v) if v is not None else None) for k, v in row.items() if k != "ical_token"}
    cbt = ContractBuilding.__table__
    buildings = [
        {k: (str(v) if v is not None else None) for k, v in r._mapping.items()}
        for r in conn.execute(
            select(cbt).where(cbt.c.contract_id == contract_id).order_by(cbt.c.id)
        )
    ]
    for b in buildings:
        b["id"] = int(b["id"])
    return {"contract": image, "buildings": buildings}


# --- pending regularisations: what waits, and applying it -------------------------------------

HELD_COLUMNS = ["id", "batch_id", "channel_id", "ts", "value", "quality", "closed_period_id"]


def held_rows(conn, channel_ids=None, closed_period_ids=None) -> pd.DataFrame:
    """Readings waiting because of a closed period (status held), oldest first."""
    from carnet.models import QuarantinedReading

    q = QuarantinedReading.__table__.c
    stmt = select(*(q[c] for c in HELD_COLUMNS)).where(
        q.status == "held", q.reason_code == REASON_CODE
    )
    if channel_ids is not None:
        stmt = stmt.where(q.channel_id.in_(sorted({int(c) for c in channel_ids}) or [-1]))
    if closed_period_ids is not None:
        stmt = stmt.where(q.closed_period_id.in_(sorted({int(c) for c in closed_period_ids})))
    rows = conn.execute(stmt.order_by(q.id)).all()
    frame = pd.DataFrame(rows, columns=HELD_COLUMNS)
    for col in ("id", "channel_id", "ts", "quality"):
        frame[col] = frame[col].astype("int64")
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    return frame


def latest_per_key(held: pd.DataFrame) -> pd.DataFrame:
    """The most recent held value of each (channel, ts): a later file corrects an earlier one."""
    return held.sort_values("id").drop_duplicates(["channel_id", "ts"], keep="last")


def apply_held(
    session, held: pd.DataFrame, actor: str, note: str, force: bool = False
) -> tuple[int, int]:
    """Write the held rows that no closed period covers any more (rollups refreshed, as the
    batch that brought them) and mark them `applied`; those still covered (a closed season
    around a reopened month) are re-pointed at that period. `force` writes them all: a
    booked regularisation, whose closed figures stay as stored. Returns (applied, held)."""
    from carnet.models import QuarantinedReading
    from carnet.store import take_write_lock, upsert_readings

    if not len(held):
        return 0, 0
    conn = session.connection()
    take_write_lock(conn)  # the readings' lock before the held rows' (see carnet.store)
    latest = latest_per_key(held)
    superseded = held[~held["id"].isin(latest["id"])]
    if force:
        open_rows, still = latest, latest.iloc[0:0].assign(reason="")
    else:
        open_rows, still = split_closed(conn, latest)
    now = dt.datetime.now(dt.UTC)
    q = QuarantinedReading.__table__
    for cpid, grp in still.groupby("closed_period_id"):
        conn.execute(
            q.update()
            .where(q.c.id.in_(grp["id"].astype(int).tolist()))
            .values(closed_period_id=int(cpid), reason=str(grp["reason"].iloc[0]))
        )
    conn.info[APPLY_FLAG] = True
    try:
        for batch_id, grp in open_rows.groupby(open_rows["batch_id"].fillna(-1)):
            upsert_readings(
                conn,
                grp[["channel_id", "ts", "value", "quality"]],
                batch_id=None if batch_id == -1 else int(batch_id),
                refresh=True,
            )
    finally:
        conn.info.pop(APPLY_FLAG, None)
    decided = {"decided_at": now, "decided_by": actor}
    if len(open_rows):
        conn.execute(
            q.update()
            .where(q.c.id.in_(open_rows["id"].astype(int).tolist()))
            .values(status="applied", decision_note=note, **decided)
        )
    if len(superseded):
        conn.execute(
            q.update()
            .where(q.c.id.in_(superseded["id"].astype(int).tolist()))
            .values(
                status="rejected",
                decision_note="remplacé par une valeur plus récente du même instant",
                **decided,
            )
        )
    from carnet import audit

    audit.record(
        session, actor, "apply", "quarantined_reading", None,
        after={"ids": open_rows["id"].astype(int).tolist(), "note": note,
               "still_held": still["id"].astype(int).tolist()},
    )  # fmt: skip
    return len(open_rows), len(still)


def overlay_inputs(conn, held: pd.DataFrame):
    """What recomputing the rollups with the held rows applied needs, from the record: for
    each channel with held rows, the stored readings over the local days they can change
    (from the reading before the first held instant to the one after the last, whole days,
    plus one reading on each side), the channels' kind/unit/factor, resets and dated factors.
    Returns (readings, meta, resets, factors, days) with `days` per channel: (first, last)."""
    from sqlalchemy import text

    from carnet.timeutil import local_midnight_epoch

    span = held.groupby("channel_id")["ts"].agg(["min", "max"])
    parts, days = [], {}
    for cid, (lo, hi) in span.iterrows():  # channels with pending rows: a handful
        cid = int(cid)
        prev = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": cid, "t": int(lo)},
        ).scalar()
        nxt = conn.execute(
            text("SELECT MIN(ts) FROM reading WHERE channel_id = :c AND ts > :t"),
            {"c": cid, "t": int(hi)},
        ).scalar()
        d_lo = local_dates([int(prev if prev is not None else lo)])[0]
        d_hi = local_dates([int(nxt if nxt is not None else hi)])[0]
        a, b = local_midnight_epoch([d_lo, d_hi + np.timedelta64(1, "D")])
        a = conn.execute(
            text("SELECT MAX(ts) FROM reading WHERE channel_id = :c AND ts < :t"),
            {"c": cid, "t": int(a)},
        ).scalar() or int(a)
        b = conn.execute(
            text("SELECT MIN(ts) FROM reading WHERE channel_id = :c AND ts >= :t"),
            {"c": cid, "t": int(b)},
        ).scalar() or int(b)
        rows = conn.execute(
            text(
                "SELECT ts, value, quality FROM reading WHERE channel_id = :c"
                " AND ts >= :a AND ts <= :b ORDER BY ts"
            ),
            {"c": cid, "a": int(a), "b": int(b)},
        ).all()
        parts.append(
            pd.DataFrame(
                {
                    "channel_id": cid,
                    "ts": np.array([r[0] for r in rows], dtype="int64"),
                    "value": _floats([r[1] for r in rows]),
                    "quality": np.array([r[2] for r in rows], dtype="int64"),
                }
            )
        )
        days[cid] = (pd.Timestamp(d_lo).date(), pd.Timestamp(d_hi).date())
    readings = pd.concat(parts, ignore_index=True)
    id_list = ",".join(str(int(c)) for c in span.index)
    meta = pd.read_sql_query(
        text(f"SELECT id, kind, unit, kwh_per_unit, modulus FROM channel WHERE id IN ({id_list})"),
        conn,
    ).set_index("id")
    resets = pd.read_sql_query(
        text(
            "SELECT channel_id, ts, old_final_value, new_start_value FROM index_reset"
            f" WHERE channel_id IN ({id_list})"
        ),
        conn,
    )
    factors = pd.read_sql_query(
        text(
            "SELECT channel_id, valid_from, kwh_per_unit FROM conversion_factor"
            f" WHERE channel_id IN ({id_list})"
        ),
        conn,
    )
    return readings, meta, resets, factors, days


# --- adjustments that would change a closed period --------------------------------------------


def adjustment_touches(
    session, contract_id: int, effective_from: dt.date, effective_to: dt.date | None
) -> list[ClosedRef]:
    """The contract's closed periods an adjustment in force over [from, to] would change."""
    code = session.scalar(select(Contract.code).where(Contract.id == contract_id))
    out = []
    for row in closed_rows(session, contract_id):
        if row.last_day >= effective_from and (
            effective_to is None or row.first_day <= effective_to
        ):
            out.append(ref_of(row, code))
    return out


def pending_adjustments(conn, contract_id: int) -> pd.DataFrame:
    """The contract's adjustments waiting (status pending), in the shape the settlement reads
    (`carnet.frames_settlement.adjustments`), with the building code."""
    from carnet.models import Adjustment, Building

    a = Adjustment.__table__.c
    cols = ["id", "contract_building_id", "effective_from", "effective_to", "kind"]
    cols += ["nb_factor", "delta_mwh_pci", "justification", "author_login", "created_at"]
    rows = conn.execute(
        select(Building.code, *(a[c] for c in cols))
        .join(ContractBuilding, ContractBuilding.id == a.contract_building_id)
        .join(Building, Building.id == ContractBuilding.building_id)
        .where(ContractBuilding.contract_id == contract_id, a.status == "pending")
        .order_by(a.effective_from, a.id)
    ).all()
    return pd.DataFrame(rows, columns=["building_code", *cols])


def activate_adjustments(session, ids: list[int], actor: str, note: str) -> int:
    """Pending adjustments come into force (a reopened period, or a booked regularisation)."""
    from carnet import audit
    from carnet.models import Adjustment

    n = 0
    for adj in session.scalars(select(Adjustment).where(Adjustment.id.in_(ids or [-1]))):
        if adj.status != "pending":
            continue
        adj.status = "active"
        audit.record(
            session, actor, "activate", "adjustment", adj.id,
            {"status": "pending"}, {"status": "active", "note": note},
        )  # fmt: skip
        n += 1
    session.flush()
    return n


# --- regularisations booked in an open month --------------------------------------------------


def regularisations_in(conn, contract_id: int, month: str) -> pd.DataFrame:
    """Regularisation lines booked in `month`, with their origin period and building."""
    from carnet.models import Building, Regularisation

    r = Regularisation.__table__.c
    rows = conn.execute(
        select(
            r.id, r.building_id, Building.code, Building.name, r.closed_period_id,
            ClosedPeriod.period_kind, ClosedPeriod.period, r.booked_month, r.delta_mwh_pci,
            r.delta_cents, r.details, r.why, r.created_by, r.created_at,
        )
        .join(ClosedPeriod, ClosedPeriod.id == r.closed_period_id)
        .outerjoin(Building, Building.id == r.building_id)
        .where(r.contract_id == contract_id, r.booked_month == month)
        .order_by(r.id)
    ).all()  # fmt: skip
    cols = ["id", "building_id", "building_code", "building_name", "closed_period_id"]
    cols += ["period_kind", "period", "booked_month", "delta_mwh_pci", "delta_cents", "details"]
    cols += ["why", "created_by", "created_at"]
    return pd.DataFrame(rows, columns=cols)


def booked_for(conn, closed_period_id: int) -> pd.DataFrame:
    """Regularisations already booked for a closed period (building_id, details)."""
    from carnet.models import Regularisation

    r = Regularisation.__table__.c
    rows = conn.execute(
        select(r.id, r.building_id, r.booked_month, r.delta_mwh_pci, r.delta_cents, r.details)
        .where(r.closed_period_id == closed_period_id)
        .order_by(r.id)
    ).all()
    cols = ["id", "building_id", "booked_month", "delta_mwh_pci", "delta_cents", "details"]
    return pd.DataFrame(rows, columns=cols)


def store_regularisations(session, contract_id: int, closed_period_id: int, lines, why, actor):
    """Book regularisation rows (one per building with a difference); audited."""
    from carnet import audit
    from carnet.models import Regularisation

    out = []
    for line in lines:  # one per building of the contract
        reg = Regularisation(
            contract_id=contract_id,
            building_id=line["building_id"],
            closed_period_id=closed_period_id,
            booked_month=line["booked_month"],
            delta_mwh_pci=float(line["delta_mwh_pci"]),
            delta_cents=int(line["delta_cents"]),
            details=line.get("details"),
            why=why.strip(),
            created_by=actor,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(reg)
        session.flush()
        audit.record(
            session, actor, "create", "regularisation", reg.id,
            after={k: getattr(reg, k) for k in ("contract_id", "building_id", "closed_period_id",
                   "booked_month", "delta_mwh_pci", "delta_cents", "details", "why")},
        )  # fmt: skip
        out.append(reg)
    return out
