"""What the statements of a connection read back from `reading`, seen from the engine: the
rows each SELECT on the table returns (counted by running it again inside a COUNT) and its
plan, so that a test can state that a write costs a few rows per channel through the
(channel_id, ts) key whatever the size of the table."""

from __future__ import annotations

import re

from sqlalchemy import event

_READS = re.compile(r"^\s*SELECT\b.*\b(FROM|JOIN)\s+reading\b(?!_)", re.IGNORECASE | re.DOTALL)
_SCAN = re.compile(r"\bSCAN (r|reading)\b|\b(r|reading) USING AUTOMATIC", re.IGNORECASE)  # SQLite
# PostgreSQL: a sequential scan of the table or of a partition holding rows (an empty,
# never analysed partition is planned at cost 0 and pruned when the statement runs)
_SEQ = re.compile(r"Seq Scan on reading\w* \w+\s+\(cost=[\d.]+\.\.([\d.]+)")


class ReadingReads:
    """Listens on `engine` until `close`: `rows` returned by the SELECTs on `reading`,
    `statements` run, `log` (rows, statement) of each, `scans` the plans that read the table whole."""

    def __init__(self, engine):
        self.engine = engine
        self.rows = 0
        self.statements = 0
        self.scans: list[str] = []
        self.log: list[tuple[int, str]] = []  # (rows, statement)
        event.listen(engine, "after_cursor_execute", self._seen)

    def close(self) -> None:
        event.remove(self.engine, "after_cursor_execute", self._seen)

    def __enter__(self) -> ReadingReads:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if executemany or not _READS.match(statement):
            return
        sqlite = conn.dialect.name == "sqlite"
        cur = conn.connection.driver_connection.cursor()
        try:
            cur.execute(f"SELECT COUNT(*) FROM ({statement}) AS counted", parameters)
            n = int(cur.fetchone()[0])
            cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
            plan = "\n".join(str(r[-1] if sqlite else r[0]) for r in cur.fetchall())
        finally:
            cur.close()
        self.rows += n
        self.statements += 1
        self.log.append((n, statement))
        if _SCAN.search(plan) or any(float(c) > 0 for c in _SEQ.findall(plan)):
            self.scans.append(f"{statement}\n{plan}")
