"""What « everything in French » is checked against (issue 15): the codes of the record's
vocabularies, taken from the enums and label tables themselves (a code added tomorrow is looked
for too), and the search for them and for a decimal point in what a person reads."""

from __future__ import annotations

import re

from carnet import models, quarantine, roles
from carnet.access import ACTOR_LABELS_FR
from carnet.adjustment_kinds import ADJUSTMENT_KINDS
from carnet.energy_carriers import _BY_MAIN_ENERGY as MAIN_ENERGIES
from carnet.portfolio_schema import DJU_METHODS, EQUIPMENT_KINDS
from carnet.quantities import KNOWN_UNITS, QUANTITIES
from ingest.formats import FORMAT_LABELS_FR
from ingest.modbus.registers import registers_dir

# a code that is also the French word it stands for is no leak
FRENCH_WORDS = {"observation", "option", "inspection", "usage", "agent", "obligation", "gaz",
                "bois", "fioul", "gaz naturel"}  # fmt: skip


def vocabulary_codes() -> set[str]:
    words = {
        *models.LOG_KINDS, *models.LOG_STATUSES, *models.BOOKING_STATUSES,
        *models.ALARM_STATUSES, *models.WORK_ORDER_STATUSES, *models.WORK_ORDER_PRIORITIES,
        *models.WORK_ORDER_ORIGINS, *models.REX_STATUSES, *models.DECISION_STATUSES,
        *quarantine.STATUSES, *quarantine.REASON_LABELS_FR, *ADJUSTMENT_KINDS, *DJU_METHODS,
        *EQUIPMENT_KINDS, *QUANTITIES, *roles.ROLES, *MAIN_ENERGIES, *ACTOR_LABELS_FR, *FORMAT_LABELS_FR,
        *(p.stem for p in registers_dir().glob("*.yaml")),  # device models
        *(unit for unit, shown in KNOWN_UNITS.items() if unit != shown),  # m3, degC...
    }  # fmt: skip
    return {w for w in words if w.lower() not in FRENCH_WORDS}


CODES = vocabulary_codes()
CODE = re.compile("|".join(rf"(?<![\w-]){re.escape(c)}(?![\w-])" for c in sorted(CODES)))
# 45.0; not 127.0.0.1, nor a text's article (« art. 31.6 »)
DECIMAL_POINT = re.compile(r"(?<![\d.])(?<!art\. )\d+\.\d+(?![\d.])")
# a negative number written with a hyphen: « -0,6 % » (the formatter writes « −0,6 % »)
HYPHEN_MINUS = re.compile(r"(?<![\w/.:-])-\d")


def english_in(texts) -> tuple[set[str], set[str], list[str]]:
    """(codes found, numbers with a decimal point or a hyphen for minus, the first texts
    holding them)."""
    texts = list(texts)
    codes = {m.group(0) for t in texts for m in CODE.finditer(t)}
    points = {m.group(0) for t in texts for rx in (DECIMAL_POINT, HYPHEN_MINUS)
              for m in rx.finditer(t)}  # fmt: skip
    where = [t for t in texts if CODE.search(t) or DECIMAL_POINT.search(t)
             or HYPHEN_MINUS.search(t)][:6]  # fmt: skip
    return codes, points, where
