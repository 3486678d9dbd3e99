"""The fixed-layout reading of French timestamps (`dd/mm/yyyy HH:MM`, ingest.timestamps)
gives exactly what the general path gives, Europe/Paris changes of hour included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest import timestamps
from ingest.timestamps import LocalClock, fr_minutes_fixed, parse_timestamps


def _general(monkeypatch, chunks, keys=None, offsets=None, timezone="local"):
    """The general path alone (the French layout never looked for), chunk after chunk."""
    with monkeypatch.context() as m:
        m.setattr(timestamps, "_looks_fr", lambda text: False)
        return _parse(chunks, keys, offsets, timezone)


def _parse(chunks, keys=None, offsets=None, timezone="local"):
    clock, out, why, at = LocalClock(), [], [], 0
    for chunk in chunks:
        n = len(chunk)
        ep, reason = parse_timestamps(
            pd.Series(chunk, dtype=object),
            clock,
            None if keys is None else keys[at : at + n],
            None if offsets is None else offsets[at : at + n],
            timezone=timezone,
        )
        out.append(ep)
        why.append(reason)
        at += n
    return np.concatenate(out), np.concatenate(why)


def _random_stamps(rng, n: int) -> list[str]:
    """Wall-clock minutes around both changes of hour of 2024 (31 March, 27 October), the
    repeated and the missing hour drawn often, in file order."""
    days = ["30/03/2024", "31/03/2024", "01/04/2024", "26/10/2024", "27/10/2024", "28/10/2024"]
    hours = rng.choice([0, 1, 2, 2, 2, 3, 4, 12, 23], n)
    minutes = rng.choice([0, 15, 30, 45, 59], n)
    picked = rng.choice(days, n)
    return [f"{d} {h:02d}:{m:02d}" for d, h, m in zip(picked, hours, minutes, strict=True)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_equals_general_across_both_changes_of_hour(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    stamps = _random_stamps(rng, 3000)
    keys = rng.integers(1, 4, len(stamps))  # three channels: the repeated hour counts per channel
    chunks = [stamps[:1234], stamps[1234:]]  # the clock remembers across chunks
    got, got_why = _parse(chunks, keys)
    want, want_why = _general(monkeypatch, chunks, keys)
    assert np.array_equal(got, want)
    assert list(got_why) == list(want_why)
    # the cases that matter were drawn: the missing hour, both and a third repeated hour
    reasons = " ".join(r for r in want_why if r)
    assert "heure inexistante" in reasons and "troisième occurrence" in reasons
    summer_and_winter = want[np.array(stamps) == "27/10/2024 02:30"]
    assert len(set(summer_and_winter[summer_and_winter != timestamps.NAT])) == 2


def test_fast_equals_general_with_an_offset_column_and_in_utc(monkeypatch):
    rng = np.random.default_rng(9)
    stamps = _random_stamps(rng, 500)
    offsets = rng.choice([60.0, 120.0, np.nan, 30.0], len(stamps))
    got = _parse([stamps], offsets=offsets)
    want = _general(monkeypatch, [stamps], offsets=offsets)
    assert np.array_equal(got[0], want[0]) and list(got[1]) == list(want[1])
    assert any("incohérent" in r for r in want[1] if r)
    got_utc = _parse([stamps], timezone="utc")
    want_utc = _general(monkeypatch, [stamps], timezone="utc")
    assert np.array_equal(got_utc[0], want_utc[0]) and list(got_utc[1]) == list(want_utc[1])


def test_irregular_texts_fall_back_to_the_general_path(monkeypatch):
    stamps = [
        "01/02/2024 10:00",
        "31/02/2024 10:00",  # no such day
        "29/02/2024 10:00",  # leap day
        "29/02/2023 10:00",
        "1/02/2024 10:00",  # one-digit day: strptime reads it
        "01/02/2024 24:00",
        "01/13/2024 10:00",
        "01/02/1899 10:00",  # before the admitted years
        "01/02/2100 10:00",
        "01/02/2024 10:00:30",
        "01/02/2024 10h00",
        "2024-10-27T02:30:00+01:00",
        "",
        "ab/cd/efgh ij:kl",
        "01/02/2024 10:0é",
    ]
    got = _parse([stamps])
    want = _general(monkeypatch, [stamps])
    assert np.array_equal(got[0], want[0])
    assert list(got[1]) == list(want[1])
    fixed = fr_minutes_fixed(pd.Series(stamps, dtype=object))[1]
    assert list(np.flatnonzero(fixed)) == [0, 2]


def test_a_french_file_is_read_without_strptime(monkeypatch):
    """Cost of the common file: no pandas text parsing at all (it was most of the reading)."""
    stamps = _random_stamps(np.random.default_rng(4), 2000)
    want = _general(monkeypatch, [stamps])

    def refuse(*args, **kwargs):
        raise AssertionError("pd.to_datetime called on texts of the fixed layout")

    monkeypatch.setattr(timestamps.pd, "to_datetime", refuse)
    got = _parse([stamps])
    assert np.array_equal(got[0], want[0]) and list(got[1]) == list(want[1])
