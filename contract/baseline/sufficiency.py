"""Is there enough data to fit a baseline? Checked apart from the fit (as eemeter does), so a
model is never judged on its statistics alone when half of its year is missing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_COVERAGE = 0.90  # share of the period's days with energy and temperature
MIN_HEATING_DAYS = 30  # days colder than the balance temperature
MIN_SPAN_DAYS = 330  # about a year: a baseline should see every season


@dataclass(frozen=True)
class Sufficiency:
    days_expected: int
    days_with_energy: int
    days_with_temperature: int
    days_usable: int
    heating_days: int
    coverage: float
    sufficient: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)


def baseline_sufficiency(
    daily: pd.DataFrame, day_from: dt.date, day_to: dt.date, heating_base_c: float = 15.0
) -> Sufficiency:
    """`daily` has day, energy_kwh, temp_mean_c (days absent or NaN count as missing)."""
    days = pd.date_range(day_from, day_to, freq="D")
    frame = daily.assign(day=pd.to_datetime(daily["day"]).dt.normalize())
    frame = frame.drop_duplicates("day").set_index("day").reindex(days)
    has_e = frame["energy_kwh"].notna().to_numpy()
    has_t = frame["temp_mean_c"].notna().to_numpy()
    usable = has_e & has_t
    heating = usable & (frame["temp_mean_c"].to_numpy(dtype=float) < heating_base_c)
    n = len(days)
    coverage = float(usable.sum() / n) if n else 0.0
    warnings = []
    if coverage < MIN_COVERAGE:
        warnings.append(
            f"couverture {100 * coverage:.0f}\u202f% < {100 * MIN_COVERAGE:.0f}\u202f% des jours"
            " de la période de référence"
        )
    if int(heating.sum()) < MIN_HEATING_DAYS:
        warnings.append(f"moins de {MIN_HEATING_DAYS} jours de chauffe exploitables")
    if n < MIN_SPAN_DAYS:
        warnings.append("période de référence de moins d'un an : saisonnalité incomplète")
    sufficient = coverage >= MIN_COVERAGE and int(heating.sum()) >= MIN_HEATING_DAYS
    return Sufficiency(
        days_expected=n,
        days_with_energy=int(has_e.sum()),
        days_with_temperature=int(has_t.sum()),
        days_usable=int(usable.sum()),
        heating_days=int(np.sum(heating)),
        coverage=coverage,
        sufficient=sufficient,
        warnings=tuple(warnings),
    )
