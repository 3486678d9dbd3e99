"""The page shown for an unknown address (Dash picks the module named `not_found_404`)."""

from __future__ import annotations

import dash
from dash import dcc, html

dash.register_page(__name__, path="/page-introuvable", name="Page introuvable", nav=False)


def layout(**_query):
    return html.Div(
        className="page forbidden",
        children=[
            html.H1("Page introuvable"),
            html.P("Cette adresse ne correspond à aucune page de Carnet."),
            dcc.Link("Retour à l'accueil", href="/"),
        ],
    )
