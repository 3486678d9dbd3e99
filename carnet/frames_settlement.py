"""A contract's settlement inputs, as a `LoadPlan` of the engine names them: the rollups of its
channels, the temperatures of its stations, its adjustments and what was signed; for a pending
regularisation, with what waits for closed periods laid over the record in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from carnet import closing
from carnet.closed_views import ClosedView, closed_months, closed_view
from carnet.frames import (
    Overlay,
    StationTemperatures,
    rollups,
    station_channels,
    station_temperatures,
)
from carnet.increments import daily_rollups, overlay_readings, replace_rollups
from carnet.models import Adjustment, Building, ContractBuilding


def adjustments(engine: Engine, contract_building_ids) -> pd.DataFrame:
    """The adjustments in force (status active) of contract buildings, with the building's
    code, oldest first."""
    cols = ["id", "contract_building_id", "effective_from", "effective_to", "kind"]
    cols += ["nb_factor", "delta_mwh_pci", "justification", "author_login", "created_at"]
    a = Adjustment.__table__.c
    ids = [i for i in contract_building_ids if i is not None]
    with engine.connect() as conn:
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


def settlement_frames(engine: Engine, plan) -> SettlementFrames:
    """Load what `plan` names (`contract.inputs.LoadPlan`: days, channels, stations, contract
    buildings, signed views wanted; with `with_pending`, what waits laid over the record)."""
    code = plan.contract_code
    roll = rollups(engine, plan.channel_ids, plan.first_day, plan.last_day)
    adj = adjustments(engine, plan.contract_building_ids)
    overlay, touched = None, set()
    if plan.with_pending:
        adj, roll, overlay = _with_pending(engine, code, adj, roll)
        touched = set(overlay.days) if overlay is not None else set()
    temps = {}
    for sid in plan.station_ids:  # one or two stations per contract
        over = overlay
        if over is not None and not set(station_channels(engine, sid).values()) & touched:
            over = None  # nothing of this station waits
        temps[sid] = station_temperatures(
            engine, sid, plan.first_day, plan.last_day, plan.need_hourly, over
        )
    out = SettlementFrames(roll, temps, adj)
    if plan.signed_season is not None:
        signed = closed_view(engine, code, plan.signed_season)
        out.signed_previous = None if signed is None else signed.payload
    if plan.closed is not None:
        out.closed = closed_view(engine, code, *plan.closed)
    if plan.closed_months is not None:
        out.closed_months = closed_months(engine, code, *plan.closed_months)
    if plan.regularisation_month is not None:
        with Session(engine) as s:
            contract_id = closing.contract_by_code(s, code).id
        with engine.connect() as conn:
            out.regularisations = closing.regularisations_in(
                conn, contract_id, plan.regularisation_month
            )
    return out


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
