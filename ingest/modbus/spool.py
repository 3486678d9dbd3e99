"""The local spool: readings kept on disk while the database is unreachable, replayed oldest first."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd


class Spool:
    """Readings kept on local disk while the database is unreachable, replayed oldest first."""

    COLUMNS = ["channel_id", "ts", "value", "quality"]

    def __init__(self, directory: Path):
        self.dir = directory
        self._seq = 0

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("*.csv"))

    def put(self, frame: pd.DataFrame) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = self.dir / f"{time.time_ns():020d}-{self._seq:06d}.csv"
        tmp = path.with_suffix(".part")
        frame[self.COLUMNS].to_csv(tmp, index=False, na_rep="")
        tmp.replace(path)  # a reader never sees half a file
        return path

    @classmethod
    def read(cls, path: Path) -> pd.DataFrame:
        return pd.read_csv(path, dtype={"channel_id": "int64", "ts": "int64", "quality": "int64"})
