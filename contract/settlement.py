"""The French settlement of a heating contract (DESIGN.md, "Contract target").

Per building and day: `N'B_day = NB_eff * DJU_day / DJU_ref`, where `NB_eff = NB * factor + delta`
while a non-routine adjustment is in force (both are changes of the *reference*, so they are
climate-corrected like NB). Summed per month or season, then the clause:

    NC = QT_pci - m_ecs * q_ecs                 (net heating consumption)
    E  = T - NC                                 (T = N'B, or N'B * (1 - g) for a CPE)
    |E| <= f * N'B             → nothing shared
    E > 0 (savings)            → bonus   = k_g * min(E, cap * N'B) * P1
    E < 0 (over-consumption)   → penalty = k_p * |E| * P1

The clause is applied to each period's totals (a season is not the sum of its months' bonuses:
franchise and cap are not additive); the contract total is the sum of the buildings' euros.
Euros are `Decimal`, rounded half-up to the cent once, at the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from contract.consumption import kwh_pcs_to_mwh_pci
from contract.terms import (
    ContractTerms,
    previous_season,
    season_bounds,
)

CENT = Decimal("0.01")

ALERT_LABELS_FR = {
    "nb_revision_1_season": "révision du NB à envisager (écart sur une saison)",
    "nb_revision_2_seasons": "révision du NB à envisager (écart sur deux saisons)",
    "days_missing": "jours de consommation manquants",
    "days_estimated": "jours de consommation estimés",
    "dju_missing": "jours sans température (DJU incomplets)",
    "ecs_missing": "jours d'ECS manquants",
    "no_channel": "aucun compteur associé au bâtiment",
    "nb_adjusted": "ajustement non périodique appliqué",
}

# the energy, degree-day and percentage figures of a settlement line
FIGURE_COLUMNS = (
    "actual_mwh_pci",
    "qt_mwh_pci",
    "ecs_mwh_pci",
    "dju",
    "dju_ref",
    "nb_mwh_pci",
    "reference_mwh_pci",
    "target_mwh_pci",
    "gap_mwh",
    "gap_pct",
    "deviation_pct",
)

BUILDING_COLUMNS = [
    "building_code",
    "building_name",
    *FIGURE_COLUMNS,
    "in_franchise",
    "bonus_eur",
    "penalty_eur",
    "days",
    "days_missing",
    "days_estimated",
    "dju_days_missing",
    "alerts",
]


def to_eur(amount_mwh: float, price_eur_per_mwh: Decimal) -> Decimal:
    """MWh-equivalent x price → euros, half-up to the cent (the only rounding)."""
    if amount_mwh is None or not np.isfinite(amount_mwh):
        return Decimal("0.00")
    return (Decimal(repr(float(amount_mwh))) * price_eur_per_mwh).quantize(CENT, ROUND_HALF_UP)


def sharing_clause(
    reference_mwh,
    actual_mwh,
    franchise_pct: float,
    share_savings: float,
    cap_pct: float | None,
    share_overrun: float,
    guaranteed_pct: float | None = None,
) -> pd.DataFrame:
    """Vectorised clause on arrays of corrected references N'B and net consumptions NC.

    Returns target, gap, franchise flag and the MWh-equivalents paid (bonus) or charged
    (penalty) before the price: `k_g * min(E, cap * N'B)` and `k_p * |E|`.
    """
    return pd.DataFrame(
        _clause_arrays(
            reference_mwh,
            actual_mwh,
            franchise_pct,
            share_savings,
            cap_pct,
            share_overrun,
            guaranteed_pct,
        )  # fmt: skip
    )


def nb_revision_flags(
    deviation_pct, previous_deviation_pct, one_season_pct: float, two_seasons_pct: float
) -> tuple[np.ndarray, np.ndarray]:
    """The NB no longer describes the building: |dev| > one-season threshold, or both this
    season and the previous one beyond the two-season threshold in the same direction."""
    dev = np.asarray(deviation_pct, dtype=float)
    prev = np.asarray(previous_deviation_pct, dtype=float)
    one = np.abs(dev) > one_season_pct
    two = (np.abs(dev) > two_seasons_pct) & (np.abs(prev) > two_seasons_pct)
    two &= np.sign(dev) == np.sign(prev)
    return one, two


def adjustment_factors(
    b_idx: np.ndarray,
    day: np.ndarray,
    building_codes: list[str],
    adjustments: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per ledger row: product of nb_factor and sum of delta in force that day.

    One vectorised mask per adjustment (adjustments are few; days are many).
    """
    factor = np.ones(len(day))
    delta = np.zeros(len(day))
    if adjustments is None or not len(adjustments):
        return factor, delta
    position = {code: i for i, code in enumerate(building_codes)}
    for adj in adjustments.itertuples(index=False):
        if adj.building_code not in position:
            continue
        frm = np.datetime64(pd.Timestamp(adj.effective_from).date(), "D")
        mask = (b_idx == position[adj.building_code]) & (day >= frm)
        if adj.effective_to is not None and pd.notna(adj.effective_to):
            mask &= day <= np.datetime64(pd.Timestamp(adj.effective_to).date(), "D")
        if adj.nb_factor is not None and pd.notna(adj.nb_factor):
            factor[mask] *= float(adj.nb_factor)
        if adj.delta_mwh_pci is not None and pd.notna(adj.delta_mwh_pci):
            delta[mask] += float(adj.delta_mwh_pci)
    return factor, delta


class _ByDay:
    """Rows of a frame keyed by (owner id, day number), found by position over a run of days:
    one dense table owner x day per run asked (a contract has a few dozen channels and one or
    two stations, a run is a season), the last duplicate of a key winning."""

    def __init__(self, owner, day_num):
        self.owner = np.asarray(owner, dtype="int64")
        self.day = np.asarray(day_num, dtype="int64")

    def positions(self, owners: np.ndarray, first_day: int, n_days: int) -> np.ndarray:
        """Row of each (owner, day) for `owners` (float, NaN: none) x the `n_days` days from
        day number `first_day`, owner-major; -1 where absent."""
        valid = ~np.isnan(owners)
        known = np.unique(owners[valid].astype("int64"))
        if not len(known) or not len(self.owner):
            return np.full(len(owners) * n_days, -1, dtype="int64")
        o = np.minimum(np.searchsorted(known, self.owner), len(known) - 1)
        d = self.day - first_day
        rows = np.flatnonzero((known[o] == self.owner) & (d >= 0) & (d < n_days))
        cell = o[rows] * n_days + d[rows]
        if len(cell) and np.bincount(cell).max() > 1:  # the last row of each key
            _, first_from_end = np.unique(cell[::-1], return_index=True)
            keep = np.sort(len(cell) - 1 - first_from_end)
            rows, cell = rows[keep], cell[keep]
        table = np.full(len(known) * n_days, -1, dtype="int64")
        table[cell] = rows
        at = np.searchsorted(known, np.where(valid, owners, 0).astype("int64"))
        out = table.reshape(len(known), n_days)[np.minimum(at, len(known) - 1)]
        out[~valid] = -1
        return out.ravel()


def _take(values: np.ndarray, pos: np.ndarray, fill) -> np.ndarray:
    out = values[np.maximum(pos, 0)] if len(values) else np.full(len(pos), fill)
    return np.where(pos >= 0, out, fill)


def _day_numbers(values) -> np.ndarray:
    col = np.asarray(values) if isinstance(values, np.ndarray) else None
    if col is None and isinstance(values, pd.Series) and values.dtype.kind == "M":
        col = values.to_numpy()  # naive datetime64 already: what to_datetime would return
    if col is None or col.dtype.kind != "M":
        col = pd.to_datetime(pd.Series(values)).to_numpy()
    return col.astype("datetime64[D]").astype("int64")


@dataclass
class _Inputs:
    """A settlement's rollups and degree days, keyed once for every ledger built on them."""

    roll: _ByDay
    energy: np.ndarray
    value: np.ndarray
    estimated: np.ndarray
    dju_by: _ByDay
    dju: np.ndarray
    adjustments: pd.DataFrame | None

    @classmethod
    def of(cls, rollups: pd.DataFrame, dju_daily: pd.DataFrame, adjustments):
        return cls(
            _ByDay(rollups["channel_id"].to_numpy(dtype="int64"), _day_numbers(rollups["day"])),
            rollups["energy_kwh"].to_numpy(dtype=float),
            rollups["value"].to_numpy(dtype=float),
            rollups["estimated"].fillna(False).to_numpy(dtype=bool),
            _ByDay(dju_daily["station_id"].to_numpy(dtype="int64"), _day_numbers(dju_daily["day"])),
            dju_daily["dju"].to_numpy(dtype=float),
            adjustments,
        )


def _ledger(terms: ContractTerms, days: pd.DatetimeIndex, inputs: _Inputs) -> dict:
    """The daily ledger as arrays (see `building_days`), building-major."""
    bts = terms.buildings
    day_d = np.asarray(pd.DatetimeIndex(days).normalize().to_numpy(), dtype="datetime64[D]")
    n_b, n_d = len(bts), len(day_d)

    def per_building(attr: str) -> np.ndarray:
        col = np.array([getattr(bt, attr) for bt in bts], dtype=object)  # one per building
        return np.where(pd.isna(col), np.nan, col).astype(float)

    b_idx = np.repeat(np.arange(n_b), n_d)
    day = np.tile(day_d, n_b)
    first = int(day_d[0].astype("int64")) if n_d else 0
    nb = np.repeat(per_building("nb_mwh_pci"), n_d)
    dju_ref = np.repeat(per_building("dju_ref"), n_d)
    q_ecs = np.repeat(per_building("q_ecs_mwh_per_m3"), n_d)
    ecs_channel = np.repeat(per_building("ecs_channel_id"), n_d)

    main = inputs.roll.positions(per_building("channel_id"), first, n_d)
    qt_kwh = _take(inputs.energy, main, np.nan)
    missing = np.isnan(qt_kwh)
    ecs_pos = inputs.roll.positions(per_building("ecs_channel_id"), first, n_d)
    ecs_m3 = _take(inputs.value, ecs_pos, np.nan)
    has_ecs = ~np.isnan(ecs_channel) & ~np.isnan(q_ecs)
    # hot water is deducted only on days whose fuel is known: NC = QT - ECS over the same days
    ecs_mwh = np.where(missing, np.nan, np.where(has_ecs, ecs_m3 * q_ecs, 0.0))
    qt = kwh_pcs_to_mwh_pci(qt_kwh, terms.pcs_pci_ratio)
    dju = _take(inputs.dju, inputs.dju_by.positions(per_building("station_id"), first, n_d), np.nan)

    codes = [bt.building_code for bt in bts]
    factor, delta = adjustment_factors(b_idx, day, codes, inputs.adjustments)
    nb_eff = nb * factor + delta
    return {
        "b_idx": b_idx,
        "day": day.astype("datetime64[s]"),
        "nb_mwh_pci": nb,
        "dju_ref": dju_ref,
        "q_ecs_mwh_per_m3": q_ecs,
        "qt_mwh_pci": qt,
        "missing": missing,
        "estimated": _take(inputs.estimated, main, False).astype(bool) & ~missing,
        "ecs_mwh_pci": ecs_mwh,
        "ecs_missing": has_ecs & np.isnan(ecs_m3),
        "nc_mwh_pci": qt - np.nan_to_num(ecs_mwh),
        "dju": dju,
        "dju_missing": np.isnan(dju),
        "nb_eff_mwh_pci": nb_eff,
        "adjusted": (factor != 1.0) | (delta != 0.0),
        "reference_mwh_pci": nb_eff * np.nan_to_num(dju) / dju_ref,
    }


def _ledger_frame(terms: ContractTerms, ledger: dict) -> pd.DataFrame:
    codes = [bt.building_code for bt in terms.buildings]
    columns = {"b_idx": ledger["b_idx"]}
    columns["building_code"] = pd.Categorical.from_codes(ledger["b_idx"], categories=codes)
    columns.update((k, v) for k, v in ledger.items() if k != "b_idx")
    return pd.DataFrame(columns)


def building_days(
    terms: ContractTerms,
    days: pd.DatetimeIndex,
    rollups: pd.DataFrame,
    dju_daily: pd.DataFrame,
    adjustments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The daily ledger: one row per (building, day) with N'B, QT, ECS and NC.

    `rollups`: channel_id, day, value (channel unit), energy_kwh (PCS), estimated.
    `dju_daily`: station_id, day, dju (NaN or absent when temperatures are missing).
    Joins are by position in a dense (owner, day) table: no per-row Python, no string keys.
    """
    if not len(terms.buildings):
        return pd.DataFrame()
    inputs = _Inputs.of(rollups, dju_daily, adjustments)
    return _ledger_frame(terms, _ledger(terms, days, inputs))


def _aggregate(ledger, terms: ContractTerms, by_month: bool) -> tuple[dict, np.ndarray]:
    """Sums per building (or building x month) with np.bincount on integer group ids, as
    columns (`g_b`: the building of each row)."""
    b_idx = np.asarray(ledger["b_idx"])
    codes = np.array([bt.building_code for bt in terms.buildings], dtype=object)
    n_b = len(codes)
    if by_month:
        month = np.asarray(ledger["day"]).astype("datetime64[M]")
        months, m_idx = np.unique(month, return_inverse=True)
        gid, n_groups = b_idx * len(months) + m_idx, n_b * len(months)
    else:
        gid, n_groups = b_idx, n_b
    size = np.bincount(gid, minlength=n_groups)
    present = np.flatnonzero(size > 0)

    def total(col: str) -> np.ndarray:
        x = np.asarray(ledger[col])
        w = np.nan_to_num(x.astype(float)) if x.dtype != bool else x.astype(float)
        return np.bincount(gid, weights=w, minlength=n_groups)[present]

    g_b = present // len(months) if by_month else present
    nb = np.array([bt.nb_mwh_pci for bt in terms.buildings], dtype=float)
    dju_ref = np.array([bt.dju_ref for bt in terms.buildings], dtype=float)
    out = {"building_code": codes[g_b]}
    if by_month:
        out["month"] = pd.PeriodIndex(months[present % len(months)], freq="M")
    out.update(
        {
            "qt_mwh_pci": total("qt_mwh_pci"),
            "ecs_mwh_pci": total("ecs_mwh_pci"),
            "actual_mwh_pci": total("nc_mwh_pci"),
            "dju": total("dju"),
            "dju_ref": dju_ref[g_b],
            "nb_mwh_pci": nb[g_b],
            "reference_mwh_pci": total("reference_mwh_pci"),
            "days": size[present].astype("int64"),
            "days_missing": total("missing").astype("int64"),
            "days_estimated": total("estimated").astype("int64"),
            "dju_days_missing": total("dju_missing").astype("int64"),
            "ecs_days_missing": total("ecs_missing").astype("int64"),
            "adjusted": total("adjusted") > 0,
        }
    )
    return out, g_b


def _clause_arrays(reference_mwh, actual_mwh, franchise_pct, share_savings, cap_pct,
                   share_overrun, guaranteed_pct=None) -> dict:  # fmt: skip
    """`sharing_clause` as a dict of arrays."""
    ref = np.asarray(reference_mwh, dtype=float)
    nc = np.asarray(actual_mwh, dtype=float)
    target = ref * (1.0 - (guaranteed_pct or 0.0) / 100.0)
    gap = target - nc
    in_band = np.abs(gap) <= (franchise_pct / 100.0) * ref
    capped = np.minimum(gap, (cap_pct / 100.0) * ref) if cap_pct is not None else gap
    bonus = np.where((gap > 0) & ~in_band, share_savings * capped, 0.0)
    penalty = np.where((gap < 0) & ~in_band, share_overrun * np.abs(gap), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap_pct = np.where(target != 0, gap / target * 100.0, np.nan)
        deviation_pct = np.where(ref != 0, (nc - ref) / ref * 100.0, np.nan)
    valid = np.isfinite(gap)
    return {
        "target_mwh_pci": target,
        "gap_mwh": gap,
        "gap_pct": gap_pct,
        "deviation_pct": deviation_pct,
        "in_franchise": in_band & valid,
        "bonus_mwh": np.where(valid, bonus, 0.0),
        "penalty_mwh": np.where(valid, penalty, 0.0),
    }


def _euros(amounts: np.ndarray, price: Decimal) -> list[Decimal]:
    """`to_eur` of each amount; +0.0 (most of them: no bonus, or no penalty) computed once."""
    zero = to_eur(0.0, price)
    plain_zero = (amounts == 0.0) & ~np.signbit(amounts)
    pairs = zip(amounts.tolist(), plain_zero.tolist(), strict=True)
    return [zero if z else to_eur(x, price) for x, z in pairs]


def _with_clause(frame: dict, terms: ContractTerms) -> pd.DataFrame:
    clause = _clause_arrays(
        frame["reference_mwh_pci"],
        frame["actual_mwh_pci"],
        terms.franchise_pct,
        terms.savings_share_contractor,
        terms.savings_cap_pct,
        terms.overrun_share_contractor,
        terms.guaranteed_savings_pct if terms.is_cpe else None,
    )
    price = terms.price_eur_per_mwh_pci
    out = pd.DataFrame({**frame, **clause})
    out["bonus_eur"] = _euros(clause["bonus_mwh"], price)
    out["penalty_eur"] = _euros(clause["penalty_mwh"], price)
    return out


def _alerts(frame: pd.DataFrame, one: np.ndarray, two: np.ndarray, no_channel) -> list[list]:
    flags = {
        "nb_revision_1_season": one,
        "nb_revision_2_seasons": two,
        "days_missing": frame["days_missing"].to_numpy() > 0,
        "days_estimated": frame["days_estimated"].to_numpy() > 0,
        "dju_missing": frame["dju_days_missing"].to_numpy() > 0,
        "ecs_missing": frame["ecs_days_missing"].to_numpy() > 0,
        "no_channel": np.asarray(no_channel, dtype=bool),
        "nb_adjusted": frame["adjusted"].to_numpy(dtype=bool),
    }
    names = np.array(list(flags))
    matrix = np.column_stack([np.asarray(v, dtype=bool) for v in flags.values()])
    return [names[row].tolist() for row in matrix]  # one list per building


@dataclass
class SettlementReport:
    """What `carnet settle` prints and the dashboard shows: per building, per month, in total."""

    contract_code: str
    season: str
    month: str | None
    period_from: dt.date
    period_to: dt.date
    dju_method: str
    dju_base_c: float
    station_code: str | None
    price_eur_per_mwh_pci: Decimal
    kind: str
    buildings: pd.DataFrame
    months: pd.DataFrame
    total: dict
    ledger: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    season_complete: bool = False  # NB-revision alerts are only raised on a whole season


def settlement_period(
    terms: ContractTerms, season: str, month: str | None = None, as_of: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """Inclusive local dates settled: the season (or one of its months), up to `as_of`."""
    first, last = season_bounds(season, terms.season_start, terms.season_end)
    if month:
        p = pd.Period(month, "M")
        first = max(first, p.start_time.date())
        last = min(last, p.end_time.date())
        if first > last:
            raise ValueError(f"le mois {month} est hors de la saison {season}")
    if as_of is not None:
        last = min(last, as_of)
        if last < first:
            raise ValueError(
                f"rien à régler au {as_of:%d/%m/%Y} : la période commence le {first:%d/%m/%Y}"
            )
    return first, last


def settle(
    terms: ContractTerms,
    season: str,
    rollups: pd.DataFrame,
    dju_daily: pd.DataFrame,
    adjustments: pd.DataFrame | None = None,
    month: str | None = None,
    as_of: dt.date | None = None,
) -> SettlementReport:
    """Settle a season (or one month of it) for every building of the contract.

    The inputs must cover the previous season too: the two-season NB-revision alert needs it.
    """
    first, last = settlement_period(terms, season, month, as_of)
    days = pd.date_range(first, last, freq="D", name="day")
    if not len(terms.buildings):
        empty = pd.DataFrame(columns=BUILDING_COLUMNS)
        return SettlementReport(
            terms.code, season, month, first, last, terms.dju_method, terms.dju_base_c,
            terms.station_code, terms.price_eur_per_mwh_pci, terms.kind, empty,
            pd.DataFrame(), _total(empty, terms),
        )  # fmt: skip
    inputs = _Inputs.of(rollups, dju_daily, adjustments)  # keyed once for both seasons
    ledger = _ledger(terms, days, inputs)
    season_agg, g_b = _aggregate(ledger, terms, by_month=False)
    per_building = _with_clause(season_agg, terms)
    month_agg, m_b = _aggregate(ledger, terms, by_month=True)
    per_month = _with_clause(month_agg, terms)

    no_alert = np.zeros(len(per_building), dtype=bool)
    one, two = no_alert, no_alert
    _, season_last = season_bounds(season, terms.season_start, terms.season_end)
    complete = month is None and last == season_last
    if complete:  # a deviation "over a season" is judged on a whole season only
        prev = previous_season(season)
        p_first, p_last = season_bounds(prev, terms.season_start, terms.season_end)
        p_days = pd.date_range(p_first, p_last, freq="D", name="day")
        p_agg, _ = _aggregate(_ledger(terms, p_days, inputs), terms, by_month=False)
        # a previous season without any data says nothing about the reference
        p_actual = np.where(p_agg["days_missing"] >= p_agg["days"], np.nan, p_agg["actual_mwh_pci"])
        p_dev = _clause_arrays(p_agg["reference_mwh_pci"], p_actual, 0, 0, None, 0)["deviation_pct"]
        codes = per_building["building_code"].to_numpy()
        if np.array_equal(p_agg["building_code"], codes):
            prev_dev = p_dev
        else:
            prev_dev = pd.Series(p_dev, index=p_agg["building_code"]).reindex(codes).to_numpy()
        per_building["previous_deviation_pct"] = prev_dev
        one, two = nb_revision_flags(
            per_building["deviation_pct"],
            prev_dev,
            terms.nb_revision_pct_one_season,
            terms.nb_revision_pct_two_seasons,
        )
    names = np.array([bt.building_name for bt in terms.buildings], dtype=object)
    no_channel = np.array([bt.channel_id is None for bt in terms.buildings], dtype=bool)
    per_building["building_name"] = names[g_b]
    per_building["alerts"] = _alerts(per_building, one, two, no_channel[g_b])
    per_month["alerts"] = _alerts(
        per_month,
        np.zeros(len(per_month), dtype=bool),
        np.zeros(len(per_month), dtype=bool),
        no_channel[m_b],
    )
    per_month["month"] = per_month["month"].astype(str)
    cols = BUILDING_COLUMNS + [c for c in per_building.columns if c not in BUILDING_COLUMNS]
    per_building = per_building[cols]
    return SettlementReport(
        contract_code=terms.code,
        season=season,
        month=month,
        period_from=first,
        period_to=last,
        dju_method=terms.dju_method,
        dju_base_c=terms.dju_base_c,
        station_code=terms.station_code,
        price_eur_per_mwh_pci=terms.price_eur_per_mwh_pci,
        kind=terms.kind,
        buildings=per_building,
        months=per_month,
        total=_total(per_building, terms),
        ledger=_ledger_frame(terms, ledger),
        season_complete=complete,
    )


def _total(per_building: pd.DataFrame, terms: ContractTerms) -> dict:
    """Sums of MWh and euros over the buildings; DJU only when all buildings share it."""
    if not len(per_building):
        return {
            "actual_mwh_pci": 0.0,
            "target_mwh_pci": 0.0,
            "gap_mwh": 0.0,
            "gap_pct": None,
            "bonus_eur": Decimal("0.00"),
            "penalty_eur": Decimal("0.00"),
            "days_missing": 0,
            "dju": None,
            "dju_ref": None,
            "alerts": [],
        }
    target = float(per_building["target_mwh_pci"].sum())
    gap = float(per_building["gap_mwh"].sum())
    dju = per_building["dju"].unique()
    dju_ref = per_building["dju_ref"].unique()
    alerts = sorted({a for row in per_building["alerts"] for a in row})
    return {
        "actual_mwh_pci": float(per_building["actual_mwh_pci"].sum()),
        "qt_mwh_pci": float(per_building["qt_mwh_pci"].sum()),
        "ecs_mwh_pci": float(per_building["ecs_mwh_pci"].sum()),
        "reference_mwh_pci": float(per_building["reference_mwh_pci"].sum()),
        "nb_mwh_pci": float(per_building["nb_mwh_pci"].sum()),
        "target_mwh_pci": target,
        "gap_mwh": gap,
        "gap_pct": gap / target * 100.0 if target else None,
        "bonus_eur": sum(per_building["bonus_eur"], Decimal("0.00")),
        "penalty_eur": sum(per_building["penalty_eur"], Decimal("0.00")),
        "days_missing": int(per_building["days_missing"].sum()),
        "days_estimated": int(per_building["days_estimated"].sum()),
        "dju": float(dju[0]) if len(dju) == 1 else None,
        "dju_ref": float(dju_ref[0]) if len(dju_ref) == 1 else None,
        "alerts": alerts,
    }
