"""The terms of a heating contract, frozen, and the calendar of its heating seasons.

The settlement reads only these dataclasses, never the ORM: a figure is a function of the terms
and the data, so it can be recomputed by hand from what `carnet contract show` prints.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

SEASON_RE = re.compile(r"^(\d{4})\s*[-/]\s*(\d{4})$")
# the usual heating season, 1 October to 20 May (MM-DD): the default of every contract
SEASON_START, SEASON_END = "10-01", "05-20"
MONTHS_FR = [
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
]
LOTS = ("p1", "p2", "p3")


@dataclass(frozen=True)
class RevisionTerm:
    """One index of a price revision formula: `weight * I_m / base`."""

    index: str
    weight: float
    base: float


@dataclass(frozen=True)
class PriceRevision:
    """`P = P0 * (fixed + sum(weight * I_m / base))`, fixed + sum(weight) = 1 (CCAP formula)."""

    fixed: float
    terms: tuple[RevisionTerm, ...]

    @property
    def indices(self) -> tuple[str, ...]:
        return tuple(t.index for t in self.terms)


@dataclass(frozen=True)
class BuildingTerms:
    """One building's reference in a contract: NB (MWh PCI) for DJU_ref degree days."""

    building_code: str
    building_name: str
    contract_building_id: int | None
    building_id: int | None
    channel_id: int | None
    nb_mwh_pci: float
    dju_ref: float
    ecs_channel_id: int | None = None
    q_ecs_mwh_per_m3: float | None = None
    station_id: int | None = None
    heated_area_m2: float | None = None
    reference_year: int | None = None
    reference_kwh: float | None = None


@dataclass(frozen=True)
class ContractTerms:
    code: str
    kind: str = "MTI"  # MTI, MCI, CPI, CPE
    season_start: str = SEASON_START
    season_end: str = SEASON_END
    dju_method: str = "costic"
    dju_base_c: float = 18.0
    station_id: int | None = None
    station_code: str | None = None
    price_eur_per_mwh_pci: Decimal = Decimal("0")
    pcs_pci_ratio: float = 1.11
    franchise_pct: float = 0.0
    savings_share_contractor: float = 0.5
    savings_cap_pct: float | None = 15.0
    overrun_share_contractor: float = 1.0
    guaranteed_savings_pct: float | None = None
    nb_revision_pct_one_season: float = 12.0
    nb_revision_pct_two_seasons: float = 8.0
    contractor: str = ""
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    buildings: tuple[BuildingTerms, ...] = field(default_factory=tuple)
    # price revision of the lots (`terms:` of the contract, see price_terms)
    p1_revision: PriceRevision | None = None
    p2_eur_per_month: Decimal | None = None
    p2_revision: PriceRevision | None = None
    p3_eur_per_month: Decimal | None = None
    p3_revision: PriceRevision | None = None

    @property
    def is_cpe(self) -> bool:
        return self.kind.upper() == "CPE" and bool(self.guaranteed_savings_pct)

    @classmethod
    def from_record(cls, record: dict):
        """From the record's raw terms (`carnet.frames.contract_terms`): `contract` (the
        contract's columns), `buildings` (each contract building's columns with its building's
        `building_code`, `building_name`, `building_station_id`, `heated_area_m2`) and
        `station_code`."""
        contract = record["contract"]
        buildings = tuple(
            BuildingTerms(
                building_code=cb["building_code"],
                building_name=cb["building_name"],
                contract_building_id=cb["id"],
                building_id=cb["building_id"],
                channel_id=cb["channel_id"],
                nb_mwh_pci=float(cb["nb_mwh_pci"]),
                dju_ref=float(cb["dju_ref"]),
                ecs_channel_id=cb["ecs_channel_id"],
                q_ecs_mwh_per_m3=cb["q_ecs_mwh_per_m3"],
                station_id=contract["station_id"] or cb["building_station_id"],
                heated_area_m2=cb["heated_area_m2"],
                reference_year=cb["reference_year"],
                reference_kwh=cb["reference_kwh"],
            )
            for cb in sorted(record["buildings"], key=lambda cb: cb["building_code"])
        )
        savings_cap_pct = contract["savings_cap_pct"]
        return cls(
            code=contract["code"],
            kind=contract["kind"] or "MTI",
            season_start=contract["season_start"] or SEASON_START,
            season_end=contract["season_end"] or SEASON_END,
            dju_method=contract["dju_method"] or "costic",
            dju_base_c=float(contract["dju_base_c"]),
            station_id=contract["station_id"],
            station_code=record.get("station_code"),
            price_eur_per_mwh_pci=Decimal(str(contract["price_eur_per_mwh_pci"])),
            pcs_pci_ratio=float(contract["pcs_pci_ratio"]),
            franchise_pct=float(contract["franchise_pct"] or 0.0),
            savings_share_contractor=float(contract["savings_share_contractor"]),
            savings_cap_pct=None if savings_cap_pct is None else float(savings_cap_pct),
            overrun_share_contractor=float(contract["overrun_share_contractor"]),
            guaranteed_savings_pct=contract["guaranteed_savings_pct"],
            nb_revision_pct_one_season=float(contract["nb_revision_pct_one_season"]),
            nb_revision_pct_two_seasons=float(contract["nb_revision_pct_two_seasons"]),
            contractor=contract["contractor"],
            starts_on=contract["starts_on"],
            ends_on=contract["ends_on"],
            buildings=buildings,
            **price_terms(contract["terms"] or {}),
        )


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"{where} : nombre attendu, pas « {value} »")
    try:
        return float(str(value).replace(",", ".").strip())
    except ValueError:
        raise ValueError(f"{where} : nombre attendu, pas « {value} »") from None


def parse_revision(raw, where: str) -> PriceRevision:
    """`{fixed: a, terms: [{index: NAME, weight: b, base: I0}, ...]}` of the contract's terms;
    a formula whose weights do not add up to 1 is refused: it would not revise, it would move
    the price."""
    if not isinstance(raw, dict) or "fixed" not in raw or not isinstance(raw.get("terms"), list):
        raise ValueError(
            f"{where} : attendu {{fixed: a, terms: [{{index: NOM, weight: b, base: I0}}, ...]}}"
        )
    fixed = _number(raw["fixed"], f"{where}.fixed")
    terms = []
    for i, t in enumerate(raw["terms"]):
        at = f"{where}.terms[{i}]"
        if not isinstance(t, dict) or not str(t.get("index") or "").strip():
            raise ValueError(f"{at} : attendu {{index: NOM, weight: b, base: I0}}")
        base = _number(t.get("base"), f"{at}.base")
        if base <= 0:
            raise ValueError(
                f"{at}.base : valeur de base de l'indice {t['index']} nulle ou négative"
            )
        terms.append(
            RevisionTerm(str(t["index"]).strip(), _number(t.get("weight"), f"{at}.weight"), base)
        )
    total = fixed + sum(t.weight for t in terms)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"{where} : la partie fixe et les poids font {total:.4f}".replace(".", ",")
            + ", ils doivent faire 1"
        )
    return PriceRevision(fixed, tuple(terms))


def price_terms(terms: dict) -> dict:
    """The lots' revision terms among a contract's free terms: `p1_revision`, `p2_eur_per_month`
    and `p2_revision`, `p3_eur_per_month` and `p3_revision`; ValueError names a malformed one."""
    out: dict = {}
    if not isinstance(terms, dict):
        return out
    for lot in LOTS:
        if terms.get(f"{lot}_revision") is not None:
            out[f"{lot}_revision"] = parse_revision(terms[f"{lot}_revision"], f"{lot}_revision")
        key = f"{lot}_eur_per_month"
        if lot != "p1" and terms.get(key) is not None:
            amount = Decimal(str(_number(terms[key], key)))
            if amount < 0:
                raise ValueError(f"{key} : montant négatif")
            out[key] = amount
    if "p2_revision" in out and "p2_eur_per_month" not in out:
        raise ValueError("p2_revision sans p2_eur_per_month : le prix de base P2 manque")
    if "p3_revision" in out and "p3_eur_per_month" not in out:
        raise ValueError("p3_revision sans p3_eur_per_month : le prix de base P3 manque")
    return out


def month_label(month) -> str:
    """'2026-01' → 'janvier 2026'."""
    p = pd.Period(month, "M")
    return f"{MONTHS_FR[p.month - 1]} {p.year}"


def parse_season(season: str) -> int:
    """'2025-2026' → 2025 (the year the season starts)."""
    m = SEASON_RE.match(season.strip())
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise ValueError(f"saison illisible « {season} » (attendu AAAA-AAAA, ex. 2025-2026)")
    return int(m.group(1))


def season_label(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


def season_of_month(month: str, season_start: str = SEASON_START) -> str:
    """'2026-01' → '2025-2026' for a season starting in October."""
    period = pd.Period(month, "M")
    start_month = int(season_start.split("-")[0])
    year = period.year if period.month >= start_month else period.year - 1
    return season_label(year)


def season_bounds(
    season: str, start: str = SEASON_START, end: str = SEASON_END
) -> tuple[dt.date, dt.date]:
    """Inclusive local dates of a season, e.g. 2025-10-01..2026-05-20 for '2025-2026'."""
    year = parse_season(season)
    sm, sd = (int(x) for x in start.split("-"))
    em, ed = (int(x) for x in end.split("-"))
    first = dt.date(year, sm, sd)
    last = dt.date(year + 1 if (em, ed) < (sm, sd) else year, em, ed)
    return first, last


def previous_season(season: str) -> str:
    return season_label(parse_season(season) - 1)


def settlement_window(terms: ContractTerms, season: str) -> tuple[dt.date, dt.date]:
    """The local days a season's settlement reads: the season and the one before it (the
    two-season NB-revision alert compares them)."""
    first, _ = season_bounds(previous_season(season), terms.season_start, terms.season_end)
    _, last = season_bounds(season, terms.season_start, terms.season_end)
    return first, last


def season_days(season: str, start: str = SEASON_START, end: str = SEASON_END) -> pd.DatetimeIndex:
    first, last = season_bounds(season, start, end)
    return pd.date_range(first, last, freq="D", name="day")


def season_months(season: str, start: str = SEASON_START, end: str = SEASON_END) -> pd.PeriodIndex:
    """The calendar months a season touches (October..May for the usual dates)."""
    first, last = season_bounds(season, start, end)
    return pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M", name="month")


def season_of(days, start: str = SEASON_START, end: str = SEASON_END) -> pd.Series:
    """Season label of each local day, or None outside the heating season."""
    idx = pd.DatetimeIndex(days)
    sm, sd = (int(x) for x in start.split("-"))
    em, ed = (int(x) for x in end.split("-"))
    md = idx.month * 100 + idx.day
    s_key, e_key = sm * 100 + sd, em * 100 + ed
    wraps = e_key < s_key
    in_season = ((md >= s_key) | (md <= e_key)) if wraps else ((md >= s_key) & (md <= e_key))
    start_year = idx.year - ((md < s_key) if wraps else 0)
    years = pd.Series(np.asarray(start_year), index=idx)
    labels = years.astype(str) + "-" + (years + 1).astype(str)
    return labels.astype(object).where(np.asarray(in_season), None)
