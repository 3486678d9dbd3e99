"""COPY BINARY payloads (carnet.pg_copy): the stream decoded field by field, and on
PostgreSQL the same rows as the text COPY, NULLs, negative and large values included."""

from __future__ import annotations

import io
import struct

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from carnet.pg_copy import binary_payload

_FORMATS = {"int2": ">h", "int4": ">i", "int8": ">q", "float8": ">d"}


def _decode(payload: bytes, types: list[str]) -> list[tuple]:
    """The rows of a COPY BINARY stream, read one field at a time (None for NULL)."""
    assert payload[:11] == b"PGCOPY\n\xff\r\n\x00"
    assert struct.unpack(">ii", payload[11:19]) == (0, 0)
    pos, rows = 19, []
    while True:
        (count,) = struct.unpack(">h", payload[pos : pos + 2])
        pos += 2
        if count == -1:
            assert pos == len(payload)
            return rows
        assert count == len(types)
        row = []
        for t in types:
            (length,) = struct.unpack(">i", payload[pos : pos + 4])
            pos += 4
            if length == -1:
                row.append(None)
                continue
            assert length == struct.calcsize(_FORMATS[t])
            row.append(struct.unpack(_FORMATS[t], payload[pos : pos + length])[0])
            pos += length
        rows.append(tuple(row))


def _sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": [1, 2, 2_000_000_000, 3],
            "ts": [-5_000_000_000, 0, 4_102_444_799, 1_700_000_000],
            "value": [-1.5e300, np.nan, 123456789.125, -0.0],
            "quality": [0, 2, -3, 32767],
        }
    )


def test_payload_decodes_to_the_rows_with_nulls_negative_and_large_values():
    f = _sample()
    payload = binary_payload(
        [
            ("int4", f["channel_id"].to_numpy()),
            ("int8", f["ts"].to_numpy()),
            ("float8", f["value"].to_numpy()),
            ("int2", f["quality"].to_numpy()),
            ("int4", 77),
            ("int4", None),
        ]
    )
    rows = _decode(payload, ["int4", "int8", "float8", "int2", "int4", "int4"])
    expected = {
        (c, t, None if np.isnan(v) else v, q, 77, None) for c, t, v, q in f.itertuples(index=False)
    }
    assert len(rows) == len(f)
    assert set(rows) == expected  # rows with a NULL value may come after the others


def test_empty_payload_is_signature_and_trailer():
    assert _decode(binary_payload([("int4", np.array([], "int64")), ("int4", None)]), []) == []


def test_integer_out_of_range_is_refused_not_wrapped():
    with pytest.raises(OverflowError):
        binary_payload([("int2", np.array([1, 40_000]))])
    with pytest.raises(OverflowError):
        binary_payload([("int4", np.array([-(2**31) - 1]))])


def test_binary_copy_equals_the_csv_copy_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    f = _sample()
    rng = np.random.default_rng(5)
    big = pd.DataFrame(
        {
            "channel_id": rng.integers(1, 2**31 - 1, 5000),
            "ts": rng.integers(-(2**40), 2**40, 5000),
            "value": np.where(rng.random(5000) < 0.1, np.nan, rng.normal(0, 1e6, 5000)),
            "quality": rng.integers(-(2**15), 2**15 - 1, 5000),
        }
    )
    f = pd.concat([f, big], ignore_index=True)
    create = "(channel_id integer, ts bigint, value double precision, quality smallint, b integer)"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TEMP TABLE via_bin {create}"))
        conn.execute(text(f"CREATE TEMP TABLE via_csv {create}"))
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy("COPY via_bin FROM STDIN (FORMAT binary)") as copy:
            copy.write(
                binary_payload(
                    [
                        ("int4", f["channel_id"].to_numpy()),
                        ("int8", f["ts"].to_numpy()),
                        ("float8", f["value"].to_numpy()),
                        ("int2", f["quality"].to_numpy()),
                        ("int4", None),
                    ]
                )
            )
        buf = io.StringIO()
        f.assign(b=None).to_csv(buf, index=False, header=False, na_rep="", float_format="%.17g")
        with raw.cursor() as cur, cur.copy("COPY via_csv FROM STDIN (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
        order = " ORDER BY channel_id, ts, quality"
        got = conn.execute(text("SELECT * FROM via_bin" + order)).all()
        want = conn.execute(text("SELECT * FROM via_csv" + order)).all()
        nulls = conn.execute(text("SELECT COUNT(*) FROM via_bin WHERE value IS NULL")).scalar()
    assert len(got) == len(f)
    assert got == want
    assert nulls == int(f["value"].isna().sum()) > 0
