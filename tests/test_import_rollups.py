"""An import's daily rollups: a file of appends, read in pieces, merges its figures into the
stored days knowing each channel's last reading before it from the pieces' own probes
(`carnet.store.Appends`), without counting the channels' rows back; a file that is not all
appends (a reading stored after it, pieces going back in time) is rolled up as before. Each
way, exactly the rollups a full recompute gives. SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carnet import store
from carnet.store import write_readings
from tests.helpers.calls import sizes_of_calls
from tests.helpers.rollup_town import AUTUMN, KINDS, SPRING, import_readings
from tests.helpers.rollup_town import channels as _channels
from tests.helpers.rollup_town import full_recompute as _full_recompute
from tests.helpers.rollup_town import rollups as _rollups


def _readings(n: int, start: int, rng: np.random.Generator, level: float = 100.0) -> pd.DataFrame:
    """`n` readings of each channel after `start`: random steps, an index rising from
    `level`."""
    parts = []
    for c, kind in KINDS.items():
        ts = start + np.cumsum(rng.choice([60, 300, 900, 3600, 5400, 20_000], size=n))
        if kind == "index":
            value = level + np.cumsum(rng.uniform(0, 5, n))
        else:  # plausible: an energy is never negative (held otherwise)
            value = rng.uniform(0, 5, n) if kind == "interval" else rng.normal(20, 5, n)
        parts.append(pd.DataFrame({"channel_id": c, "ts": ts, "value": np.round(value, 3)}))
    return pd.concat(parts, ignore_index=True)


def _same_as_recompute(engine) -> None:
    merged = _rollups(engine)
    assert len(merged) and merged["covered_s"].notna().all()
    pd.testing.assert_frame_equal(merged, _full_recompute(engine), check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_dtype=False)  # fmt: skip


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    stored=st.integers(0, 30),
    n=st.integers(1, 40),
    chunk_lines=st.integers(2, 50),
    start=st.sampled_from([SPRING, AUTUMN]),
    seed=st.integers(0, 2**31),
)
def test_a_file_of_appends_merges_its_pieces_figures_without_counting_rows_back(
    engine, tmp_path_factory, monkeypatch, stored, n, chunk_lines, start, seed
):
    rng = np.random.default_rng(seed)
    _channels(engine)
    history = _readings(stored, start, rng) if stored else None
    if history is not None:
        write_readings(engine, history)
    after, level = (start, 100.0) if history is None else (history["ts"].max(), 1e6)
    frame = _readings(n, int(after), rng, level).sort_values(["channel_id", "ts"], kind="stable")
    with monkeypatch.context() as m:
        calls = sizes_of_calls(m, store, "_appended", arg=1)  # (conn, span)
        import_readings(engine, tmp_path_factory.mktemp("f"), frame, "appends", chunk_lines)
    assert calls == []  # the pieces' probes answered: no count of the channels' rows
    _same_as_recompute(engine)


@pytest.mark.parametrize("chunk_lines", [5, 1000])
def test_a_reading_stored_after_the_file_is_rolled_up_as_before(
    engine, tmp_path, monkeypatch, chunk_lines
):
    """A day already holds a later reading of each channel: the file is not all appends and
    its days are recomputed from what the table holds."""
    rng = np.random.default_rng(5)
    _channels(engine)
    frame = _readings(30, SPRING, rng)
    later = frame.groupby("channel_id", as_index=False).last()
    write_readings(engine, later.assign(ts=later["ts"] + 600, value=later["value"] + 1))
    import_readings(engine, tmp_path, frame, "before", chunk_lines)
    _same_as_recompute(engine)


def test_pieces_going_back_in_time_are_rolled_up_as_before(engine, tmp_path):
    """The file lists the newest readings first, and the table already holds one reading of
    each channel among the file's oldest: the first piece's probe finds nothing after it and
    names that reading as the one before it, which is not true of the whole file."""
    rng = np.random.default_rng(9)
    _channels(engine)
    write_readings(engine, _readings(10, SPRING - 86_400 * 3, rng))
    frame = _readings(30, SPRING, rng, level=1e6).sort_values(["channel_id", "ts"], kind="stable")
    third = frame.groupby("channel_id").nth(2)
    between = third.assign(ts=third["ts"] - 30, value=third["value"] - 0.001)
    write_readings(engine, between)
    newest_first = frame.sort_values("ts", ascending=False, kind="stable")
    import_readings(engine, tmp_path, newest_first, "reversed", chunk_lines=20)
    _same_as_recompute(engine)
