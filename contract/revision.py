"""Revised prices of the lots (P1, P2, P3), month by month, from the indices' published values.

`P_m = P0 * (a + sum_i(b_i * I_i,m / I_i,0))` with `I_i,m` the latest value of index `i`
published for a month up to month m: an index published late (or not yet) is read at its last
known month, and the result says which month that was, so that the finance service can tell a
provisional price from a final one. An index with no value at all up to the month is an error
naming it: a zero would silently cut the price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from contract.terms import PriceRevision, month_label

LOT_LABELS = {"p1": "P1", "p2": "P2", "p3": "P3"}
INDEX_COLUMNS = ["name", "month", "value"]  # the record's price_index rows, month 'AAAA-MM'


class MissingIndexError(ValueError):
    """A revision term whose index has no published value up to the billed month."""


@dataclass(frozen=True)
class RevisedPrices:
    """`prices`: month, factor, price (Decimal), stale (an index read at an earlier month);
    `used`: one row per month and index term: the value read and the month it was published for."""

    lot: str
    prices: pd.DataFrame
    used: pd.DataFrame


def index_values_used(indices: pd.DataFrame, name: str, months: pd.PeriodIndex) -> pd.DataFrame:
    """For each month, the latest value of `name` published for that month or before:
    month, used_month, value (NaN and NaT-like None where nothing is published yet)."""
    own = indices[indices["name"].astype(str).str.casefold() == name.casefold()]
    published = pd.DataFrame(
        {
            "key": pd.PeriodIndex(own["month"].astype(str), freq="M").asi8,
            "used_month": own["month"].astype(str).to_numpy(),
            "value": own["value"].astype(float).to_numpy(),
        }
    ).sort_values("key")
    wanted = pd.DataFrame({"key": months.asi8, "month": months.astype(str)})
    out = pd.merge_asof(wanted.sort_values("key"), published, on="key", direction="backward")
    return out.set_index("key").reindex(months.asi8).reset_index(drop=True)


def revise(
    lot: str,
    base_price: Decimal,
    revision: PriceRevision | None,
    months,
    indices: pd.DataFrame,
    places: int = 4,
) -> RevisedPrices:
    """The lot's price for each month (rounded half-up to `places` decimals); without a
    revision formula, the base price every month."""
    months = pd.PeriodIndex(months, freq="M")
    base = Decimal(str(base_price))
    quantum = Decimal(1).scaleb(-places)
    if revision is None:
        prices = pd.DataFrame(
            {
                "month": months.astype(str),
                "factor": 1.0,
                "price": [base.quantize(quantum, ROUND_HALF_UP)] * len(months),
                "stale": False,
            }
        )
        return RevisedPrices(lot, prices, pd.DataFrame(columns=_USED_COLUMNS))
    factor = np.full(len(months), float(revision.fixed))
    stale = np.zeros(len(months), dtype=bool)
    used = []
    for term in revision.terms:  # a handful of terms, each vectorised over the months
        got = index_values_used(indices, term.index, months)
        missing = got["value"].isna().to_numpy()
        if missing.any():
            first = months[np.flatnonzero(missing)[0]]
            raise MissingIndexError(
                f"indice « {term.index} » manquant (révision {LOT_LABELS.get(lot, lot)}) : "
                f"aucune valeur publiée pour {month_label(first)} ni avant ; importez-la "
                "(carnet import FICHIER --format indices, lignes indice;mois;valeur)"
            )
        factor += term.weight * got["value"].to_numpy() / term.base
        late = (got["used_month"] != got["month"]).to_numpy()
        stale |= late
        used.append(
            pd.DataFrame(
                {
                    "lot": lot,
                    "month": got["month"],
                    "index": term.index,
                    "weight": term.weight,
                    "base": term.base,
                    "used_month": got["used_month"],
                    "value": got["value"],
                    "late": late,
                }
            )
        )
    prices = pd.DataFrame(
        {
            "month": months.astype(str),
            "factor": factor,
            "price": [
                (base * Decimal(repr(round(float(f), 12)))).quantize(quantum, ROUND_HALF_UP)
                for f in factor
            ],
            "stale": stale,
        }
    )
    return RevisedPrices(lot, prices, pd.concat(used, ignore_index=True))


_USED_COLUMNS = ["lot", "month", "index", "weight", "base", "used_month", "value", "late"]


def describe_used(used: pd.DataFrame, month: str) -> str:
    """« PEG janvier 2026 = 30,0 ; ICHT décembre 2025 = 131,2 (dernière valeur publiée) »."""
    rows = used[used["month"] == month]
    parts = [
        f"{LOT_LABELS.get(r['lot'], r['lot'])} {r['index']} {month_label(r['used_month'])} = "
        + f"{r['value']:g}".replace(".", ",")
        + (" (dernière valeur publiée)" if r["late"] else "")
        for r in rows.to_dict("records")
    ]
    return " ; ".join(parts)
