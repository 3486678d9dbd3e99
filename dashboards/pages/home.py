"""Accueil: a short welcome for the signed-in role, with what it may do and links to its pages;
the contractor gets its landing page instead (`dashboards.pages.accueil_exploitant`)."""

from __future__ import annotations

import dash
from dash import dcc, html

from carnet.roles import is_contractor
from dashboards.auth import current_user
from dashboards.pages import accueil_exploitant
from dashboards.shell import CAPABILITY_LABELS_FR, capabilities_for, pages_for

dash.register_page(__name__, path="/", name="Accueil", title="Accueil · Carnet", order=0)


def layout(**_query):
    user = current_user()
    if user is None:  # the HTTP guard never lets this happen; keep the layout total
        return html.Div()
    if is_contractor(user.role):
        return accueil_exploitant.layout(user)
    pages = pages_for(user)
    cards = [
        dcc.Link(
            className="card card-link",
            href=page["relative_path"],
            id={"type": "home-card", "path": page["path"]},
            children=[
                html.H3(page["name"]),
                html.P(page.get("description") or ""),
            ],
        )
        for page in pages
    ]
    rights = [html.Li(CAPABILITY_LABELS_FR.get(c, c)) for c in capabilities_for(user)]
    return html.Div(
        className="page home",
        children=[
            html.H1(f"Bonjour, {user.name}"),
            html.P(
                f"Vous êtes connecté en tant que « {user.role_label} ».",
                className="lead",
            ),
            html.H2("Vos pages"),
            html.Div(cards, className="card-grid", id="home-pages")
            if cards
            else html.P("Aucune page n'est encore ouverte à votre rôle.", className="muted"),
            html.H2("Ce que votre rôle permet"),
            html.Ul(rights, className="rights", id="home-rights"),
        ],
    )
