"""The poller's writes: readings, device health and alarm events in one transaction, through
the plausibility checks of file imports; what cannot be written goes to the spool.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from carnet import db as carnet_db
from carnet import versions
from carnet.config import carnet_home
from carnet.kinds import Quality
from carnet.models import DeviceStatus, ImportBatch
from carnet.pending_rollups import ROLLUP_LAG_S, PendingRollups, recover
from carnet.quarantine import hold, reason_label
from carnet.store import Tail, normalise_readings, stored_tail, take_write_lock, upsert_readings
from ingest.modbus.alarms import AlarmEvent, AlarmTracker
from ingest.modbus.spool import Spool
from ingest.plausibility import channel_limits, screen

if TYPE_CHECKING:
    from ingest.modbus.device_reader import DeviceReader

log = logging.getLogger(__name__)


@dataclass
class FlushReport:
    rows: int = 0  # readings of this flush's own frame (spool replays not counted)
    written: bool = False
    spooled: int = 0  # files written to the spool by this flush
    replayed: int = 0  # spool files written to the database by this flush
    batch_id: int | None = None
    error: str | None = None
    held: int = 0  # of `rows`, held in quarantine instead of written
    held_replayed: int = 0  # held while replaying the spool
    held_reasons: dict[str, int] = field(default_factory=dict)  # reason_code -> count
    held_samples: list[str] = field(default_factory=list)  # « CODE : reason », a few

    @property
    def stored(self) -> int:
        """Readings of the frame that went to `reading`."""
        return self.rows - self.held


HELD_SAMPLES = 5  # held readings named in a flush report
SQLITE_CACHE_KIB = 65_536  # the poller's SQLite page cache (see Writer._cache_pages)
_CACHE_SET = "carnet_poller_cache_size"
# SQLite: the poller copies the write-ahead log back into the database every so many flushes
# (see Writer._checkpoint), and its connections only past this many pages of log (80 MiB)
SQLITE_CHECKPOINT_FLUSHES = 5
SQLITE_AUTOCHECKPOINT_PAGES = 20_000


@dataclass(frozen=True)
class PointSource:
    """Where a channel's readings come from, for the quarantine: the gateway code goes to its
    `file` column, `raw` names the device, point and register."""

    gateway: str
    channel_code: str
    raw: str


@dataclass
class _Written:
    batch_id: int
    held: int
    reasons: dict[str, int]
    samples: list[str]


def _transient(exc: BaseException) -> bool:
    """The database is away or busy: try again later. Any other error replaying a spool file
    sets the file aside (`.bad`) so that it cannot block the files after it forever. DB-API
    errors raised by the raw driver (the bulk paths of carnet.store) are not wrapped: their
    class names follow PEP 249."""
    if isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, OSError,
                        TimeoutError)):  # fmt: skip
        return True
    return any(c.__name__ in ("OperationalError", "InterfaceError") for c in type(exc).__mro__)


def _no_jit(conn) -> None:
    """The flush's statements without JIT (carnet.db.no_jit): 1 s of compilation per flush."""
    carnet_db.no_jit(conn)


class Writer:
    """Writes a frame, the device health and the alarm events in one transaction. The readings
    go through the plausibility checks of file imports first (`ingest.plausibility.screen`):
    what the equipment cannot have done is held in quarantine, not written, so it changes no
    rollup and never becomes the reference of the next increment."""

    def __init__(
        self,
        url: str | None = None,
        spool_dir: Path | None = None,
        source: str = "",
        clock: Callable[[], float] = time.time,
        rollup_lag_s: float = ROLLUP_LAG_S,
    ):
        self.url = url
        self.spool = Spool(spool_dir or carnet_home() / "spool")
        self.source = source or "modbus"
        # channel id -> where it is read (a dict, or the poller's `PointSources`)
        self.points: dict[int, PointSource] | PointSources = {}
        # channel limits, read again only when the data version says something changed
        self._limits = versions.Memo(channel_limits)
        # the end of each channel's stored readings, as this writer's flushes left it: true
        # while nobody else commits (a fresh, empty one after any other writer's commit), it
        # spares the store its pre-insert probe of `reading`
        self._tails = versions.Memo(lambda conn: Tail())
        self._tail: Tail | None = None  # the one the current transaction stages on
        self._uncheckpointed = 0  # flushes committed since the log was copied back (SQLite)
        # today's rollups of the last flushes, merged every `rollup_lag_s` of `clock` (the
        # poller's: the instants it stamps readings with) rather than at each flush
        self.clock = clock
        self.rollup_lag_s = rollup_lag_s
        self._pending = PendingRollups()
        self._recovered = False  # this source's batches left pending by an earlier run
        self._recovering = False

    def _engine(self):
        return carnet_db.get_engine(self.url)

    @staticmethod
    def _cache_pages(conn) -> None:
        """SQLite: a page cache that holds what a flush touches (a leaf of `reading` and of
        `daily_rollup` per channel, 10 000 channels: some 80 MB of pages at most), kept across
        flushes while nobody else writes. With SQLite's default 2 MB, every flush reads those
        pages back from the OS one system call each. And no automatic checkpoint at the
        default 1 000 pages of log: a flush touches the same pages every minute (each
        channel's last leaf of `reading`, its day's rollup), and copying them back into the
        database at every commit cost a third of a 10 000-point flush; `_checkpoint` does it
        every few flushes instead. Per connection, set once."""
        if conn.dialect.name == "sqlite" and not conn.info.get(_CACHE_SET):
            conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")
            conn.info[_CACHE_SET] = True

    def _checkpoint(self, every: int = SQLITE_CHECKPOINT_FLUSHES) -> None:
        """SQLite: the log copied back into the database once `every` flushes have committed
        since the last copy (PASSIVE: it waits for no reader and no writer, and copies what
        it can). The pages rewritten minute after minute are copied once, not at each
        commit; the log stays within a few flushes' worth of pages."""
        if self._uncheckpointed < every:
            return
        try:
            with self._engine().connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            self._uncheckpointed = 0
        except Exception as exc:  # the next flush tries again; nothing read is at stake
            log.info("copie du journal SQLite dans la base différée : %s", exc)

    def close(self) -> None:
        """The rollups still waiting merged, then the log of the last flushes copied back
        into the database (SQLite)."""
        self.merge_pending()
        self._checkpoint(every=1)

    @property
    def pending_rows(self) -> int:
        """Readings stored whose rollups wait for a later flush (`carnet.pending_rollups`)."""
        self._pending.discard()
        return self._pending.rows

    def merge_pending(self) -> bool:
        """Merge the rollups that wait, in a transaction of their own. False when the
        database refused: their batches stay flagged, and the next start rebuilds them."""
        self._pending.discard()
        if not self._pending.rows:
            return True
        try:
            with self._engine().begin() as conn:
                _no_jit(conn)
                self._cache_pages(conn)
                take_write_lock(conn)  # before "did anybody else commit": see `_write`
                self._pending.begin()
                foreign = self._pending.foreign(self._tails.get(conn))
                self._pending.merge(conn, self._limits.get(conn), check=foreign)
            self._committed()
            return True
        except Exception as exc:
            self._pending.discard()
            log.error("cumuls en attente non fusionnés (reconstruits au prochain démarrage) : %s",
                      exc)  # fmt: skip
            return False

    def _screen(
        self, conn, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
        """(accepted, held, the channel limits used)."""
        if not len(frame):
            return frame, frame.iloc[:0], None
        limits = self._limits.get(conn)
        return (*screen(conn, frame, limits), limits)

    def _hold(self, conn, held: pd.DataFrame, batch_id: int) -> None:
        """Held readings into the quarantine, one call per gateway (the file they came from)."""
        src = [self.points.get(int(c)) for c in held["channel_id"]]
        held = held.assign(
            raw=[p.raw if p else None for p in src],
            file=[p.gateway if p else self.source for p in src],
        )
        for gateway, part in held.groupby("file", sort=False):
            hold(conn, part.drop(columns=["file"]), batch_id=batch_id, file=str(gateway))

    def _write(self, conn, frame: pd.DataFrame, source: str) -> _Written:
        """Readings and their batch on `conn`. Plain statements, no ORM objects: a flush a
        minute for months, where the unit of work cost as much as the rows' own insert."""
        self._cache_pages(conn)
        # the readings' lock before anything read decides what is written (the tail, the
        # plausibility context, whether what waits was rebuilt by another writer meanwhile)
        take_write_lock(conn)
        self._tail = None
        self._pending.begin()
        batch_id = conn.execute(
            insert(ImportBatch).values(
                source=source[:500], origin="modbus", format="modbus", user_login="poller"
            )
        ).inserted_primary_key[0]
        frame = normalise_readings(frame) if len(frame) else frame
        accepted, held, limits = self._screen(conn, frame)
        if len(held):
            self._hold(conn, held, batch_id)
        if not self._recovered:  # once per run, at its first write
            recover(conn, self.source, limits)
            self._recovering = True
        counts = None
        pending = self._pending
        if len(accepted) or pending.rows:
            self._tail = self._tails.get(conn)
            if pending.foreign(self._tail):  # somebody else committed since they waited
                pending.merge(conn, limits, check=True)
        if len(accepted):
            counts = upsert_readings(
                conn, accepted, batch_id=batch_id, channels=limits, tail=self._tail,
                pending=pending if self.rollup_lag_s > 0 else None,
            )  # fmt: skip
        if pending.rows and not pending.may_wait(self.clock(), self.rollup_lag_s):
            pending.merge(conn, limits)
        reasons: dict[str, int] = {}
        samples: list[str] = []
        if len(held):
            reasons = {str(k): int(n) for k, n in held["reason_code"].value_counts().items()}
            for c, why in zip(held["channel_id"][:HELD_SAMPLES], held["reason"], strict=False):
                p = self.points.get(int(c))
                samples.append(f"{p.channel_code if p else c} : {why}")
        n_held = len(held)
        done = {"rows_read": len(frame)}
        if counts is not None:
            done |= {"rows_inserted": counts.inserted, "rows_updated": counts.updated,
                     "rows_unchanged": counts.unchanged}  # fmt: skip
            if counts.held:  # later data for a closed period: a pending regularisation
                n_held += counts.held
                reasons["closed_period"] = reasons.get("closed_period", 0) + counts.held
        gaps = int((frame["quality"] == int(Quality.GAP)).sum()) if len(frame) else 0
        notes = [f"{gaps} lacune(s) (point non lu)"] if gaps else []
        if n_held:
            notes.append(f"{held_phrase(n_held)} ({', '.join(map(reason_label, reasons))})")
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(
                **done,
                rows_quarantined=n_held,
                rollups_pending=batch_id in pending.batch_ids,
                status="partial" if notes else "ok",
                message=" ; ".join(notes) or None,
                finished_at=dt.datetime.now(dt.UTC),
            )
        )
        return _Written(batch_id, n_held, reasons, samples)

    def warm(self, channel_ids, from_ts: int) -> bool:
        """Blocking; run in a thread while the first round is read. What the first write
        would read before writing, read now: the channel limits, and the end of the
        channels' stored readings (`carnet.store.stored_tail`), kept in the writer's memos
        (true while nobody else commits: any other writer's commit drops them and the first
        write reads them itself). An optimisation only: on any error it says False and the
        first write does it all."""
        try:
            with self._engine().connect() as conn:
                _no_jit(conn)
                self._cache_pages(conn)
                self._limits.get(conn)
                tail = self._tails.get(conn)
                if tail.known is None:
                    tail.known = stored_tail(conn, channel_ids, from_ts)
                conn.rollback()  # read only
            return True
        except Exception as exc:
            log.info("préchargement avant la première écriture impossible : %s", exc)
            return False

    def _committed(self) -> None:
        """After a transaction of `_write` committed: the memos carried through it."""
        self._limits.committed()
        self._tails.committed()
        self._pending.commit()
        if self._recovering:
            self._recovered, self._recovering = True, False
        if self._tail is not None:
            self._tail.commit()
            self._tail = None

    def flush(
        self, frame: pd.DataFrame, statuses: list[DeviceSnapshot], events: list[AlarmEvent]
    ) -> FlushReport:
        """Blocking; run in a thread, on snapshots taken in the event loop. On failure the
        frame goes to the spool; the caller keeps the statuses and events for the next try.
        Spooled frames are replayed first, each through the same checks in its own batch."""
        report = FlushReport(rows=len(frame))
        try:
            engine = self._engine()
            for path in self.spool.files():
                try:
                    spooled = Spool.read(path)
                except Exception as exc:  # a damaged file must not block the ones after it
                    log.error("fichier d'attente illisible mis de côté : %s (%s)", path, exc)
                    path.rename(path.with_suffix(".bad"))
                    continue
                try:
                    with engine.begin() as conn:
                        _no_jit(conn)
                        done = self._write(conn, spooled, f"spool:{path.name}")
                    self._committed()
                except Exception as exc:
                    if _transient(exc):
                        raise
                    # not the base being away: this file cannot be written, ever
                    log.error("fichier d'attente refusé par la base, mis de côté : %s (%s)",
                              path, exc)  # fmt: skip
                    path.rename(path.with_suffix(".bad"))
                    continue
                path.unlink()
                report.replayed += 1
                report.held_replayed += done.held
                _tally(report, done)
            with engine.begin() as conn:
                _no_jit(conn)
                done = self._write(conn, frame, self.source)
                report.batch_id = done.batch_id
                _save_status(conn, statuses)
                if events:
                    with Session(bind=conn) as session:
                        AlarmTracker.apply_events(session, events)
                        session.flush()
            self._committed()
            report.written = True
            report.held = done.held
            _tally(report, done)
            if engine.dialect.name == "sqlite":
                self._uncheckpointed += 1
                self._checkpoint()
        except Exception as exc:  # the database is away: nothing read may be lost
            report.error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}"
            log.error("base de données indisponible, mise en attente locale : %s", report.error)
            if len(frame):
                self.spool.put(frame)
                report.spooled = 1
        if report.held or report.held_replayed:
            log.warning("%s ; %s", held_phrase(report.held + report.held_replayed),
                        " ; ".join(report.held_samples))  # fmt: skip
        return report


def held_phrase(n: int) -> str:
    """« 1 relevé mis en quarantaine », « 3 relevés mis en quarantaine »."""
    return f"{n} relevé{'s' if n > 1 else ''} mis en quarantaine"


def _tally(report: FlushReport, done: _Written) -> None:
    for code, n in done.reasons.items():
        report.held_reasons[code] = report.held_reasons.get(code, 0) + n
    room = HELD_SAMPLES - len(report.held_samples)
    report.held_samples.extend(done.samples[: max(room, 0)])


@dataclass(frozen=True)
class DeviceSnapshot:
    """A device's health as of a flush, copied in the event loop for the writer thread."""

    gateway: str
    unit: int
    model: str
    building_id: int | None
    equipment_id: int | None
    last_contact: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    failures: int

    @classmethod
    def of(cls, r: DeviceReader) -> DeviceSnapshot:
        b = r.bound
        return cls(b.gateway, b.unit, b.config.map.model, b.building_id, b.equipment_id,
                   r.last_contact, r.last_error, r.last_error_at, r.failures)  # fmt: skip


_STATUS = DeviceStatus.__table__
_STATUS_UPDATE = (
    update(_STATUS)
    .where(_STATUS.c.gateway_code == bindparam("g"), _STATUS.c.unit == bindparam("u"))
    .values(
        model=bindparam("model"),
        building_id=bindparam("building_id"),
        equipment_id=bindparam("equipment_id"),
        last_contact_at=func.coalesce(
            bindparam("last_contact_at", type_=_STATUS.c.last_contact_at.type),
            _STATUS.c.last_contact_at,
        ),
        last_error=bindparam("last_error"),
        last_error_at=bindparam("last_error_at"),
        consecutive_failures=bindparam("consecutive_failures"),
    )
)


_PG_STATUS_UPDATE = (
    (
        "UPDATE device_status AS s SET model = u.model, building_id = u.building_id,"
        " equipment_id = u.equipment_id,"
        " last_contact_at = COALESCE(_E + u.contact_us * _US, s.last_contact_at),"
        " last_error = u.last_error, last_error_at = _E + u.error_us * _US,"
        " consecutive_failures = u.failures"
        " FROM unnest(%s::integer[], %s::text[], %s::integer[], %s::integer[], %s::bigint[],"
        " %s::text[], %s::bigint[], %s::integer[])"
        " AS u(id, model, building_id, equipment_id, contact_us, last_error, error_us, failures)"
        " WHERE s.id = u.id"
    )
    .replace("_E", "TIMESTAMPTZ 'epoch'")
    .replace("_US", "INTERVAL '1 microsecond'")
)


def _pg_array(values: list) -> str:
    """A PostgreSQL array literal of numbers, strings or None, built here: the driver's
    adaptation of a list checks and quotes each element, which for the hundreds of devices
    of a flush cost more than the statement."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, str):
            out.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            out.append(repr(v))
    return "{" + ",".join(out) + "}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _epoch_us(t: dt.datetime | None) -> int | None:
    """Exact microseconds since 1970 of an aware instant."""
    if t is None:
        return None
    if t.tzinfo is None:
        raise ValueError("naive datetime refused: store aware UTC datetimes")
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def _pg_status_update(conn, rows: list[dict], ids: dict) -> None:
    """PostgreSQL: the known devices' rows in one statement, by id, the columns as array
    literals (instants as microseconds since 1970): hundreds of one-row UPDATEs cost a round of the
    pipeline each, more than the flush's readings."""
    columns = [
        [ids[(r["g"], r["u"])] for r in rows],
        [r["model"] for r in rows],
        [r["building_id"] for r in rows],
        [r["equipment_id"] for r in rows],
        [_epoch_us(r["last_contact_at"]) for r in rows],
        [r["last_error"] for r in rows],
        [_epoch_us(r["last_error_at"]) for r in rows],
        [int(r["consecutive_failures"]) for r in rows],
    ]
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(_PG_STATUS_UPDATE, [_pg_array(c) for c in columns])


def _save_status(conn, statuses: list[DeviceSnapshot]) -> None:
    """The devices' health rows: their keys read in one query (a flush reports hundreds of
    them), then one UPDATE executed for all the known ones and one INSERT for the others; a
    contact is never forgotten (a snapshot without one keeps the stored one)."""
    if not statuses:
        return
    gateways = sorted({st.gateway for st in statuses})
    result = conn.execute(
        select(_STATUS.c.gateway_code, _STATUS.c.unit, _STATUS.c.id).where(
            _STATUS.c.gateway_code.in_(gateways)
        )
    )
    known = {(g, u): i for g, u, i in result}
    rows = [
        {
            "g": st.gateway,
            "u": st.unit,
            "model": st.model,
            "building_id": st.building_id,
            "equipment_id": st.equipment_id,
            "last_contact_at": st.last_contact,
            "last_error": st.last_error,
            "last_error_at": st.last_error_at,
            "consecutive_failures": st.failures,
        }
        for st in statuses
    ]
    old = [r for r in rows if (r["g"], r["u"]) in known]
    new = [r for r in rows if (r["g"], r["u"]) not in known]
    if old and conn.dialect.name == "postgresql":
        _pg_status_update(conn, old, known)
    elif old:
        conn.execute(_STATUS_UPDATE, old)
    if new:
        conn.execute(
            insert(_STATUS),
            [{"gateway_code": r.pop("g"), "unit": r.pop("u"), **r} for r in new],
        )


class PointSources:
    """`point_sources` of the readers, made when first asked: only a held reading needs to
    say where it was read, and describing 10 000 points cost a start-up as much as binding
    them."""

    def __init__(self, readers: list[DeviceReader]):
        self._readers = readers
        self._sources: dict[int, PointSource] | None = None

    def get(self, channel_id: int, default=None) -> PointSource | None:
        if self._sources is None:
            self._sources = point_sources(self._readers)
        return self._sources.get(channel_id, default)


def point_sources(readers: list[DeviceReader]) -> dict[int, PointSource]:
    """channel id -> gateway, channel code and a description of the register it is read from,
    what a held reading says of its origin (« GW-MAIRIE esclave 3, point gas_volume :
    holding 0, uint32 × 0,01 m3 »)."""
    out = {}
    for r in readers:
        b = r.bound
        for i, cid in zip(r.channel_idx, r.channel_ids, strict=True):
            p = r.points[i]
            scale = f" × {p.scale:g}".replace(".", ",") if p.scale != 1 else ""
            unit = f" {p.unit}" if p.unit else ""
            raw = (
                f"{b.gateway} esclave {b.unit}, point {p.key} : {p.table} {p.address},"
                f" {p.type}{scale}{unit}"
            )
            out[int(cid)] = PointSource(b.gateway, b.config.channels.get(p.key, p.key), raw)
    return out
