"""Where the season in progress is heading: its result in euros at the end of the season, if
the rest of it has normal weather, and the range over the weather of the past seasons.

The contractor acts during the season, not after its settlement: a projection says whether the
gap to date is on its way to a bonus or a penalty. Its assumptions are stated with the figures:

- the weather of the rest of the season (the days after `as_of` up to the season's end) is
  "normal": for each calendar day, the mean DJU of that day over the station's past seasons in
  the record; the range replaces it by the weather each past season had on the same days;
- each building keeps consuming what it consumed per DJU since the season started (the
  contract's own model: consumption proportional to the degree days); a building with no DJU
  yet is assumed on its reference;
- the corrected target of the rest is the reference ratio of the terms (NB / DJU_ref, with the
  non-routine adjustment in force at `as_of`) times those DJU.

The clause is the settlement's (`contract.settlement.sharing_clause`, `to_eur`), applied to each
projected season total: franchise and cap are not additive, so the rest cannot be settled apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from contract.settlement import sharing_clause, to_eur
from contract.terms import ContractTerms, season_of

# columns the per-building input must carry
TO_DATE_COLUMNS = (
    "building_code",
    "station_id",
    "actual_mwh_pci",  # NC since the season started
    "reference_mwh_pci",  # N'B since the season started
    "dju",  # degree days since the season started
    "mwh_pci_per_dju",  # the reference ratio of the terms for the rest of the season
)
NORMAL = "normale"


@dataclass
class Projection:
    """Per building (and in `total`): the projected season with normal weather, and the lowest
    and highest result over the past seasons' weather. `result_eur` is what the contractor
    gets (bonus, > 0) or pays (penalty, < 0)."""

    as_of: dt.date
    season_last: dt.date
    days_remaining: int
    seasons: list[str]  # the past seasons of the record behind the normal and the range
    dju_rest: dict[int, dict]  # station id -> {normal, low, high} DJU of the rest
    buildings: pd.DataFrame
    total: dict
    assumptions_fr: list[str] = field(default_factory=list)


def _month_day(days: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(days.month * 100 + days.day)


def rest_of_season_dju(
    history: pd.DataFrame, terms: ContractTerms, as_of: dt.date, season_last: dt.date
) -> tuple[pd.DataFrame, list[str]]:
    """DJU of the days after `as_of` up to `season_last`, per station and scenario: the normal
    (mean of each calendar day over the past seasons) and each past season complete on those
    days. `history`: station_id, day, dju (NaN or absent when unknown). Returns a frame indexed
    by scenario (NORMAL first, then the seasons) with one column per station."""
    rest = pd.date_range(as_of + dt.timedelta(days=1), season_last, freq="D")
    current = season_of(pd.DatetimeIndex([pd.Timestamp(as_of)]), terms.season_start,
                        terms.season_end).iloc[0]  # fmt: skip
    days = pd.DatetimeIndex(pd.to_datetime(history["day"]))
    label = season_of(days, terms.season_start, terms.season_end).to_numpy()
    wanted = np.isin(_month_day(days), _month_day(rest))
    past = pd.notna(label) & (label != current)
    keep = wanted & past & history["dju"].notna().to_numpy()
    frame = pd.DataFrame(
        {
            "station_id": history["station_id"].to_numpy()[keep],
            "season": label[keep],
            "md": _month_day(days)[keep],
            "dju": history["dju"].to_numpy(dtype=float)[keep],
        }
    )
    stations = sorted(set(history["station_id"].dropna().astype(int)))
    if not len(rest):
        return pd.DataFrame(0.0, index=[NORMAL], columns=stations), []
    normal = frame.groupby(["station_id", "md"])["dju"].mean().groupby(level=0).sum()
    rest_md = pd.Series(_month_day(rest))
    # a season stands for the rest when it has every day of it (29 February excepted)
    needed = int((rest_md != 229).sum())
    counts = frame[frame["md"] != 229].groupby(["season", "station_id"])["dju"].count()
    sums = frame.groupby(["season", "station_id"])["dju"].sum()
    per_season = sums.where(counts.reindex(sums.index).fillna(0) >= needed).unstack("station_id")
    per_season = per_season.reindex(columns=stations).dropna(how="any").sort_index()
    if not len(per_season):
        return pd.DataFrame(columns=stations, dtype=float), []
    normal_row = normal.reindex(stations).to_frame(NORMAL).T
    return pd.concat([normal_row, per_season]), [str(s) for s in per_season.index]


def _net_eur(bonus_mwh: np.ndarray, penalty_mwh: np.ndarray, price: Decimal) -> np.ndarray:
    """bonus - penalty in euros, each rounded to the cent the way the settlement does."""
    flat = [
        to_eur(b, price) - to_eur(p, price)
        for b, p in zip(bonus_mwh.ravel(), penalty_mwh.ravel(), strict=True)
    ]  # a few seasons x a few buildings
    return np.array(flat, dtype=object).reshape(bonus_mwh.shape)


def project_season(
    terms: ContractTerms,
    to_date: pd.DataFrame,
    history: pd.DataFrame,
    as_of: dt.date,
    season_last: dt.date,
) -> Projection | None:
    """The projection of each building of `to_date` (`TO_DATE_COLUMNS`) and of their total, or
    None when the station's record has no complete past season for the rest of this one."""
    days_remaining = max(0, (season_last - as_of).days)
    if days_remaining:
        scenarios, seasons = rest_of_season_dju(history, terms, as_of, season_last)
        if not len(scenarios):
            return None
    else:  # the season is over: the projection is its settlement
        stations = sorted(set(to_date["station_id"]))
        scenarios, seasons = pd.DataFrame(0.0, index=[NORMAL], columns=stations), []
    codes = to_date["building_code"].to_numpy()
    station = to_date["station_id"].to_numpy()
    # DJU of the rest: scenario x building
    rest = scenarios.reindex(columns=station).to_numpy(dtype=float)
    actual = to_date["actual_mwh_pci"].to_numpy(dtype=float)
    reference = to_date["reference_mwh_pci"].to_numpy(dtype=float)
    dju = to_date["dju"].to_numpy(dtype=float)
    ratio = to_date["mwh_pci_per_dju"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_dju = np.where(dju > 0, actual / dju, ratio)  # no DJU yet: on its reference
    proj_reference = reference + ratio * rest
    proj_actual = actual + per_dju * rest
    clause = sharing_clause(
        proj_reference.ravel(),
        proj_actual.ravel(),
        terms.franchise_pct,
        terms.savings_share_contractor,
        terms.savings_cap_pct,
        terms.overrun_share_contractor,
        terms.guaranteed_savings_pct if terms.is_cpe else None,
    )
    shape = proj_reference.shape

    def grid(col: str) -> np.ndarray:
        return clause[col].to_numpy().reshape(shape)

    net = _net_eur(grid("bonus_mwh"), grid("penalty_mwh"), terms.price_eur_per_mwh_pci)
    # the range: over the past seasons (none left to vary on the last day: the result itself)
    past, labels = (net[1:], seasons) if seasons else (net[:1], [None])
    low_i = np.argmin(past.astype(float), axis=0)
    high_i = np.argmax(past.astype(float), axis=0)
    cols = np.arange(len(codes))
    buildings = pd.DataFrame(
        {
            "building_code": codes,
            "dju_rest": rest[0],
            "projected_actual_mwh_pci": proj_actual[0],
            "projected_reference_mwh_pci": proj_reference[0],
            "projected_target_mwh_pci": grid("target_mwh_pci")[0],
            "projected_gap_mwh": grid("gap_mwh")[0],
            "projected_gap_pct": grid("gap_pct")[0],
            "in_franchise": grid("in_franchise")[0],
            "result_eur": net[0],
            "low_eur": past[low_i, cols],
            "low_season": np.asarray(labels, dtype=object)[low_i],
            "high_eur": past[high_i, cols],
            "high_season": np.asarray(labels, dtype=object)[high_i],
        }
    )
    totals = net.sum(axis=1)  # the contract's result: the sum of its buildings' euros
    past_totals = (totals[1:] if seasons else totals[:1]).astype(float)
    past_totals_eur = totals[1:] if seasons else totals[:1]
    target = grid("target_mwh_pci")[0]
    total = {
        "projected_actual_mwh_pci": float(proj_actual[0].sum()),
        "projected_target_mwh_pci": float(target.sum()),
        "projected_gap_mwh": float(grid("gap_mwh")[0].sum()),
        "result_eur": totals[0],
        "low_eur": past_totals_eur[int(np.argmin(past_totals))],
        "low_season": labels[int(np.argmin(past_totals))],
        "high_eur": past_totals_eur[int(np.argmax(past_totals))],
        "high_season": labels[int(np.argmax(past_totals))],
    }
    dju_rest = {
        int(sid): {
            "normal": float(scenarios.loc[NORMAL, sid]),
            "low": float(scenarios[sid].min() if not seasons else scenarios[sid].iloc[1:].min()),
            "high": float(scenarios[sid].max() if not seasons else scenarios[sid].iloc[1:].max()),
        }
        for sid in scenarios.columns
    }
    return Projection(
        as_of=as_of,
        season_last=season_last,
        days_remaining=days_remaining,
        seasons=seasons,
        dju_rest=dju_rest,
        buildings=buildings,
        total=total,
        assumptions_fr=_assumptions(as_of, season_last, seasons, dju_rest),
    )


def _assumptions(as_of, season_last, seasons, dju_rest) -> list[str]:
    def n(x: float) -> str:
        return f"{x:.0f}"

    if not seasons:
        return [f"Saison terminée le {season_last:%d/%m/%Y} : le résultat est son décompte."]

    span = seasons[0] if len(seasons) == 1 else f"{seasons[0]} à {seasons[-1]}"
    normal = " ; ".join(n(d["normal"]) for d in dju_rest.values())
    lows = " ; ".join(f"{n(d['low'])} à {n(d['high'])}" for d in dju_rest.values())
    return [
        f"Météo normale du {as_of + dt.timedelta(days=1):%d/%m/%Y} au {season_last:%d/%m/%Y} :"
        f" moyenne des DJU de chaque jour sur les saisons {span} de la station"
        f" ({len(seasons)} saison{'s' if len(seasons) > 1 else ''}), soit {normal} DJU.",
        "Chaque bâtiment garde la consommation par DJU observée depuis le début de la saison.",
        f"Fourchette : le reste de la saison avec la météo de chaque saison passée ({lows} DJU).",
    ]
