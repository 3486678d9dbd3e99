"""Meter replacements revealed by an index file.

A drop of an index channel is one of three things:
- a rollover when the channel has a `modulus` and the wrapped difference is small
  (`value - previous + modulus < modulus / 10`): the store adds the modulus;
- a meter replacement when the file says so (GRDF: a start index below the previous end
  index) or when the new value is at most half the previous one: the reading is flagged `Quality.RESET`,
  an `index_reset` row closes the old index at the previous reading and opens the new one at
  its start index (0 for a new meter when the file does not say), and a `meter_change`
  logbook entry records both values;
- otherwise an unexplained drop: stored as is, the store gives no consumption (never a
  negative one) across it, and the batch summary names it.
Decided before the upsert so that re-importing the same file flags the same readings.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, text

from carnet.models import IndexReset, LogbookEntry, Quality
from carnet.timeutil import fr_date
from ingest.routing import Routing


def _num(x: float) -> str:
    return f"{x:,.3f}".rstrip("0").rstrip(".").replace(",", "\u202f").replace(".", ",")


def mark_meter_changes(
    conn: Connection, frame: pd.DataFrame, routing: Routing
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Flag replacement readings RESET; return (frame, new resets to record, notes)."""
    ch = routing.channels
    index_ids = ch.index[ch["kind"] == "index"]
    sel = frame["channel_id"].isin(index_ids) & frame["value"].notna()
    empty = pd.DataFrame(columns=["channel_id", "ts", "old_final", "new_start"])
    if not sel.any():
        return frame, empty, []
    sub = frame.loc[sel].sort_values(["channel_id", "ts"])
    prev = sub.groupby("channel_id")["value"].shift(1)
    existing: set[tuple[int, int]] = set()
    for cid, grp in sub.groupby("channel_id"):  # one query per channel and chunk, not per row
        lo, hi = int(grp["ts"].iloc[0]), int(grp["ts"].iloc[-1])
        before = conn.execute(
            text(
                "SELECT value FROM reading WHERE channel_id = :c AND ts < :t"
                " AND value IS NOT NULL ORDER BY ts DESC LIMIT 1"
            ),
            {"c": int(cid), "t": lo},
        ).scalar()
        if before is not None:
            prev.loc[grp.index[0]] = float(before)
        for (t,) in conn.execute(
            text("SELECT ts FROM index_reset WHERE channel_id = :c AND ts >= :a AND ts <= :b"),
            {"c": int(cid), "a": lo, "b": hi},
        ):
            existing.add((int(cid), int(t)))
    value = sub["value"].to_numpy(dtype=float)
    p = prev.to_numpy(dtype=float)
    modulus = sub["channel_id"].map(ch["modulus"]).to_numpy(dtype=float)
    # a format may know the new meter's start index (hint) or know a replacement happened
    hint = (
        sub["reset_new"].to_numpy(dtype=float) if "reset_new" in sub else np.full(len(sub), np.nan)
    )
    force = (
        sub["reset_force"].fillna(False).to_numpy(dtype=bool)
        if "reset_force" in sub
        else np.zeros(len(sub), bool)
    )
    keys = list(zip(sub["channel_id"].to_numpy(), sub["ts"].to_numpy(), strict=True))
    known = np.fromiter(((int(c), int(t)) in existing for c, t in keys), bool, len(keys))
    with np.errstate(invalid="ignore"):
        drop = value < p
        rollover = drop & ~np.isnan(modulus) & ((value - p + modulus) < modulus / 10)
        replaced = ~known & ~np.isnan(p) & (force | (drop & ~rollover & (value <= 0.5 * p)))
        unexplained = drop & ~rollover & ~replaced & ~known
    flag = known | replaced
    frame.loc[sub.index[flag], "quality"] = int(Quality.RESET)
    resets = pd.DataFrame(
        {
            "channel_id": sub["channel_id"].to_numpy()[replaced],
            "ts": sub["ts"].to_numpy()[replaced],
            "old_final": p[replaced],
            "new_start": np.nan_to_num(hint[replaced], nan=0.0),
        }
    )
    notes = [
        f"baisse d'index inexpliquée sur {ch.at[int(c), 'code']} le {_when(t)} "
        f"({_num(a)} → {_num(b)}) : pas de consommation calculée sur cet intervalle"
        for c, t, a, b in zip(
            sub["channel_id"].to_numpy()[unexplained],
            sub["ts"].to_numpy()[unexplained],
            p[unexplained],
            value[unexplained],
            strict=True,
        )
    ]
    return frame, resets, notes


def _when(ts: int) -> str:
    return fr_date(dt.datetime.fromtimestamp(int(ts), dt.UTC))


def record_meter_changes(
    conn: Connection,
    resets: pd.DataFrame,
    routing: Routing,
    source: str,
    batch_id: int,
    user: str | None,
) -> list[str]:
    """Write the index_reset rows and their `meter_change` logbook entries; describe them."""
    out = []
    for row in resets.itertuples(index=False):  # a handful per file at most
        cid, ts = int(row.channel_id), int(row.ts)
        code = routing.channels.at[cid, "code"]
        unit = routing.channels.at[cid, "unit"]
        building = routing.channels.at[cid, "building_id"]
        when = dt.datetime.fromtimestamp(ts, dt.UTC)
        summary = (
            f"changement de compteur sur {code} le {fr_date(when)} : ancien index clos à "
            f"{_num(row.old_final)} {unit}, nouvel index ouvert à {_num(row.new_start)} {unit}"
        )
        entry_id = None
        if building is not None and not pd.isna(building):
            entry_id = conn.execute(
                insert(LogbookEntry.__table__)
                .values(
                    building_id=int(building),
                    occurred_at=when,
                    kind="meter_change",
                    title=f"Changement de compteur {code}",
                    text=(
                        f"Détecté à l'import de {source} (lot n° {batch_id}). Ancien compteur : "
                        f"dernier index {_num(row.old_final)} {unit}. Nouveau compteur : index "
                        f"de départ {_num(row.new_start)} {unit}. La consommation à travers le "
                        "changement est (index final de l'ancien − relevé précédent) + "
                        "(relevé suivant − index de départ du nouveau)."
                    ),
                    author_login=user or "import",
                    status="done",
                    source="import",
                )
                .returning(LogbookEntry.__table__.c.id)
            ).scalar()
        conn.execute(
            insert(IndexReset.__table__).values(
                channel_id=cid,
                ts=ts,
                old_final_value=float(row.old_final),
                new_start_value=float(row.new_start),
                logbook_entry_id=entry_id,
            )
        )
        out.append(summary)
    return out
