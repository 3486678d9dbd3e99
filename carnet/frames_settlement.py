"""A contract's settlement inputs, as a `LoadPlan` of the engine names them: the rollups of its
channels, the temperatures of its stations, its adjustments and what was signed; for a pending
regularisation, with what waits for closed periods laid over the record in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from carnet import closing
from carnet.closed_views import ClosedView, closed_view, months_view
from carnet.frames import (
    ROLLUP_COLUMNS,
    Overlay,
    StationTemperatures,
    connection,
    rollups,
    station_channels,
    station_temperatures,
)
from carnet.increments import daily_rollups, overlay_readings, replace_rollups
from carnet.models import Adjustment, Building, ContractBuilding


def adjustments(engine: Engine | Connection, contract_building_ids) -> pd.DataFrame:
    """The adjustments in force (status active) of contract buildings, with the building's
    code, oldest first."""
    cols = ["id", "contract_building_id", "effective_from", "effective_to", "kind"]
    cols += ["nb_factor", "delta_mwh_pci", "justification", "author_login", "created_at"]
    a = Adjustment.__table__.c
    ids = [i for i in contract_building_ids if i is not None]
    with connection(engine) as conn:
        rows = conn.execute(
            select(Building.code, *(a[c] for c in cols))
            .join(ContractBuilding, ContractBuilding.id == a.contract_building_id)
            .join(Building, Building.id == ContractBuilding.building_id)
            .where(a.contract_building_id.in_(ids), a.status == "active")
            .order_by(a.effective_from, a.id)
        ).all()
    return pd.DataFrame(rows, columns=["building_code", *cols])


@dataclass
class SettlementFrames:
    """What a `LoadPlan` (`contract.inputs`) asks for: rollups of the contract's channels,
    temperatures of its stations, adjustments, and what was signed."""

    rollups: pd.DataFrame
    temperatures: dict[int, StationTemperatures]
    adjustments: pd.DataFrame
    signed_previous: dict | None = None  # settle payload of the signed `plan.signed_season`
    closed: ClosedView | None = None  # the signed view `plan.closed` asks for, if closed
    closed_months: dict[str, ClosedView] = field(default_factory=dict)
    regularisations: pd.DataFrame | None = None  # booked in `plan.regularisation_month`


# what `contract.settlement.settle` reads of a rollup (the driver's cost is per value read)
SETTLEMENT_COLUMNS = ("value", "energy_kwh", "estimated")


def settlement_frames(engine: Engine, plan) -> SettlementFrames:
    """Load what `plan` names (`contract.inputs.LoadPlan`: days, channels, stations, contract
    buildings, signed views wanted; with `with_pending`, what waits laid over the record)."""
    code = plan.contract_code
    # what waits is laid over whole rollups (`replace_rollups` keeps their shape)
    columns = ROLLUP_COLUMNS if plan.with_pending else SETTLEMENT_COLUMNS
    with engine.connect() as conn:  # one checkout for the record's reads
        roll = rollups(
            conn, plan.channel_ids, plan.first_day, plan.last_day, columns, plan.energy_runs
        )
        adj = adjustments(conn, plan.contract_building_ids)
        overlay, touched = None, set()
        if plan.with_pending:
            adj, roll, overlay = _with_pending(engine, code, adj, roll)
            touched = set(overlay.days) if overlay is not None else set()
        temps = {}
        for sid in plan.station_ids:  # one or two stations per contract
            over = overlay
            if over is not None and not set(station_channels(conn, sid).values()) & touched:
                over = None  # nothing of this station waits
            temps[sid] = station_temperatures(
                conn, sid, plan.first_day, plan.last_day, plan.need_hourly, over
            )
    out = SettlementFrames(roll, temps, adj)
    _signed_views(engine, plan, out)
    if plan.regularisation_month is not None:
        with Session(engine) as s:
            contract_id = closing.contract_by_code(s, code).id
        with engine.connect() as conn:
            out.regularisations = closing.regularisations_in(
                conn, contract_id, plan.regularisation_month
            )
    return out


def _signed_views(engine: Engine, plan, out: SettlementFrames) -> None:
    """What was signed that `plan` asks for, in one session: for a season, from one read of
    the contract's closed periods (the same answers as `closed_view` and `closed_months`,
    which would each look the contract up and read them again)."""
    code = plan.contract_code
    if plan.closed_months is None:  # a month: a few targeted reads
        if plan.signed_season is not None:
            signed = closed_view(engine, code, plan.signed_season)
            out.signed_previous = None if signed is None else signed.payload
        if plan.closed is not None:
            out.closed = closed_view(engine, code, *plan.closed)
        return
    season, months = plan.closed_months
    with Session(engine) as s:
        contract = closing.contract_by_code(s, code)
        rows = closing.closed_rows(s, contract.id)  # oldest first

        def last_closed(kind: str, period: str):  # `closing.find_closed`: the newest
            found = [r for r in rows if r.period_kind == kind and r.period == period]
            return found[-1] if found else None

        if plan.signed_season is not None:
            signed = last_closed("season", plan.signed_season)
            out.signed_previous = None if signed is None else signed.figures["settle"]
        if plan.closed is not None:
            c_season, c_month, as_of = plan.closed
            if c_month is not None:  # not asked with closed months: read it as ever
                out.closed = closed_view(engine, code, *plan.closed)
            else:
                row = last_closed("season", c_season)
                if row is not None and (as_of is None or as_of >= row.last_day):
                    ref = closing.ref_of(row, contract.code)
                    out.closed = ClosedView(ref, row.figures["settle"])
        out.closed_months = months_view(rows, contract.code, season, months)


def _with_pending(engine: Engine, contract_code: str, adj: pd.DataFrame, roll: pd.DataFrame):
    """Adjustments and rollups with every waiting adjustment and reading of the contract
    applied, in memory (the record is not touched), and the overlay for the weather."""
    with Session(engine) as s:
        contract_id = closing.contract_by_code(s, contract_code).id
    with engine.connect() as conn:
        pairs = closing.contract_channels(conn, [contract_id])
        held = closing.latest_per_key(closing.held_rows(conn, channel_ids=pairs["channel_id"]))
        pending_adj = closing.pending_adjustments(conn, contract_id)
        if len(held):
            stored, meta, resets, factors, days = closing.overlay_inputs(conn, held)
    if len(pending_adj):
        adj = pd.concat(
            [adj, pending_adj[list(adj.columns)]], ignore_index=True
        ) if len(adj) else pending_adj[list(adj.columns)]  # fmt: skip
    if not len(held):
        return adj, roll, None
    fresh = daily_rollups(overlay_readings(stored, held), meta, resets, factors)
    return adj, replace_rollups(roll, fresh, days), Overlay(fresh, days, held)
