"""Gas energy as the contract counts it: the store's kWh PCS (conversion coefficient per period
already applied by `carnet.store`) become MWh PCI through the contract's PCS/PCI ratio."""

from __future__ import annotations


def kwh_pcs_to_mwh_pci(energy_kwh_pcs, pcs_pci_ratio: float):
    """`QT_pci = QT_pcs / r`, in MWh."""
    return energy_kwh_pcs / 1000.0 / pcs_pci_ratio
