"""What the savings page shows, as frames and small dataclasses: the settlement of a contract's
season (the very `contract.settle_frames` behind `carnet settle`, so the page and the CLI
cannot disagree), each building's regression baseline and its quality, and one building's
detail (months, energy signature, CUSUM, carpet, adjustments).

The baseline is fitted on the 12 months before the contract started (the reference the
contract's NB was set on), or before the season when the season predates the contract; the
reporting period is the settled part of the season. Results are computed once per change of
the data (`dashboards.cache`) and shared by every request: they must not be mutated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from carnet import frames
from carnet.access import CarnetPermissionError, Scope
from carnet.adjustments import KIND_LABELS_FR, add_adjustment
from carnet.closing import ClosedRef
from carnet.contract_lookup import (
    building_id_by_code,
    contract_by_code,
    contract_codes_of_building,
    contract_covers,
    contracts_in,
)
from carnet.db import session_scope
from carnet.frames_settlement import settlement_frames
from carnet.models import Adjustment, Building, Channel, Contract, ContractBuilding, Station
from carnet.periods import close_period
from carnet.timeutil import TZ_NAME
from contract import (
    BaselineReport,
    ChangePointModel,
    SettlementReport,
    baseline_cusum,
    carpet_frame,
    energy_signature_frame,
    fit_baseline,
    settle_frames,
    settlement_plan,
)
from contract.baseline.sufficiency import Sufficiency
from contract.default_periods import FINAL, PeriodStatus, current_season, season_status
from contract.periods import RULES
from contract.regularisation import report_from_payload, settlement_payload, with_closed_months
from contract.reports import baseline_models, seasons_with_data
from contract.terms import ContractTerms, season_bounds
from dashboards.cache import cached

# Monthly change-point models (IPMVP option C on monthly totals, Guideline 14 monthly
# thresholds): daily models of schools and halls mix occupied and empty days and fail CV(RMSE)
# without saying anything about the building's weather dependence.
MODEL_FREQ = "monthly"


@dataclass(frozen=True)
class Periods:
    """Inclusive local dates of the baseline (reference) and reporting periods."""

    baseline: tuple[dt.date, dt.date]
    reporting: tuple[dt.date, dt.date]


@dataclass(frozen=True)
class ModelQuality:
    """A building's baseline model, judged against ASHRAE Guideline 14 and on the
    sufficiency of its data."""

    model: str
    r2: float
    cvrmse: float
    nmbe: float
    accepted: bool
    sufficient: bool
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.accepted and self.sufficient


@dataclass
class SavingsPortfolio:
    """One contract's season: the settlement and, per building, its baseline."""

    report: SettlementReport
    terms: ContractTerms
    station_code: str | None
    station_name: str | None
    periods: Periods
    channel_codes: dict[str, str | None]  # building code -> consumption channel code
    station_codes: dict[str, str | None]  # building code -> station code
    quality: dict[str, ModelQuality | None] = field(default_factory=dict)
    closed_marker: str | None = None  # « arrêté le JJ/MM/AAAA par … »: signed figures shown
    closed_months: dict[str, str] = field(default_factory=dict)  # month -> its marker
    season_complete: bool = False  # the whole season is past: it may be closed
    status: PeriodStatus = FINAL  # « provisoire : saison en cours : 2 mois sur 8 »
    building_status: dict[str, PeriodStatus] = field(default_factory=dict)  # code -> status

    @property
    def buildings(self) -> pd.DataFrame:
        return self.report.buildings

    @property
    def total(self) -> dict:
        return self.report.total


def _today() -> dt.date:
    return pd.Timestamp.now(tz=TZ_NAME).date()


def last_complete_day() -> dt.date:
    """Yesterday (local): a season in progress is settled on complete days only, so today's
    first hours do not show as a missing day on every building."""
    return _today() - dt.timedelta(days=1)


def contract_choices(engine: Engine, scope: Scope) -> list[dict]:
    """[{code, label}] of the contracts a user may see (all, or the contractor's one)."""
    with Session(engine) as s:
        return [
            {"id": c.id, "code": c.code, "label": f"{c.code} · {c.contractor}", "kind": c.kind}
            for c in contracts_in(s, scope)
        ]


def seasons(engine: Engine, contract_code: str) -> tuple[list[str], str]:
    """Seasons with data and the current one, latest first, and the one to show first: the
    season in progress (the last one ended, between two seasons), marked « provisoire » by
    `SavingsPortfolio.status` while incomplete."""
    today = _today()
    return cached(
        engine, "seasons", (contract_code, today), lambda: seasons_on(engine, contract_code, today)
    )


def seasons_on(engine: Engine, contract_code: str, today: dt.date) -> tuple[list[str], str]:
    """`seasons` on a given day (tests pass a fixed one)."""
    terms = contract_terms(engine, contract_code)
    span = frames.rollup_span(engine, [bt.channel_id for bt in terms.buildings])
    found = seasons_with_data(terms, span)
    found = [s for s in found if int(s[:4]) <= today.year]  # no season in the future
    current = current_season(terms.season_start, terms.season_end, today)
    if current not in found:  # the season in progress, even before its first reading
        found = sorted({*found, current}, reverse=True)
    return found, current


def contract_terms(engine: Engine, contract_code: str) -> ContractTerms:
    return ContractTerms.from_record(frames.contract_terms(engine, contract_code))


def reference_periods(terms: ContractTerms, period_from: dt.date, period_to: dt.date) -> Periods:
    """Baseline: the 12 months before the contract's start (or before the season when the
    season starts earlier); reporting: the settled days of the season."""
    start = terms.starts_on if terms.starts_on and terms.starts_on <= period_from else period_from
    base_to = start - dt.timedelta(days=1)
    base_from = (pd.Timestamp(start) - pd.DateOffset(years=1)).date()
    return Periods(baseline=(base_from, base_to), reporting=(period_from, period_to))


def _codes(engine: Engine, terms: ContractTerms) -> tuple[dict, dict, str | None]:
    channel_ids = [bt.channel_id for bt in terms.buildings if bt.channel_id is not None]
    station_ids = [bt.station_id for bt in terms.buildings if bt.station_id is not None]
    with Session(engine) as s:
        channels = dict(
            s.execute(select(Channel.id, Channel.code).where(Channel.id.in_(channel_ids))).all()
        )
        stations = dict(
            s.execute(select(Station.id, Station.code).where(Station.id.in_(station_ids))).all()
        )
        station_name = None
        if terms.station_id is not None:
            station_name = s.scalar(select(Station.name).where(Station.id == terms.station_id))
    channel_codes = {bt.building_code: channels.get(bt.channel_id) for bt in terms.buildings}
    station_codes = {bt.building_code: stations.get(bt.station_id) for bt in terms.buildings}
    return channel_codes, station_codes, station_name


def model_quality(model: ChangePointModel | None, sufficiency: Sufficiency) -> ModelQuality | None:
    if model is None:
        return None
    return ModelQuality(
        model=model.name,
        r2=float(model.r2),
        cvrmse=float(model.cvrmse),
        nmbe=float(model.nmbe),
        accepted=bool(model.acceptance["accepted"]),
        sufficient=bool(sufficiency.sufficient),
        warnings=tuple(sufficiency.warnings),
    )


def building_baseline(
    engine: Engine, channel_code: str | None, station_code: str | None, periods: Periods
) -> BaselineReport | None:
    """The building's daily change-point model with its reporting period, or None when it
    cannot be fitted (no channel, no station, too few days with consumption and weather)."""
    if not channel_code or not station_code:
        return None

    def compute():
        try:
            data = frames.baseline_frames(
                engine, channel_code, station_code, periods.baseline, periods.reporting
            )
            return fit_baseline(data, MODEL_FREQ)
        except (ValueError, LookupError, ZeroDivisionError):
            return None

    return cached(engine, "baseline", (channel_code, station_code, periods), compute)


def station_models(
    engine: Engine, channels: dict[str, int], station_id: int, baseline: tuple[dt.date, dt.date]
) -> dict:
    """The baseline models of many channels of one station (`contract.reports.baseline_models`):
    one query for their rollups and one for the weather."""
    roll = frames.rollups(engine, channels.values(), *baseline)
    mean_c = frames.station_temperatures(engine, station_id, *baseline).mean_c
    return baseline_models(roll, mean_c, channels, baseline, MODEL_FREQ)


def savings_portfolio(
    engine: Engine,
    contract_code: str,
    season: str,
    as_of: dt.date | None = None,
    with_models: bool = True,
) -> SavingsPortfolio:
    """Settle the season up to `as_of` (default: the last complete day) and, with
    `with_models`, judge every building's baseline model. Same numbers as
    `carnet settle --contract C --season S --as-of <as_of> --json`."""
    as_of = as_of or last_complete_day()
    today = _today()

    def compute():
        # a closed season shows what was signed; an open one its closed months' signed rows
        terms = contract_terms(engine, contract_code)
        data = settlement_frames(engine, settlement_plan(terms, season, as_of=as_of))
        closed, months = data.closed, {}
        if closed is not None:
            report = report_from_payload(closed.payload)
        else:
            report = settle_frames(terms, season, data, as_of=as_of)
            months = data.closed_months
            if months:
                signed = report_from_payload(
                    with_closed_months(settlement_payload(report), {m: v.payload for m, v in
                                       months.items()})
                ).months  # fmt: skip
                report.months = signed[report.months.columns.intersection(signed.columns)]
        channel_codes, station_codes, station_name = _codes(engine, terms)
        periods = reference_periods(terms, report.period_from, report.period_to)
        _, season_last = season_bounds(season, terms.season_start, terms.season_end)
        return SavingsPortfolio(
            report=report,
            terms=terms,
            station_code=report.station_code,
            station_name=station_name,
            periods=periods,
            channel_codes=channel_codes,
            station_codes=station_codes,
            closed_marker=closed.marker if closed is not None else None,
            closed_months={m: v.marker for m, v in sorted(months.items())},
            season_complete=season_last < today,
            **_statuses(engine, terms, season, as_of, closed is not None),
        )

    portfolio = cached(engine, "settle", (contract_code, season, as_of, today), compute)
    if not with_models:
        return portfolio
    quality = cached(
        engine,
        "quality",
        (contract_code, season, as_of, today),
        lambda: _quality(engine, portfolio),
    )
    return dataclasses.replace(portfolio, quality=quality)


def _statuses(engine: Engine, terms: ContractTerms, season: str, as_of: dt.date, closed: bool):
    """The season's « provisoire » as settled up to `as_of` and each building's (its consumption
    data ending before `as_of`: « relevés manquants après le 28/11 »). Signed figures are
    final."""
    today = as_of + dt.timedelta(days=1)  # the settlement's figures stop at `as_of`
    if closed:
        return {"status": FINAL, "building_status": {}}
    spans = {
        bt.building_code: frames.rollup_span(engine, [bt.channel_id])
        for bt in terms.buildings
        if bt.channel_id is not None
    }  # one indexed query per building: a dozen per contract
    args = (terms.season_start, terms.season_end)
    last_days = [span[1] for span in spans.values() if span is not None]
    season_last = max(last_days) if last_days else None
    return {
        "status": season_status(season, today, season_last, *args),
        "building_status": {
            code: season_status(season, today, span[1] if span else None, *args)
            for code, span in spans.items()
        },
    }


def _quality(engine: Engine, portfolio: SavingsPortfolio) -> dict[str, ModelQuality | None]:
    """Every building's baseline model, fitted for all the buildings of a station at once."""
    quality: dict[str, ModelQuality | None] = {}
    by_station: dict[int, dict[str, int]] = {}
    for bt in portfolio.terms.buildings:
        if bt.channel_id is not None and bt.station_id is not None:
            by_station.setdefault(bt.station_id, {})[bt.building_code] = bt.channel_id
    for station_id, channels in by_station.items():  # one station per contract, mostly
        fitted = station_models(engine, channels, station_id, portfolio.periods.baseline)
        for code, (model, sufficiency) in fitted.items():
            quality[code] = model_quality(model, sufficiency)
    for bt in portfolio.terms.buildings:
        quality.setdefault(bt.building_code, None)
    return quality


def sign_season(engine: Engine, contract_code: str, season: str, actor: str) -> ClosedRef:
    """« Arrêter la saison »: the manager signs the season's figures (`carnet settle close`)."""
    return close_period(engine, contract_code, season=season, actor=actor, rules=RULES)


@dataclass
class BuildingDetail:
    code: str
    name: str
    channel_code: str | None
    station_code: str | None
    row: dict  # the settlement row of the building (season)
    months: pd.DataFrame  # month, actual_mwh_pci, target_mwh_pci, dju, days_missing
    baseline: BaselineReport | None
    signature: pd.DataFrame | None  # monthly: segment, period, days, hdd, energy_kwh, ...
    cusum: pd.DataFrame | None  # daily: day, energy_kwh, predicted_kwh, cusum
    carpet: pd.DataFrame | None  # local date x hour, kWh PCS
    adjustments: list[dict]
    model_note: str | None = None  # why there is no baseline model


def building_detail(
    engine: Engine, contract_code: str, season: str, building_code: str,
    as_of: dt.date | None = None,
) -> BuildingDetail:  # fmt: skip
    """The building's row and months from the contract's (cached) settlement, its baseline,
    figures and adjustments."""
    as_of = as_of or last_complete_day()
    return cached(
        engine, "detail", (contract_code, season, building_code, as_of, _today()),
        lambda: _building_detail(engine, contract_code, season, building_code, as_of),
    )  # fmt: skip


def _building_detail(
    engine: Engine, contract_code: str, season: str, building_code: str, as_of: dt.date
) -> BuildingDetail:
    portfolio = savings_portfolio(engine, contract_code, season, as_of, with_models=False)
    rows = portfolio.buildings[portfolio.buildings["building_code"] == building_code]
    if rows.empty:
        raise LookupError(f"le bâtiment {building_code} ne fait pas partie du contrat")
    row = rows.iloc[0].to_dict()
    months = portfolio.report.months
    months = months[months["building_code"] == building_code].reset_index(drop=True)
    channel = portfolio.channel_codes.get(building_code)
    station = portfolio.station_codes.get(building_code)
    base = building_baseline(engine, channel, station, portfolio.periods)
    signature = cusum = None
    model_note = "pas de compteur ou de station météo" if base is None else None
    if base is not None and not base.sufficiency.sufficient:
        # a model fitted on a few days says nothing: show why instead of its savings
        model_note = (
            "données insuffisantes sur la période de référence ("
            + (" ; ".join(base.sufficiency.warnings) or "trop peu de jours")
            + ")"
        )
        base = None
    if base is not None:
        signature = energy_signature_frame(base, freq="monthly")
        cusum = baseline_cusum(base, freq="daily")
    carpet = None
    if channel:
        reporting = portfolio.periods.reporting
        carpet = carpet_frame(
            frames.channel_energy(engine, channel, *reporting), channel, *reporting
        )
    return BuildingDetail(
        code=building_code,
        name=row["building_name"],
        channel_code=channel,
        station_code=station,
        row=row,
        months=months,
        baseline=base,
        signature=signature,
        cusum=cusum,
        carpet=carpet,
        adjustments=building_adjustments(engine, contract_code, building_code),
        model_note=model_note,
    )


def building_adjustments(engine: Engine, contract_code: str, building_code: str) -> list[dict]:
    """The non-routine adjustments of a building in a contract, oldest first."""
    with Session(engine) as s:
        rows = s.execute(
            select(Adjustment)
            .join(ContractBuilding, Adjustment.contract_building_id == ContractBuilding.id)
            .join(Contract, ContractBuilding.contract_id == Contract.id)
            .join(Building, ContractBuilding.building_id == Building.id)
            .where(Contract.code == contract_code, Building.code == building_code)
            .order_by(Adjustment.effective_from, Adjustment.id)
        ).scalars()
        return [
            {
                "id": a.id,
                "effective_from": a.effective_from,
                "effective_to": a.effective_to,
                "kind": a.kind,
                "kind_label": KIND_LABELS_FR.get(a.kind, a.kind),
                "nb_factor": a.nb_factor,
                "delta_mwh_pci": a.delta_mwh_pci,
                "justification": a.justification,
                "author_login": a.author_login,
                "created_at": a.created_at,
                "status": a.status,  # pending: waits for a closed period (not applied)
            }
            for a in rows
        ]


def contract_building_codes(engine: Engine, contract_code: str) -> dict[str, int]:
    """Building code -> building id of a contract's buildings."""
    with Session(engine) as s:
        return dict(
            s.execute(
                select(Building.code, Building.id)
                .join(ContractBuilding, ContractBuilding.building_id == Building.id)
                .join(Contract, ContractBuilding.contract_id == Contract.id)
                .where(Contract.code == contract_code)
            ).all()
        )


# --- scope: every code from the browser is checked here ------------------------------------


def allowed_contract(engine: Engine, scope: Scope, code: str) -> str:
    """The contract code if the scope sees it; LookupError if unknown, CarnetPermissionError
    if another's (a contractor: its own contract only)."""
    with Session(engine) as s:
        contract = contract_by_code(s, code)
        if contract is None:
            raise LookupError(f"contrat inconnu « {code} »")
        if not scope.has_contract(contract.id):
            raise CarnetPermissionError(f"accès refusé au contrat {code}")
    return code


def allowed_building(engine: Engine, scope: Scope, contract_code: str, building_code: str) -> bool:
    """Whether the building is one of the contract's; LookupError if unknown,
    CarnetPermissionError if outside the scope."""
    with Session(engine) as s:
        building_id = building_id_by_code(s, building_code)
        if building_id is None:
            raise LookupError(f"bâtiment inconnu « {building_code} »")
        if not scope.has_building(building_id):
            raise CarnetPermissionError(f"accès refusé au bâtiment {building_code}")
        return contract_covers(s, contract_code, building_id)


def contracts_of_building(engine: Engine, scope: Scope, building_code: str) -> list[str]:
    """The contracts covering the building that the scope sees; none for a building unknown
    or outside the scope (a link to another contractor's building)."""
    with Session(engine) as s:
        if not scope.has_building(building_id_by_code(s, building_code)):
            return []
        return [
            c for c in contract_codes_of_building(s, building_code) if scope.has_contract_code(c)
        ]


def record_adjustment(engine: Engine, contract_code: str, building_code: str, *args, **kwargs):
    """`carnet.adjustments.add_adjustment` in its own transaction (the callback has checked
    the codes against the scope): (adjustment id, the closed periods it would change)."""
    with session_scope(engine) as s:
        adj = add_adjustment(s, contract_code, building_code, *args, **kwargs)
        return adj.id, list(getattr(adj, "closed_periods", None) or [])
