"""Meter replacements declared by an index file.

A drop of an index channel is decided by `ingest.plausibility` before this runs:
- a rollover (previous value near the modulus, wrapped increment plausible): accepted, the
  store adds the modulus;
- a declared meter replacement: an `index_reset` already recorded at that instant (declared
  by a person with `carnet meter replace` or from the quarantine), or a file that says so
  (GRDF: a start index below the previous end index, column `reset_force`): the reading is
  flagged `Quality.RESET`; for a file's declaration an `index_reset` row closes the old index
  at the previous accepted reading and opens the new one at its start index (`reset_new`, 0
  when the file does not say), and a `meter_change` logbook entry records both values;
- any other drop is held in quarantine: nothing here guesses a replacement from the size of
  the drop.
Decided before the upsert so that re-importing the same file flags the same readings.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert

from carnet.kinds import Quality
from carnet.models import IndexReset, LogbookEntry
from carnet.quarantine import fr_num as _num
from carnet.timeutil import fr_date
from ingest.routing import Routing


def mark_meter_changes(
    frame: pd.DataFrame, routing: Routing
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Flag declared replacement readings RESET; return (frame, new resets to record, notes).

    `frame` is the accepted output of `ingest.plausibility.check`: its `prev_value` (the
    accepted reading before each row) and `reset_known` (an index_reset at that instant)."""
    empty = pd.DataFrame(columns=["channel_id", "ts", "old_final", "new_start"])
    ch = routing.channels
    index_ids = ch.index[ch["kind"] == "index"]
    sel = frame["channel_id"].isin(index_ids) & frame["value"].notna()
    if not sel.any() or "prev_value" not in frame:
        return frame, empty, []
    sub = frame.loc[sel]
    p = sub["prev_value"].to_numpy(dtype=float)
    known = sub["reset_known"].fillna(False).to_numpy(dtype=bool)
    hint = (
        sub["reset_new"].to_numpy(dtype=float) if "reset_new" in sub else np.full(len(sub), np.nan)
    )
    force = (
        sub["reset_force"].fillna(False).to_numpy(dtype=bool)
        if "reset_force" in sub
        else np.zeros(len(sub), bool)
    )
    replaced = ~known & ~np.isnan(p) & force
    frame.loc[sub.index[known | replaced], "quality"] = int(Quality.RESET)
    resets = pd.DataFrame(
        {
            "channel_id": sub["channel_id"].to_numpy()[replaced],
            "ts": sub["ts"].to_numpy()[replaced],
            "old_final": p[replaced],
            "new_start": np.nan_to_num(hint[replaced], nan=0.0),
        }
    )
    return frame, resets, []


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
                        f"Déclaré par le fichier {source} (lot n° {batch_id}). Ancien compteur : "
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
