"""The contract engine: degree days, consumption, the French settlement, IPMVP baselines,
CUSUM and the Décret tertiaire trajectory. Pure pandas/numpy: frames in, figures out; what they
read is loaded by the record (`carnet.frames*`) and handed over by the callers.

The small public surface below is what the CLI and the dashboards use.
"""

from contract.baseline import (
    ChangePointModel,
    SavingsResult,
    avoided_energy,
    baseline_sufficiency,
    fit_changepoint,
    normal_year_kwh,
    typical_year_temperatures,
)
from contract.cusum import cusum, cusum_frame
from contract.degree_days import (
    METHOD_LABELS_FR,
    dju_costic,
    dju_daily,
    dju_from_hourly,
    dju_meteo_france,
    tn_tx_meteo_france,
)
from contract.inputs import LoadPlan, settle_frames, settlement_plan
from contract.reports import (
    BaselineReport,
    baseline_cusum,
    carpet_frame,
    degree_days,
    energy_signature_frame,
    fit_baseline,
    tertiaire_frame,
)
from contract.settlement import ALERT_LABELS_FR, SettlementReport, settle
from contract.terms import BuildingTerms, ContractTerms, season_bounds, season_months
from contract.tertiaire import tertiaire_trajectory

__all__ = [
    "ALERT_LABELS_FR",
    "METHOD_LABELS_FR",
    "BaselineReport",
    "BuildingTerms",
    "ChangePointModel",
    "ContractTerms",
    "LoadPlan",
    "SavingsResult",
    "SettlementReport",
    "avoided_energy",
    "baseline_cusum",
    "baseline_sufficiency",
    "carpet_frame",
    "cusum",
    "cusum_frame",
    "degree_days",
    "dju_costic",
    "dju_daily",
    "dju_from_hourly",
    "dju_meteo_france",
    "energy_signature_frame",
    "fit_baseline",
    "fit_changepoint",
    "normal_year_kwh",
    "season_bounds",
    "season_months",
    "settle",
    "settle_frames",
    "settlement_plan",
    "tertiaire_frame",
    "tertiaire_trajectory",
    "tn_tx_meteo_france",
    "typical_year_temperatures",
]
