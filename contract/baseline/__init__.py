"""IPMVP option C baselines: change-point models, fit metrics, data sufficiency, savings."""

from contract.baseline.changepoint import ChangePointModel, fit_changepoint
from contract.baseline.metrics import acceptance, fractional_savings_uncertainty
from contract.baseline.savings import (
    SavingsResult,
    avoided_energy,
    normal_year_kwh,
    typical_year_temperatures,
)
from contract.baseline.sufficiency import Sufficiency, baseline_sufficiency

__all__ = [
    "ChangePointModel",
    "SavingsResult",
    "Sufficiency",
    "acceptance",
    "avoided_energy",
    "baseline_sufficiency",
    "fit_changepoint",
    "fractional_savings_uncertainty",
    "normal_year_kwh",
    "typical_year_temperatures",
]
