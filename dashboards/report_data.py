"""What the working group's monthly report holds, gathered in one place for the PDF of
`carnet report monthly` and of the savings page's download.

One source: the month is settled by the very composition behind `carnet settle --month` (the
signed figures when the month is closed), the season to date is the savings page's
`savings_portfolio`, the worst buildings' CUSUM its `building_detail`, the usage performance
`carnet comfort`'s records, the carnet's entries the logbook's `timeline`, the obligations
`obligations_frame` and the retours d'expérience `carnet.rex`. Everything is read as `actor`,
within its scope: the contract must be one it sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet.access import ActorLike, scope_of
from carnet.contract_lookup import contract_by_code
from carnet.frames_comfort import comfort_frames, contract_building_ids
from carnet.frames_settlement import settlement_frames
from carnet.logbook import INTERVENTION_KINDS
from carnet.logbook_timeline import timeline
from carnet.obligations import local_today, obligations_frame
from carnet.rex import decisions_frame, rex_frame
from carnet.timeutil import TZ_NAME
from contract import settle_frames, settlement_plan
from contract.calendar import month_bounds
from contract.comfort import DEFAULT_MAX_GAP_S
from contract.comfort_report import comfort_records, comfort_report
from contract.regularisation import report_from_payload, settlement_payload
from contract.terms import season_of_month
from dashboards.savings_data import (
    allowed_contract,
    building_adjustments,
    building_detail,
    contract_terms,
    last_complete_day,
    savings_portfolio,
)

WORST_BUILDINGS = 2  # CUSUM charts of the buildings furthest above their target
DUE_WITHIN_DAYS = 30  # obligations "à échéance": due in the next 30 days


@dataclass
class MonthlyReport:
    contract_code: str
    contractor: str
    month: str
    season: str
    period_from: dt.date  # the month's settled days
    period_to: dt.date
    season_to: dt.date  # the season to date ends here
    month_payload: dict  # `carnet settle --month --json`'s figures
    month_closed: str | None  # « arrêté le … » when the month is signed
    season_payload: dict  # the savings page's season to date (`carnet settle --as-of`)
    season_closed: str | None
    season_months: pd.DataFrame  # month, actual_mwh_pci, target_mwh_pci (contract total)
    cusum: dict[str, pd.DataFrame]  # worst buildings: day, cusum (kWh PCS)
    cusum_notes: dict[str, str]  # a worst building without a model: why
    comfort: list[dict]  # `carnet comfort`'s records of the contract's buildings
    alarms: pd.DataFrame
    interventions: pd.DataFrame
    works: pd.DataFrame
    signalements_month: pd.DataFrame  # reported in the month (answered or not)
    signalements_waiting: pd.DataFrame  # still waiting for an answer, whatever their date
    obligations_overdue: pd.DataFrame
    obligations_due: pd.DataFrame
    adjustments: list[dict]
    rex: pd.DataFrame  # open retours d'expérience (or with a decision to do)
    decisions: pd.DataFrame  # their decisions still to do
    gaps: list[dict] = field(default_factory=list)  # building, days_missing, spans (dd/mm)

    @property
    def signalements_answered(self) -> pd.DataFrame:
        frame = self.signalements_month
        return frame[_answered(frame)]


def _answered(frame: pd.DataFrame) -> pd.Series:
    return frame["answer"].notna() | frame["status"].isin(("in_progress", "done", "cancelled"))


def month_settlement(engine: Engine, contract_code: str, month: str, as_of: dt.date | None):
    """(payload, report, closed marker, live): `carnet settle --month M --json`'s figures, the
    signed ones when the month is closed (then the report is rebuilt from them, not live)."""
    terms = contract_terms(engine, contract_code)
    season = season_of_month(month, terms.season_start)
    data = settlement_frames(engine, settlement_plan(terms, season, month, as_of))
    if data.closed is not None:
        payload = dict(data.closed.payload)
        return payload, report_from_payload(payload), data.closed.marker, False
    report = settle_frames(terms, season, data, month, as_of)
    return settlement_payload(report), report, None, True


def month_comfort_records(engine: Engine, contract_code: str, month: str, scope) -> list[dict]:
    """`carnet settle --month`'s usage performance: the contract's buildings (in the scope)."""
    first, last = month_bounds(month)
    ids = contract_building_ids(engine, contract_code)
    if scope.building_filter is not None:
        ids &= set(scope.building_filter)
    frames = comfort_frames(engine, first, last, ids, DEFAULT_MAX_GAP_S)
    return comfort_records(comfort_report(frames))


def _gaps(report, payload: dict, live: bool) -> list[dict]:
    """Per building with missing days: how many and, from the live ledger, which ones."""
    out = []
    ledger = report.ledger if live and report is not None else pd.DataFrame()
    for rec in payload["buildings"]:
        missing = int(rec.get("days_missing") or 0)
        if not missing:
            continue
        spans: list[str] = []
        if len(ledger):
            days = pd.to_datetime(
                ledger.loc[
                    (ledger["building_code"] == rec["building_code"]) & ledger["missing"], "day"
                ]
            ).sort_values()
            run = (days.diff() != pd.Timedelta(days=1)).cumsum()
            for _, group in days.groupby(run):
                a, b = group.iloc[0], group.iloc[-1]
                spans.append(f"{a:%d/%m/%Y}" if a == b else f"du {a:%d/%m/%Y} au {b:%d/%m/%Y}")
        out.append({"building_code": rec["building_code"], "days_missing": missing,
                    "spans": spans})  # fmt: skip
    return out


def _season_months(months: pd.DataFrame) -> pd.DataFrame:
    """The contract's months (sum of its buildings): real and corrected target, MWh PCI."""
    if months is None or months.empty:
        return pd.DataFrame(columns=["month", "actual_mwh_pci", "target_mwh_pci"])
    return (
        months.groupby("month", as_index=False)[["actual_mwh_pci", "target_mwh_pci"]]
        .sum(min_count=1)
        .sort_values("month")
        .reset_index(drop=True)
    )


def monthly_report(
    engine: Engine, actor: ActorLike, contract_code: str, month: str, as_of: dt.date | None = None
) -> MonthlyReport:
    """Gather the month's report of `contract_code` as `actor` sees it (LookupError for an
    unknown contract, CarnetPermissionError for another contractor's)."""
    scope = scope_of(engine, actor)
    allowed_contract(engine, scope, contract_code)
    first, last = month_bounds(month)
    payload, report, month_marker, live = month_settlement(engine, contract_code, month, as_of)
    if live and payload is not None:
        payload["comfort"] = month_comfort_records(engine, contract_code, month, scope)
    season = payload["season"]
    season_to = min(last, as_of or last_complete_day())
    portfolio = savings_portfolio(engine, contract_code, season, season_to, with_models=False)
    season_payload = settlement_payload(portfolio.report)

    # the gap is target - actual: the worst buildings are the furthest below zero
    worst = [
        r["building_code"]
        for r in sorted(season_payload["buildings"], key=lambda r: r.get("gap_pct") or 0.0)
        if (r.get("gap_pct") or 0.0) < 0
    ][:WORST_BUILDINGS]
    cusum, notes = {}, {}
    for code in worst:
        detail = building_detail(engine, contract_code, season, code, season_to)
        if detail.cusum is not None and not detail.cusum.empty:
            cusum[code] = detail.cusum[["day", "cusum"]].reset_index(drop=True)
        else:
            notes[code] = detail.model_note or "pas de modèle de référence"

    codes = {r["building_code"] for r in season_payload["buildings"]}
    with Session(engine) as s:
        contractor = contract_by_code(s, contract_code).contractor
        entries = timeline(s, actor, date_from=first, date_to=last, include_cancelled=False)
        entries = entries[entries["building_code"].isin(codes)]
        observations = timeline(s, actor, kind="observation", include_cancelled=False)
        observations = observations[observations["building_code"].isin(codes)]
        ref_day = min(last, local_today())
        obligations = obligations_frame(s, actor, today=ref_day)
        obligations = obligations[obligations["building_code"].isin(codes)]
        rex = rex_frame(s, actor, open_only=True)
        rex = rex[rex["building_code"].isin(codes)].reset_index(drop=True)
        decisions = decisions_frame(s, actor, rex["id"].tolist(), open_only=True, today=ref_day)
    day = pd.to_datetime(observations["occurred_at"], utc=True).dt.tz_convert(TZ_NAME)
    day = day.dt.tz_localize(None).dt.normalize()
    in_month = observations[(day >= pd.Timestamp(first)) & (day <= pd.Timestamp(last))]
    waiting = observations[~_answered(observations) & observations["merged_into_id"].isna()]
    due = pd.to_datetime(obligations["next_due_on"])
    horizon = pd.Timestamp(ref_day + dt.timedelta(days=DUE_WITHIN_DAYS))
    adjustments = [
        a | {"building_code": code}
        for code in sorted(codes)
        for a in building_adjustments(engine, contract_code, code)
        if a["effective_from"] <= last and (a["effective_to"] is None or a["effective_to"] >= first)
    ]
    return MonthlyReport(
        contract_code=contract_code,
        contractor=contractor,
        month=month,
        season=season,
        period_from=dt.date.fromisoformat(payload["period"]["from"]),
        period_to=dt.date.fromisoformat(payload["period"]["to"]),
        season_to=portfolio.report.period_to,
        month_payload=payload,
        month_closed=month_marker,
        season_payload=season_payload,
        season_closed=portfolio.closed_marker,
        season_months=_season_months(portfolio.report.months),
        cusum=cusum,
        cusum_notes=notes,
        comfort=payload.get("comfort") or [],
        alarms=_sorted(entries[entries["kind"] == "alarm"]),
        interventions=_sorted(entries[entries["kind"].isin(INTERVENTION_KINDS - {"works"})]),
        works=_sorted(entries[entries["kind"] == "works"]),
        signalements_month=_sorted(in_month),
        signalements_waiting=_sorted(waiting),
        obligations_overdue=obligations[obligations["overdue"]].reset_index(drop=True),
        obligations_due=obligations[~obligations["overdue"] & (due <= horizon)].reset_index(
            drop=True
        ),
        adjustments=adjustments,
        rex=rex,
        decisions=decisions,
        gaps=_gaps(report, payload, live),
    )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["occurred_at", "id"]).reset_index(drop=True)
