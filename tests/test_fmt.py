"""French display formatting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd

from dashboards.fmt import (
    fr_cents,
    fr_date,
    fr_datetime,
    fr_eur,
    fr_number,
    fr_pct,
    fr_quantity,
    fr_range,
)

NN, NB = "\u202f", "\u00a0"


def test_numbers_use_decimal_comma_and_narrow_spaces():
    assert fr_number(1234567.891, 2) == f"1{NN}234{NN}567,89"
    assert fr_number(999.5) == f"1{NN}000"  # half-up, not banker's rounding
    assert fr_number(0.125, 2) == "0,13"
    assert fr_number(-1234.5, 1) == f"\u22121{NN}234,5"  # U+2212, not a hyphen
    assert fr_number(-0.04, 1) == "0,0"
    assert fr_number(np.float64(12.0)) == "12"
    assert fr_number(np.int64(12345)) == f"12{NN}345"
    for missing in (None, float("nan"), pd.NA, np.nan):
        assert fr_number(missing) == "—"


def test_euros_and_cents():
    assert fr_eur(Decimal("1234.565")) == f"1{NN}234,57{NB}€"
    assert fr_eur(0) == f"0,00{NB}€"
    assert fr_cents(123456) == f"1{NN}234,56{NB}€"
    assert fr_cents(-5) == f"\u22120,05{NB}€"
    assert fr_pct(12.345) == f"12,3{NB}%"


def test_quantities_with_units():
    assert fr_quantity(19.46, "degC") == f"19,5{NB}°C"
    assert fr_quantity(123456, "m3", 0) == f"123{NN}456{NB}m³"
    assert fr_quantity(None, "m3") == "—"


def test_dates_are_local_paris_time():
    # 2025-01-15 13:00 UTC is 14:00 in Paris (winter, UTC+1)
    winter = int(dt.datetime(2025, 1, 15, 13, 0, tzinfo=dt.UTC).timestamp())
    assert fr_datetime(winter) == "15/01/2025 14:00"
    # 2024-07-14 22:30 UTC is already 15 July in Paris (summer, UTC+2)
    summer = dt.datetime(2024, 7, 14, 22, 30, tzinfo=dt.UTC)
    assert fr_datetime(summer) == "15/07/2024 00:30"
    assert fr_date(summer) == "15/07/2024"
    assert fr_date(int(summer.timestamp())) == "15/07/2024"
    assert fr_datetime(pd.Timestamp(summer)) == "15/07/2024 00:30"
    assert fr_date(dt.date(2024, 3, 1)) == "01/03/2024"
    assert fr_datetime(None) == "—" and fr_date(pd.NaT) == "—"


def test_signed_results_and_ranges_carry_their_sign():
    assert fr_pct(-0.6) == f"\u22120,6{NB}%"  # finance and savings write the same minus
    assert fr_pct(12.0, signed=True) == f"+12,0{NB}%"
    assert fr_pct(0.04, signed=True) == f"0,0{NB}%"  # nothing to sign
    assert fr_eur(721.8, signed=True) == f"+721,80{NB}€"
    assert fr_eur(-1234.5, signed=True) == f"\u22121{NN}234,50{NB}€"
    assert fr_quantity(-2.25, "degC", signed=True) == f"\u22122,3{NB}°C"
    assert fr_range(721.8, 766.07, fr_eur, signed=True) == f"+721,80{NB}€ à +766,07{NB}€"
    assert fr_range(-5, 3, fr_number, signed=True) == "\u22125 à +3"
    assert fr_range(None, 3.5, fr_pct) == f"3,5{NB}%"
    assert fr_range(None, None, fr_pct) == "—"


def test_trimmed_numbers_drop_trailing_zeros_only():
    assert fr_number(19.0, 1, trim=True) == "19"
    assert fr_number(19.5, 1, trim=True) == "19,5"
    assert fr_number(1200, 1, trim=True) == f"1{NN}200"
    assert fr_quantity(-2.0, "degC", 1, trim=True) == f"\u22122{NB}°C"
