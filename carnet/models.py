"""ORM models: the system of record.

Timestamps of readings are stored as integer UTC epoch seconds (`ts`): dialect-neutral, compact,
and fast to bulk-write and to turn into pandas datetimes. Other instants are timezone-aware UTC
datetimes; calendar dates (`*_on`) are local Europe/Paris dates.
Money is stored in integer cents (`*_cents`) or `Numeric` for contract prices.

The annotations are evaluated as the classes are built (no `from __future__ import annotations`):
as text, SQLAlchemy would `eval` each of them, a third of the import time of this module, which
every command pays. Classes defined further down are named in quotes.
"""

import datetime as dt
import secrets
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from carnet.kinds import Quality


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every dialect (SQLite forgets the offset)."""

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True):
        super().__init__(timezone=timezone)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


LOG_KINDS = (
    "observation",
    "preventive",
    "corrective",
    "inspection",
    "works",
    "alarm",
    "adjustment",
    "meter_change",
    "usage",
)
LOG_STATUSES = ("open", "in_progress", "done", "cancelled")
BOOKING_STATUSES = ("option", "confirmed", "cancelled")


class Station(Base):
    """A weather station whose channels give outdoor temperatures."""

    __tablename__ = "station"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[list["Channel"]] = relationship(back_populates="station")


def new_qr_token() -> str:
    return secrets.token_urlsafe(12)


class Building(Base):
    __tablename__ = "building"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    usage: Mapped[str | None] = mapped_column(String(64))
    heated_area_m2: Mapped[float | None] = mapped_column(Float)
    tertiary_area_m2: Mapped[float | None] = mapped_column(Float)
    # Décret tertiaire: the declared reference year (else the first complete year of data)
    # and the OPERAT activity category (« Enseignement primaire », « Bureaux »...)
    tertiaire_reference_year: Mapped[int | None] = mapped_column(Integer)
    tertiaire_activity: Mapped[str | None] = mapped_column(String(100))
    year_built: Mapped[int | None] = mapped_column(Integer)
    erp_category: Mapped[int | None] = mapped_column(SmallInteger)
    erp_type: Mapped[str | None] = mapped_column(String(8))
    main_energy: Mapped[str | None] = mapped_column(String(32))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    # usual occupancy, e.g. {"mon": ["08:00-18:00"], ...} (local time)
    schedule: Mapped[dict | None] = mapped_column(JSON)
    # the secret of the building's QR code link, drawn when the building is created (a page
    # shown on a GET reads it, never writes it)
    qr_token: Mapped[str | None] = mapped_column(String(64), unique=True, default=new_qr_token)
    notes: Mapped[str | None] = mapped_column(Text)
    station: Mapped["Station | None"] = relationship()
    rooms: Mapped[list["Room"]] = relationship(back_populates="building", order_by="Room.code")
    equipment: Mapped[list["Equipment"]] = relationship(
        back_populates="building", order_by="Equipment.code"
    )
    channels: Mapped[list["Channel"]] = relationship(
        back_populates="building", order_by="Channel.code"
    )


class Room(Base):
    __tablename__ = "room"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bookable: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    heating_zone: Mapped[str | None] = mapped_column(String(64))
    ical_token: Mapped[str | None] = mapped_column(String(64), unique=True)  # room feed secret
    building: Mapped["Building"] = relationship(back_populates="rooms")


class Equipment(Base):
    __tablename__ = "equipment"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # boiler, burner, heat_pump, gas_meter, ...
    name: Mapped[str | None] = mapped_column(String(200))
    make: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    serial: Mapped[str | None] = mapped_column(String(100))
    power_kw: Mapped[float | None] = mapped_column(Float)
    fuel: Mapped[str | None] = mapped_column(String(32))
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    removed_on: Mapped[dt.date | None] = mapped_column(Date)
    # gas meter size class (G4 ... G650): its maximum flow bounds what an index may gain
    meter_size: Mapped[str | None] = mapped_column(String(16))
    building: Mapped["Building"] = relationship(back_populates="equipment")
    parent: Mapped["Equipment | None"] = relationship(remote_side="Equipment.id")


class Channel(Base):
    """One measured quantity (point de mesure) of a building, room, equipment or station."""

    __tablename__ = "channel"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    quantity: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # ChannelKind
    unit: Mapped[str] = mapped_column(String(16))
    kwh_per_unit: Mapped[float | None] = mapped_column(Float)  # default conversion (PCS)
    modulus: Mapped[float | None] = mapped_column(Float)  # counter rollover for index channels
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)  # PCE, PRM
    description: Mapped[str | None] = mapped_column(String(300))
    # plausibility: the most power an increment may imply, and from when readings may exist
    max_kw: Mapped[float | None] = mapped_column(Float)
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    building: Mapped["Building | None"] = relationship(back_populates="channels")
    station: Mapped["Station | None"] = relationship(back_populates="channels")
    equipment: Mapped["Equipment | None"] = relationship()
    room: Mapped["Room | None"] = relationship()


class Quantity(Base):
    """A quantity a town declares (portfolio `quantities:`) beyond the built-in ones
    (`carnet.quantities`): its French label, its unit, the kind of channel measuring it and
    the sane range of its values (`ingest.plausibility`)."""

    __tablename__ = "quantity"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # ChannelKind
    range_min: Mapped[float | None] = mapped_column(Float)
    range_max: Mapped[float | None] = mapped_column(Float)


class ConversionFactor(Base):
    """kWh per unit (e.g. gas PCS coefficient) valid from a local date until the next one."""

    __tablename__ = "conversion_factor"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kwh_per_unit: Mapped[float] = mapped_column(Float)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))


class PriceIndex(Base):
    """A published value of a price index (PEG, ICHT...) for a month, as imported: the price
    revision of the contract's lots reads it (contract.revision)."""

    __tablename__ = "price_index"
    __table_args__ = (UniqueConstraint("name", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # AAAA-MM
    value: Mapped[Decimal] = mapped_column(Numeric(16, 6))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), index=True)


class ImportBatch(Base):
    """One file import or one poll run: everything read is accounted for here."""

    __tablename__ = "import_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500))  # file path or gateway code
    origin: Mapped[str] = mapped_column(String(16))  # csv, modbus, demo, manual
    format: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    user_login: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # running, ok, partial, failed, unreadable, interrupted (its process died), reverted
    status: Mapped[str] = mapped_column(String(16), default="running")
    message: Mapped[str | None] = mapped_column(Text)
    # the process that runs it, whose lock proves it alive (see carnet.batches)
    host: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None] = mapped_column(Integer)
    reverted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reverted_by: Mapped[str | None] = mapped_column(String(64))
    revert_reason: Mapped[str | None] = mapped_column(Text)
    # a poller batch whose readings are not yet in the rollups (carnet.pending_rollups)
    rollups_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rejected: Mapped[list["RejectedRow"]] = relationship(
        back_populates="batch", order_by="RejectedRow.line_no"
    )


Index(
    "ix_import_batch_rollups_pending",
    ImportBatch.rollups_pending,
    postgresql_where=text("rollups_pending"),
    sqlite_where=text("rollups_pending"),
)


class RejectedRow(Base):
    __tablename__ = "rejected_row"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    file: Mapped[str] = mapped_column(String(500))
    line_no: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    batch: Mapped["ImportBatch"] = relationship(back_populates="rejected")


class Reading(Base):
    """The big table. Written in bulk by `carnet.store`, read through rollups."""

    __tablename__ = "reading"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # UTC epoch seconds
    value: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(SmallInteger, default=Quality.MEASURED)
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: lean bulk writes


class ReadingOverwrite(Base):
    """A reading as it was before a batch replaced it: what a revert restores exactly."""

    __tablename__ = "reading_overwrite"
    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    old_value: Mapped[float | None] = mapped_column(Float)
    old_quality: Mapped[int] = mapped_column(SmallInteger)
    old_batch_id: Mapped[int | None] = mapped_column(Integer)


class QuarantinedReading(Base):
    """A reading held apart until a person decides: physically implausible (`reason_code`
    jump, drop, range, before_install, future...) or touching a closed period
    (`closed_period`, a pending regularisation). It changes no figure meanwhile."""

    __tablename__ = "quarantined_reading"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(SmallInteger, default=Quality.MEASURED)
    file: Mapped[str | None] = mapped_column(String(500))
    line_no: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)  # in French, with the figure that made it so
    closed_period_id: Mapped[int | None] = mapped_column(ForeignKey("closed_period.id"))
    status: Mapped[str] = mapped_column(String(16), default="held", index=True)
    # held, accepted, rejected, replaced (a meter replacement declared), applied (reopened)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)


Index("ix_quarantine_channel_ts", QuarantinedReading.channel_id, QuarantinedReading.ts)


class ClosedPeriod(Base):
    """A contract's month (`2025-11`) or season (`2024-2025`) settled and frozen: its figures
    as they stood, the fingerprint of their inputs, who closed it and when. Reopening keeps
    the row (status `reopened`); closing again makes a new one."""

    __tablename__ = "closed_period"
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    period_kind: Mapped[str] = mapped_column(String(8))  # month, season
    period: Mapped[str] = mapped_column(String(16))  # AAAA-MM or AAAA-AAAA
    first_day: Mapped[dt.date] = mapped_column(Date)  # local days covered, inclusive
    last_day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="closed")  # closed, reopened
    figures: Mapped[dict] = mapped_column(JSON)  # settle JSON and finance rows, as shown
    fingerprint: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict | None] = mapped_column(JSON)  # what the fingerprint covers
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by: Mapped[str] = mapped_column(String(64))
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopened_by: Mapped[str | None] = mapped_column(String(64))
    reopen_reason: Mapped[str | None] = mapped_column(Text)


class Regularisation(Base):
    """A difference found after a period was closed, booked in a later open month on its
    own line of the finance export, with its origin."""

    __tablename__ = "regularisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    closed_period_id: Mapped[int] = mapped_column(ForeignKey("closed_period.id"))
    booked_month: Mapped[str] = mapped_column(String(7))  # AAAA-MM, an open month
    delta_mwh_pci: Mapped[float] = mapped_column(Float)
    delta_cents: Mapped[int] = mapped_column(BigInteger)  # intéressement/pénalité difference
    details: Mapped[dict | None] = mapped_column(JSON)
    why: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyRollup(Base):
    """Per channel and local Europe/Paris day: consumption (index/interval) or mean (instant)."""

    __tablename__ = "daily_rollup"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)  # channel unit (sum or mean)
    energy_kwh: Mapped[float | None] = mapped_column(Float)  # value x conversion, if energy
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    n_readings: Mapped[int] = mapped_column(Integer, default=0)
    coverage: Mapped[float | None] = mapped_column(Float)  # share of the day's hours covered
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # what later readings of the day merge into (carnet.store.merge_daily)
    value_sum: Mapped[float | None] = mapped_column(Float)  # sum of values / consumption
    covered_s: Mapped[float | None] = mapped_column(Float)  # seconds of the day covered
    # the data version read when the row was rebuilt from the readings (carnet.pending_rollups)
    rebuilt_version: Mapped[int | None] = mapped_column(BigInteger)


class IndexReset(Base):
    """A meter replacement: the old index closes at `old_final_value`, the new starts at
    `new_start_value`; consumption across `ts` is (old_final - previous) + (next - new_start)."""

    __tablename__ = "index_reset"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    old_final_value: Mapped[float] = mapped_column(Float)
    new_start_value: Mapped[float] = mapped_column(Float)
    logbook_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # one of carnet.roles.ROLES
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # kept in the web session: sign-out, a password reset or a deactivation increments it, and
    # every cookie carrying an older value is dead (`carnet.users.end_sessions`)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # where the notices go (carnet.outbox), and the local hour of the daily digest
    email: Mapped[str | None] = mapped_column(String(254))
    digest_hour: Mapped[int] = mapped_column(SmallInteger, default=7, server_default="7")
    contract: Mapped["Contract | None"] = relationship()


@event.listens_for(User.active, "set", active_history=True)
def _deactivation_ends_sessions(user: User, value, old, _initiator) -> None:
    """However an account is deactivated (portfolio file, `portfolio remove`), its sessions
    end, and stay dead if it is reactivated later."""
    if not value and old is not False:
        user.session_version = (user.session_version or 0) + 1


# the usual heating season, 1 October to 20 May (MM-DD): a new contract's default
SEASON_START, SEASON_END = "10-01", "05-20"


class Contract(Base):
    __tablename__ = "contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    contractor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="MTI")  # MTI, MCI, CPI, CPE
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    season_start: Mapped[str] = mapped_column(String(5), default=SEASON_START)  # MM-DD
    season_end: Mapped[str] = mapped_column(String(5), default=SEASON_END)
    dju_method: Mapped[str] = mapped_column(String(16), default="costic")
    dju_base_c: Mapped[float] = mapped_column(Float, default=18.0)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    price_eur_per_mwh_pci: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    pcs_pci_ratio: Mapped[float] = mapped_column(Float, default=1.11)
    franchise_pct: Mapped[float] = mapped_column(Float, default=0.0)
    savings_share_contractor: Mapped[float] = mapped_column(Float, default=0.5)
    savings_cap_pct: Mapped[float | None] = mapped_column(Float, default=15.0)
    overrun_share_contractor: Mapped[float] = mapped_column(Float, default=1.0)
    guaranteed_savings_pct: Mapped[float | None] = mapped_column(Float)  # CPE only
    nb_revision_pct_one_season: Mapped[float] = mapped_column(Float, default=12.0)
    nb_revision_pct_two_seasons: Mapped[float] = mapped_column(Float, default=8.0)
    ical_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    terms: Mapped[dict | None] = mapped_column(JSON)  # any further term, kept verbatim
    station: Mapped["Station | None"] = relationship()
    buildings: Mapped[list["ContractBuilding"]] = relationship(back_populates="contract")


class ContractBuilding(Base):
    """The per-building reference of a contract: NB for DJU_ref, measured on `channel`."""

    __tablename__ = "contract_building"
    __table_args__ = (UniqueConstraint("contract_id", "building_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id"))
    nb_mwh_pci: Mapped[float] = mapped_column(Float)
    dju_ref: Mapped[float] = mapped_column(Float)
    ecs_channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id"))
    q_ecs_mwh_per_m3: Mapped[float | None] = mapped_column(Float)
    reference_year: Mapped[int | None] = mapped_column(Integer)  # Décret tertiaire
    reference_kwh: Mapped[float | None] = mapped_column(Float)
    contract: Mapped["Contract"] = relationship(back_populates="buildings")
    building: Mapped["Building"] = relationship()
    channel: Mapped["Channel | None"] = relationship(foreign_keys=[channel_id])


class Adjustment(Base):
    """A non-routine adjustment of a building's reference, with its justification."""

    __tablename__ = "adjustment"
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_building_id: Mapped[int] = mapped_column(
        ForeignKey("contract_building.id"), index=True
    )
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))  # area_added, closed, usage_change, other
    nb_factor: Mapped[float | None] = mapped_column(Float)  # multiplies NB over the period
    delta_mwh_pci: Mapped[float | None] = mapped_column(Float)  # added to the target
    justification: Mapped[str] = mapped_column(Text)
    author_login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    logbook_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    # active; pending while it would change a closed period (a pending regularisation)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")


class LogbookEntry(Base):
    """The carnet de santé. Never hard-deleted: cancel instead; edits go to the audit trail."""

    __tablename__ = "logbook_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligation.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    author_login: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    cost_cents: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="user")  # user, poller, engine, qr
    alarm_key: Mapped[str | None] = mapped_column(String(100))  # e.g. device fault episode
    answer: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    building: Mapped["Building"] = relationship()
    equipment: Mapped["Equipment | None"] = relationship()
    room: Mapped["Room | None"] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="entry")


class Attachment(Base):
    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("logbook_entry.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))  # relative to CARNET_HOME
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    entry: Mapped["LogbookEntry"] = relationship(back_populates="attachments")


class Obligation(Base):
    """A recurring duty; `next_due_on` = `last_done_on` + periodicity (month-end aware)."""

    __tablename__ = "obligation"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    template: Mapped[str | None] = mapped_column(String(64))  # key of the template applied
    label: Mapped[str] = mapped_column(String(300))
    periodicity_months: Mapped[int | None] = mapped_column(Integer)
    periodicity_days: Mapped[int | None] = mapped_column(Integer)  # e.g. lifts: 42 days
    last_done_on: Mapped[dt.date | None] = mapped_column(Date)
    next_due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str | None] = mapped_column(Text)
    building: Mapped["Building"] = relationship()
    equipment: Mapped["Equipment | None"] = relationship()


class Booking(Base):
    __tablename__ = "booking"
    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    organiser: Mapped[str | None] = mapped_column(String(200))
    attendance: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    setpoint_c: Mapped[float | None] = mapped_column(Float)
    preheat_min: Mapped[int | None] = mapped_column(Integer)
    heating_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    room: Mapped["Room"] = relationship()


class ScheduleView(Base):
    """When a user last looked at the heating schedule: what changed since is highlighted."""

    __tablename__ = "schedule_view"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LastSeen(Base):
    """When a user last looked at a place of the app (`place`, e.g. the contractor's landing
    page): what changed since is highlighted there. Apart from `schedule_view`, so that looking
    at one place does not hide the changes from the other."""

    __tablename__ = "last_seen"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    place: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who changed what, when, with the before and after images."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # create, update, delete, load, login...
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class DeviceStatus(Base):
    """Last contact of each Modbus device, for the pages that show the poller's health."""

    __tablename__ = "device_status"
    __table_args__ = (UniqueConstraint("gateway_code", "unit"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_code: Mapped[str] = mapped_column(String(64))
    unit: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(64))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


Index("ix_logbook_building_time", LogbookEntry.building_id, LogbookEntry.occurred_at)


class LoggerMap(Base):
    """How a boiler-room data-logger export maps its columns to channels (portfolio `loggers:`)."""

    __tablename__ = "logger_map"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    timestamp_column: Mapped[str] = mapped_column(String(100))
    timestamp_format: Mapped[str | None] = mapped_column(String(64))  # strptime; None = sniff
    timezone: Mapped[str] = mapped_column(String(16), default="local")  # local or utc
    columns: Mapped[dict] = mapped_column(JSON)  # {"column header": "CHANNEL-CODE"}


class ImportProfile(Base):
    """A saved way of reading a town's own files (portfolio `import_profiles:`): which column
    plays which role, the date format, the clock, the decimal mark, and the channel of a file
    that has no channel column. Chosen with `carnet import --profile` or by its header."""

    __tablename__ = "import_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    columns: Mapped[dict] = mapped_column(JSON)  # {"timestamp": "Quand", "value": "Mesure"}
    date_format: Mapped[str | None] = mapped_column(String(64))  # strptime; None = sniff
    timezone: Mapped[str] = mapped_column(String(16), default="local")  # local or utc
    decimal: Mapped[str | None] = mapped_column(String(1))  # "," or "."; None = detected
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id"))


ALARM_STATUSES = ("open", "acknowledged", "answered", "closed")
WORK_ORDER_STATUSES = ("open", "in_progress", "done", "cancelled")
WORK_ORDER_PRIORITIES = ("low", "normal", "high", "urgent")
WORK_ORDER_ORIGINS = ("alarm", "observation", "obligation", "manual")


class Alarm(Base):
    """One fault episode of a device (or an alarm raised by hand) and what was done about it:
    open, acknowledged by the contractor, answered by an intervention, closed when the device
    reports normal again or by a person. `entry_id` is the episode's `alarm` logbook entry,
    `intervention_entry_id` the intervention that answered it: the logbook tells the same story."""

    __tablename__ = "alarm"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    alarm_key: Mapped[str | None] = mapped_column(String(100), index=True)  # device episode
    code: Mapped[int | None] = mapped_column(Integer)  # the device's fault code
    label: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the device reported normal again: the episode is over, whatever the status
    device_cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    intervention_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_note: Mapped[str | None] = mapped_column(Text)
    building: Mapped[Building] = relationship()
    equipment: Mapped[Equipment | None] = relationship()


class WorkOrder(Base):
    """A job to do on a building of a contract, from an alarm, a signalement (observation), an
    obligation or by hand. Closing it writes the intervention (`intervention_entry_id`) in the
    logbook with its report."""

    __tablename__ = "work_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    origin: Mapped[str] = mapped_column(String(16), default="manual")  # WORK_ORDER_ORIGINS
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarm.id"), index=True)
    source_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligation.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    intervention_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    building: Mapped[Building] = relationship()
    equipment: Mapped[Equipment | None] = relationship()


class DataVersion(Base):
    """One row: the version of the data the figures are computed from. `carnet.versions`
    bumps it in every transaction that writes readings, rollups, batches, contracts, closed
    periods, adjustments or quarantine decisions, so that a cache keyed on it never serves a
    figure older than the data; `epoch` is drawn when the schema is created, so that a database
    rebuilt at the same URL never matches an older cache entry."""

    __tablename__ = "data_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class NotificationPref(Base):
    """How a user receives one kind of notice (`carnet.notifications.KINDS`): at once,
    in the daily digest, or not at all; no row = the kind's default."""

    __tablename__ = "notification_pref"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # immediate, digest, off


class Notice(Base):
    """The outbox: one notice to one user, created once (`dedup_key`) and sent once.

    state: pending (not tried yet), sending (claimed by a run), sent, failed (the last attempt
    failed; tried again at `next_attempt_at`). Nothing is ever dropped."""

    __tablename__ = "notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))  # immediate, digest
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # not sent before
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


Index("ix_notice_state_next", Notice.state, Notice.next_attempt_at)
REX_STATUSES = ("open", "closed")
DECISION_STATUSES = ("open", "done")


class Rex(Base):
    """A retour d'expérience: the town comes back together on an incident to learn from the
    real work, not to blame; it links the incident's entries and bookings, each side's account,
    what was learned and the decisions taken."""

    __tablename__ = "rex"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    occurred_on: Mapped[dt.date] = mapped_column(Date, index=True)  # local date of the incident
    summary: Mapped[str] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)  # what was learned
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    author_login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    building: Mapped[Building] = relationship()


class RexLink(Base):
    """One entry of the incident: a logbook entry (alarm, signalement, intervention) or a
    booking (the one that went cold)."""

    __tablename__ = "rex_link"
    __table_args__ = (
        UniqueConstraint("rex_id", "logbook_entry_id"),
        UniqueConstraint("rex_id", "booking_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rex_id: Mapped[int] = mapped_column(ForeignKey("rex.id"), index=True)
    logbook_entry_id: Mapped[int | None] = mapped_column(ForeignKey("logbook_entry.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))


class RexAccount(Base):
    """What happened as one contributor saw it: one account per contributor, rewritten by its
    author only."""

    __tablename__ = "rex_account"
    __table_args__ = (UniqueConstraint("rex_id", "author_login"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rex_id: Mapped[int] = mapped_column(ForeignKey("rex.id"), index=True)
    author_login: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # the author's role when writing
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RexDecision(Base):
    """A decision of a retour d'expérience, with who carries it and by when; it may become an
    obligation (a recurring duty) or a work order."""

    __tablename__ = "rex_decision"
    id: Mapped[int] = mapped_column(primary_key=True)
    rex_id: Mapped[int] = mapped_column(ForeignKey("rex.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))  # who carries it (a login or a service)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligation.id"))
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    author_login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorksProject(Base):
    """A piece of the town's works programme on one building: done or planned, its dates, its
    cost and what it is expected to save (with the source of that figure). The measured saving
    is computed, never stored (`carnet.works`)."""

    __tablename__ = "works_project"
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    starts_on: Mapped[dt.date] = mapped_column(Date, index=True)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    cost_cents: Mapped[int] = mapped_column(Integer)
    expected_mwh_per_year: Mapped[float | None] = mapped_column(Float)  # MWh PCI per year
    expected_pct: Mapped[float | None] = mapped_column(Float)  # or % of the consumption
    expected_source: Mapped[str | None] = mapped_column(String(200))  # audit, study...
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustment.id"))
    author_login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    building: Mapped["Building"] = relationship()
    subsidies: Mapped[list["WorksSubsidy"]] = relationship(
        back_populates="works", order_by="WorksSubsidy.id"
    )


class WorksSubsidy(Base):
    """A subsidy of a works project and its scheme (CEE, DSIL, Fonds vert...)."""

    __tablename__ = "works_subsidy"
    id: Mapped[int] = mapped_column(primary_key=True)
    works_id: Mapped[int] = mapped_column(ForeignKey("works_project.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(32))
    amount_cents: Mapped[int] = mapped_column(Integer)
    works: Mapped["WorksProject"] = relationship(back_populates="subsidies")


class BuildingDisplay(Base):
    """The users' screen of a building (`/affichage/<token>`): its secret token (None =
    revoked) and the "what you can do here" list the manager writes, one action a line."""

    __tablename__ = "building_display"
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    tips: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PasswordReset(Base):
    """A one-time link to set a password (`carnet.admin_passwords`): only the SHA-256 of its
    token is kept, it expires, and it is spent by its first use."""

    __tablename__ = "password_reset"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ModbusGateway(Base):
    """A Modbus gateway of the site (`gateways:` of the portfolio or site file): how the poller
    reaches it. Its slaves are `ModbusDevice` rows."""

    __tablename__ = "modbus_gateway"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str | None] = mapped_column(String(8))  # tcp or serial (None: from the port)
    host: Mapped[str | None] = mapped_column(String(200))
    port: Mapped[str | None] = mapped_column(String(200))  # TCP port or serial device
    framer: Mapped[str | None] = mapped_column(String(8))
    timeout_s: Mapped[float | None] = mapped_column(Float)
    retries: Mapped[int | None] = mapped_column(Integer)
    baudrate: Mapped[int | None] = mapped_column(Integer)
    parity: Mapped[str | None] = mapped_column(String(1))
    stopbits: Mapped[int | None] = mapped_column(SmallInteger)
    bytesize: Mapped[int | None] = mapped_column(SmallInteger)
    description: Mapped[str | None] = mapped_column(Text)
    devices: Mapped[list["ModbusDevice"]] = relationship(
        back_populates="gateway", order_by="ModbusDevice.unit"
    )


class ModbusDevice(Base):
    """One slave of a gateway: its register map and which channel each of its points feeds."""

    __tablename__ = "modbus_device"
    __table_args__ = (UniqueConstraint("gateway_id", "unit"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("modbus_gateway.id"), index=True)
    unit: Mapped[int] = mapped_column(Integer)
    map: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    poll_s: Mapped[float | None] = mapped_column(Float)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    channels: Mapped[dict | None] = mapped_column(JSON)  # point key -> channel code
    gateway: Mapped["ModbusGateway"] = relationship(back_populates="devices")
