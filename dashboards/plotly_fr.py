"""Plotly's French formats, handed to every chart in its config (`components.graph`, with the
mode bar's words): month and day names as French writes them (`janv. 2025`, not plotly.js's
own `Jan 2025`), decimal comma and the narrow no-break space of `fmt`. Given with the chart
rather than registered by a script, because plotly.js is loaded only when a page first draws
a chart."""

from __future__ import annotations

from carnet.closing import MONTHS_FR
from carnet.fr_format import NNBSP

SHORT_MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip

PLOTLY_FORMAT_FR = {
    "days": ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    "shortDays": ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
    "months": list(MONTHS_FR),
    "shortMonths": list(SHORT_MONTHS_FR),
    "date": "%d/%m/%Y",
    "decimal": ",",
    "thousands": NNBSP,
    "year": "%Y",
    "month": "%b %Y",
    "dayMonth": "%-d %b",
    "dayMonthYear": "%-d %b %Y",
}
