"""The kinds of non-routine adjustment and their French labels, apart from `carnet.adjustments`
(which stores them): `carnet adjust`'s parser offers them without loading the record."""

from __future__ import annotations

ADJUSTMENT_KINDS = ("area_added", "area_removed", "closed", "usage_change", "works", "other")
KIND_LABELS_FR = {
    "area_added": "surface ajoutée",
    "area_removed": "surface retirée",
    "closed": "bâtiment fermé",
    "usage_change": "changement d'usage",
    "works": "travaux",
    "other": "autre",
}
