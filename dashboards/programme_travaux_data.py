"""Data of the works programme page (`/programme-travaux`) and of `carnet works list`: the
record's works (`carnet.works`), each measured by the engine (`contract.works_savings`) on the
days the record holds (`carnet.frames.baseline_frames`), and the programme ranked by euros per
MWh saved."""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd
from sqlalchemy import Engine

from carnet.access import ActorLike
from carnet.buildings import visible_buildings
from carnet.db import session_scope
from carnet.frames import (
    baseline_frames,
    contract_terms,
    rollup_span,
    rollups,
    station_temperatures,
)
from carnet.obligations import local_today
from carnet.timeutil import parse_local_date
from carnet.works import SCHEMES, add_works, works_rows
from contract.reports import tertiaire_building, tertiaire_frame
from contract.terms import ContractTerms
from contract.works_savings import WorksPlan, measure_programme, programme_frame, tertiaire_steps

STATUS_LABELS_FR = {
    "measured": "Mesuré",
    "planned": "Prévu",
    "waiting": "En attente de relevés",
    "overlap": "Chevauchement",
    "no_channel": "Non mesurable",
    "no_data": "Relevés insuffisants",
}


def measured_rows(engine: Engine, rows: list[dict], today: dt.date | None = None) -> list[dict]:
    """Each record row (`carnet.works.works_rows`) with its `measure` (a `WorksMeasure`)."""
    plans = [WorksPlan(**r["plan"]) for r in rows]
    ends = {}
    for r in rows:
        span = rollup_span(engine, [r["channel_id"]]) if r["channel_id"] else None
        ends[r["plan"]["channel_code"]] = span[1] if span else None
    measures = measure_programme(
        plans, functools.partial(baseline_frames, engine), ends, today or local_today()
    )
    return [r | {"measure": measures[r["id"]]} for r in rows]


def programme_page(engine: Engine, user: ActorLike) -> dict:
    """{"works": [row with its measure], "ranking": frame, "totals": {...}, "buildings":
    [(code, name)], "schemes": {code: label}}."""
    with session_scope(engine) as s:
        rows = works_rows(s, user)
        buildings = [(b.code, b.name) for b in visible_buildings(s, user)]
    rows = measured_rows(engine, rows)
    plans = [WorksPlan(**r["plan"]) for r in rows]
    ranking = programme_frame(plans, {r["id"]: r["measure"] for r in rows})
    measured = [r["measure"].measured_mwh_per_year for r in rows]
    totals = {
        "count": len(rows),
        "cost_eur": sum(r["cost_eur"] for r in rows),
        "subsidy_eur": sum(r["subsidy_eur"] for r in rows),
        "expected_mwh": sum(r["plan"]["expected_mwh_per_year"] or 0.0 for r in rows),
        "measured_mwh": sum(m for m in measured if m is not None),
        "savings_eur": sum(r["measure"].savings_eur or 0.0 for r in rows),
    }
    return {
        "works": rows,
        "trajectories": trajectories(engine, rows),
        "ranking": ranking,
        "totals": totals,
        "buildings": buildings,
        "schemes": SCHEMES,
    }


def trajectories(engine: Engine, rows: list[dict]) -> dict:
    """Building code -> its Décret tertiaire trajectory with its works as steps (each saves
    what was measured, else what was expected), for the buildings with a reference year."""
    by_building: dict[str, list[dict]] = {}
    for r in rows:
        if r["contract"] is not None:
            by_building.setdefault(r["building"], []).append(r)
    terms_of: dict[str, ContractTerms] = {}
    out = {}
    for code, works in by_building.items():
        contract = works[0]["contract"]
        if contract not in terms_of:
            terms_of[contract] = ContractTerms.from_record(contract_terms(engine, contract))
        terms = terms_of[contract]
        try:
            bt, first, last = tertiaire_building(terms, code)
        except LookupError:
            continue  # no reference year: no trajectory
        roll = rollups(engine, [bt.channel_id], first, last) if first <= last else None
        if roll is not None and roll.empty:  # no day yet: still a date column
            roll = roll.assign(day=pd.to_datetime(roll["day"]))
        temps = None
        if bt.station_id is not None and first <= last:
            temps = station_temperatures(engine, bt.station_id, first, last)
        frame = tertiaire_frame(terms, code, roll, temps)
        steps = []
        for r in works:
            m = r["measure"]
            mwh = m.measured_mwh_per_year if m.status == "measured" else None
            mwh = mwh if mwh is not None else r["plan"]["expected_mwh_per_year"]
            if mwh:
                kwh = mwh * 1000.0 * r["plan"]["pcs_pci_ratio"]
                steps.append((r["starts_on"].year, kwh))
        out[code] = {"frame": tertiaire_steps(frame, steps), "works": works}
    return out


def _day(value: str | None) -> dt.date | None:
    return parse_local_date(value.strip()) if value else None


def _float(value) -> float | None:
    if value in (None, ""):
        return None
    return float(str(value).replace(",", ".").replace(" ", ""))


def add_one(engine: Engine, user: ActorLike, building: str, title: str, starts_on: str,
            cost_eur, ends_on: str | None, expected_mwh, source: str | None,
            subsidy_eur, scheme: str | None) -> int:  # fmt: skip
    subsidies = [(scheme or "AUTRE", subsidy_eur)] if subsidy_eur not in (None, "") else []
    with session_scope(engine) as s:
        works = add_works(
            s, user, building, title, _day(starts_on), cost_eur, ends_on=_day(ends_on),
            expected_mwh=_float(expected_mwh), expected_source=source, subsidies=subsidies,
        )  # fmt: skip
        return works.id
