"""PostgreSQL COPY in BINARY format, the payload built by numpy.

A text COPY makes pandas format every number (`to_csv`, the larger part of the write of an
import) and the server parse it back. In binary, each row is a fixed layout of big-endian
fields (int16 field count, then per field an int32 length and the value), so whole columns
are laid out at once as one structured array. A NULL field is a length of -1 with no value:
its row has another layout, so rows are grouped by which fields are NULL (a NaN value, or a
column given as None), each group one structured array; the order of rows within a COPY does
not matter to the table.

    with cur.copy("COPY t (a, b) FROM STDIN (FORMAT binary)") as copy:
        copy.write(binary_payload([("int4", a), ("float8", b)]))
"""

from __future__ import annotations

import numpy as np

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
_TRAILER = np.array([-1], dtype=">i2").tobytes()
# the binary forms of the server types used here: int2, int4, int8, float8
PG_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8"}


def _nulls(pg_type: str, values) -> np.ndarray | bool:
    """Where a column is NULL: all of it (None), NaN of a float column, nowhere else."""
    if values is None:
        return True
    if pg_type == "float8":
        return np.isnan(np.asarray(values, dtype="float64"))
    return False


def binary_payload(columns: list[tuple[str, object]]) -> bytes:
    """The whole COPY BINARY stream (signature, rows, trailer) of `columns`, each
    (server type, values): an array of the rows' values, a scalar shared by all rows, or None
    for NULL in every row. Integer values out of the type's range raise OverflowError
    instead of wrapping."""
    n = max((np.size(v) for _, v in columns if v is not None and np.ndim(v)), default=0)
    nulls = [np.broadcast_to(_nulls(t, v), (n,)) for t, v in columns]
    pattern = np.zeros(n, dtype="int64")
    for j, mask in enumerate(nulls):
        pattern |= mask.astype("int64") << j
    parts = [_SIGNATURE]
    kinds = np.unique(pattern) if n else []
    for p in kinds:
        rows = np.flatnonzero(pattern == p) if len(kinds) > 1 else np.s_[:]
        parts.append(_rows(columns, int(p), rows, n))
    parts.append(_TRAILER)
    return b"".join(parts)


def _rows(columns, pattern: int, rows, n: int) -> bytes:
    """The rows of one NULL pattern (bit j: column j is NULL), as one structured array."""
    fields = [("count", ">i2")]
    for j, (pg_type, _) in enumerate(columns):
        fields.append((f"len{j}", ">i4"))
        if not pattern >> j & 1:
            fields.append((f"val{j}", PG_TYPES[pg_type]))
    count = n if isinstance(rows, slice) else len(rows)
    out = np.empty(count, dtype=np.dtype(fields))
    out["count"] = len(columns)
    for j, (pg_type, values) in enumerate(columns):
        if pattern >> j & 1:
            out[f"len{j}"] = -1
            continue
        dtype = np.dtype(PG_TYPES[pg_type])
        out[f"len{j}"] = dtype.itemsize
        col = np.broadcast_to(np.asarray(values), (n,))[rows]
        if dtype.kind == "i":
            info = np.iinfo(dtype)
            col = np.asarray(col, dtype="int64")
            if len(col) and (col.min() < info.min or col.max() > info.max):
                raise OverflowError(f"valeur hors de la plage de {pg_type}")
        out[f"val{j}"] = col
    return out.tobytes()
