"""The published values of price indices (PEG, ICHT...), by month: written by an import of a
file `indice;mois;valeur`, read as a frame by the price revision of the contract's lots.

An index file is a few hundred lines: the rows already stored for its indices are read once
and compared in pandas, so that a re-import changes nothing and says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from carnet.models import AuditEvent, ImportBatch, PriceIndex

COLUMNS = ["name", "month", "value"]
ENTITY = "price_index"
ATOL = 1e-9


@dataclass
class IndexCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_indices(
    conn: Connection, frame: pd.DataFrame, batch_id: int | None, actor: str | None = None
) -> IndexCounts:
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
        stored_batch = dict(
            conn.execute(
                select(PriceIndex.id, PriceIndex.import_batch_id).where(
                    PriceIndex.id.in_([int(i) for i in rows["id"]])
                )
            ).all()
        )
        now = dt.datetime.now(dt.UTC)
        conn.execute(  # what a revert of this batch restores (carnet.batches.revert_batch)
            insert(AuditEvent.__table__),
            [
                {
                    "at": now,
                    "actor": actor or "import",
                    "action": "update",
                    "entity": ENTITY,
                    "entity_id": f"{n}:{m}",
                    "before": {"value": float(old), "batch_id": stored_batch.get(int(i))},
                    "after": {"value": float(v), "batch_id": batch_id},
                }
                for i, n, m, old, v in zip(
                    rows["id"], rows["name"], rows["month"], rows["stored"], rows["value"],
                    strict=True,
                )
            ],
        )  # fmt: skip
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


def revert_indices(conn: Connection, batch_id: int) -> tuple[int, str | None]:
    """Undo what batch `batch_id` wrote: delete the values it created, restore those it
    replaced. Returns (values undone, None), or (0, reason) when a later batch replaced one of
    its values (that one must be reverted first)."""
    mine = conn.execute(
        select(PriceIndex.id, PriceIndex.name, PriceIndex.month).where(
            PriceIndex.import_batch_id == batch_id
        )
    ).all()
    events = conn.execute(
        select(AuditEvent.entity_id, AuditEvent.before, AuditEvent.after)
        .where(AuditEvent.entity == ENTITY)
        .order_by(AuditEvent.id)
    ).all()
    replaced: dict[str, dict] = {}
    later = set()
    for key, before, after in events:
        before, after = before or {}, after or {}
        if after.get("batch_id") == batch_id:
            replaced.setdefault(key, before)  # the value before this batch's first change
        elif before.get("batch_id") == batch_id and after.get("batch_id") is not None:
            later.add(int(after["batch_id"]))
    if later:  # those reverted since gave the values back
        batches = ImportBatch.__table__
        later = set(
            conn.execute(
                select(batches.c.id).where(
                    batches.c.id.in_(sorted(later)), batches.c.status != "reverted"
                )
            ).scalars()
        )
    if later:
        names = ", ".join(f"n° {b}" for b in sorted(later))
        return 0, f"le lot {names} a remplacé des valeurs d'indice de ce lot ; annulez-le d'abord"
    table = PriceIndex.__table__
    for row_id, name, month in mine:
        before = replaced.get(f"{name}:{month}")
        if before is None:
            conn.execute(table.delete().where(table.c.id == row_id))
        else:
            conn.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(value=before["value"], import_batch_id=before.get("batch_id"))
            )
    return len(mine), None


def index_frame(bind: Engine | Connection, names=None) -> pd.DataFrame:
    """name, month ('AAAA-MM'), value (float) of the stored indices (all, or those named); on
    a connection, inside its transaction (a close compares what it read with what is stored)."""
    query = select(PriceIndex.name, PriceIndex.month, PriceIndex.value).order_by(
        PriceIndex.name, PriceIndex.month
    )
    if names is not None:
        query = query.where(PriceIndex.name.in_(sorted(set(names))))
    if isinstance(bind, Connection):
        rows = bind.execute(query).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["value"] = frame["value"].astype(float)
    return frame
