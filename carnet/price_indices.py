"""The published values of price indices (PEG, ICHT...), by month: written by an import of a
file `indice;mois;valeur`, read as a frame by the price revision of the contract's lots.

An index file is a few hundred lines: the rows already stored for its indices are read once
and compared in pandas, so that a re-import changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from carnet.models import PriceIndex

COLUMNS = ["name", "month", "value"]
ATOL = 1e-9


@dataclass
class IndexCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_indices(conn: Connection, frame: pd.DataFrame, batch_id: int | None) -> IndexCounts:
    """Store (name, month 'AAAA-MM', value) rows inside the caller's transaction; a value that
    differs from the stored one replaces it (a corrected publication) under this batch."""
    counts = IndexCounts()
    if not len(frame):
        return counts
    new = frame[COLUMNS].drop_duplicates(["name", "month"], keep="last")
    stored = pd.DataFrame(
        conn.execute(
            select(PriceIndex.id, PriceIndex.name, PriceIndex.month, PriceIndex.value).where(
                PriceIndex.name.in_(sorted(set(new["name"])))
            )
        ).all(),
        columns=["id", "name", "month", "stored"],
    )
    both = new.merge(stored, on=["name", "month"], how="left")
    fresh = both["id"].isna().to_numpy()
    stored_value = both["stored"].astype(float).to_numpy()
    same = ~fresh & np.isclose(both["value"].astype(float), stored_value, rtol=0, atol=ATOL)
    changed = ~fresh & ~same
    if fresh.any():
        rows = both[fresh]
        conn.execute(
            insert(PriceIndex),
            [
                {"name": n, "month": m, "value": float(v), "import_batch_id": batch_id}
                for n, m, v in zip(rows["name"], rows["month"], rows["value"], strict=True)
            ],
        )
    if changed.any():
        rows = both[changed]
        conn.execute(
            update(PriceIndex.__table__)
            .where(PriceIndex.__table__.c.id == bindparam("row_id"))
            .values(value=bindparam("new_value"), import_batch_id=batch_id),
            [
                {"row_id": int(i), "new_value": float(v)}
                for i, v in zip(rows["id"], rows["value"], strict=True)
            ],
        )
    counts.inserted, counts.updated = int(fresh.sum()), int(changed.sum())
    counts.unchanged = int(same.sum()) + (len(frame) - len(new))
    return counts


def index_frame(engine: Engine, names=None) -> pd.DataFrame:
    """name, month ('AAAA-MM'), value (float) of the stored indices (all, or those named)."""
    query = select(PriceIndex.name, PriceIndex.month, PriceIndex.value).order_by(
        PriceIndex.name, PriceIndex.month
    )
    if names is not None:
        query = query.where(PriceIndex.name.in_(sorted(set(names))))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["value"] = frame["value"].astype(float)
    return frame
