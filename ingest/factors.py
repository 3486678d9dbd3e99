"""Conversion coefficients of an import: a row where the coefficient changes (valid_from),
with what a revert of the batch restores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, text, update

from carnet import batches
from carnet.models import ConversionFactor


def record_factors(
    conn, factors: pd.DataFrame, batch_id: int, user: str | None
) -> list[pd.DataFrame]:
    """Keep a row where the coefficient changes (valid_from); returns the spans touched per
    channel (their daily rollups need a refresh)."""
    touched: list[pd.DataFrame] = []
    for cid, grp in factors.sort_values(["channel_id", "valid_from"]).groupby("channel_id"):
        grp = grp.dropna(subset=["kwh_per_unit"])
        if not len(grp):
            continue
        first = grp["valid_from"].iloc[0]
        in_force = conn.execute(
            text(
                "SELECT kwh_per_unit FROM conversion_factor WHERE channel_id = :c"
                " AND valid_from <= :d ORDER BY valid_from DESC LIMIT 1"
            ),
            {"c": int(cid), "d": first},
        ).scalar()
        k = grp["kwh_per_unit"].to_numpy(dtype=float)
        prev = np.concatenate([[np.nan if in_force is None else float(in_force)], k[:-1]])
        change = ~np.isclose(k, prev, rtol=0, atol=1e-9)
        for day, value in zip(grp["valid_from"][change], k[change], strict=True):
            existing = conn.execute(
                select(ConversionFactor.kwh_per_unit, ConversionFactor.batch_id).where(
                    ConversionFactor.channel_id == int(cid),
                    ConversionFactor.valid_from == day,
                )
            ).first()
            batches.record_factor_change(  # what a revert of this batch restores
                conn, cid, day, value, batch_id, existing, user
            )
            if existing is None:
                conn.execute(
                    insert(ConversionFactor.__table__).values(
                        channel_id=int(cid),
                        valid_from=day,
                        kwh_per_unit=float(value),
                        batch_id=batch_id,
                    )
                )
            else:
                conn.execute(
                    update(ConversionFactor.__table__)
                    .where(
                        ConversionFactor.channel_id == int(cid),
                        ConversionFactor.valid_from == day,
                    )
                    .values(kwh_per_unit=float(value), batch_id=batch_id)
                )
        # a day whose coefficient equals the one in force needs no row; a stale row there
        # (from an earlier, wrong file) would be corrected by the change rows above
        touched.append(
            pd.DataFrame(
                {
                    "channel_id": [int(cid)],
                    "min": [int(pd.Timestamp(grp["valid_from"].min()).timestamp())],
                    "max": [int(pd.Timestamp(grp["valid_from"].max()).timestamp()) + 86400],
                }
            )
        )
    return touched
