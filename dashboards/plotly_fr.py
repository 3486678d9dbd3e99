"""Plotly's French, handed to every chart in its config (`components.graph`): month and day
names as French writes them (`janv. 2025`, not plotly.js's own `Jan 2025`), decimal comma and
the narrow no-break space of `fmt`, and the mode bar's words. Given with the chart rather than
registered by a script, because plotly.js is loaded only when a page first draws a chart."""

from __future__ import annotations

from carnet.closing import MONTHS_FR
from carnet.fr_format import NNBSP

SHORT_MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip

PLOTLY_LOCALE_FR = {
    "dictionary": {
        "Autoscale": "Échelle automatique",
        "Box Select": "Sélection rectangulaire",
        "Double-click on legend to isolate one trace": (
            "Double-cliquer sur la légende pour isoler une série"
        ),
        "Double-click to zoom back out": "Double-cliquer pour dézoomer",
        "Download plot as a PNG": "Télécharger le graphique en PNG",
        "Download plot": "Télécharger le graphique",
        "Lasso Select": "Sélection lasso",
        "Pan": "Translation",
        "Produced with Plotly.js": "Généré avec Plotly.js",
        "Reset axes": "Réinitialiser les axes",
        "Reset view": "Réinitialiser",
        "Show closest data on hover": "Données les plus proches en survol",
        "Compare data on hover": "Comparaison entre données en survol",
        "Toggle Spike Lines": "Activer/désactiver les pics",
        "Zoom": "Zoom",
        "Zoom in": "Zoom avant",
        "Zoom out": "Zoom arrière",
        "trace": "série",
        "max:": "max. :",
        "min:": "min. :",
        "mean:": "moyenne :",
        "median:": "médiane :",
    },
    "format": {
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
    },
}
