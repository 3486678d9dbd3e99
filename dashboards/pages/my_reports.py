"""Mes signalements (`/mes-signalements`): what an agent reported and the answers given; plus
the observation form of every building (the same form the QR codes open)."""

from __future__ import annotations

import dash
from dash import html

from carnet.buildings import visible_buildings
from carnet.logbook import my_observations
from dashboards import db
from dashboards.auth import current_user

CAPABILITY = "carnet.observation"

dash.register_page(
    __name__,
    path="/mes-signalements",
    name="Mes signalements",
    title="Mes signalements · Carnet",
    description="Signaler un problème dans un bâtiment et lire les réponses.",
    order=23,
    capability=CAPABILITY,
)


def _report(row: dict) -> html.Article:
    answer = row.get("answer")
    return html.Article(
        className=f"log-entry kind-observation entry-{row['status']}",
        **{"data-entry": str(row["id"])},
        children=[
            html.Div(
                [
                    html.Span(row["date"], className="date"),
                    html.Span(row["building_name"], className="author"),
                    html.Span(row.get("room_name") or "", className="muted"),
                    html.Span(row["status_label"], className=f"status status-{row['status']}"),
                ],
                className="entry-meta",
            ),
            html.P(row["text"], className="entry-text"),
            html.P(["Réponse : ", answer], className="entry-answer")
            if answer
            else html.P("Pas encore de réponse.", className="muted"),
        ],
    )


def layout(envoye: str | None = None, **_query):
    user = current_user()
    with db.session() as s:
        frame = my_observations(s, user)
        buildings = [(b.name, b.qr_token) for b in visible_buildings(s, user) if b.qr_token]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    notice = None
    if envoye and envoye.isdigit():
        notice = html.Div(
            f"Merci : votre signalement n° {envoye} a été transmis.",
            className="alert alert-ok",
            id="report-sent",
        )
    return html.Div(
        className="page my-reports",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Mes signalements"),
                    html.P(
                        "Ce que vous avez signalé et les réponses des services techniques.",
                        className="lead",
                    ),
                ],
            ),
            notice,
            html.Div(
                [_report(r) for r in rows]
                if rows
                else html.P("Vous n'avez encore rien signalé.", className="muted"),
                className="timeline",
                id="my-reports",
            ),
            html.H2("Signaler un problème"),
            html.Ul(
                [html.Li(html.A(name, href=f"/signaler/{token}")) for name, token in buildings],
                className="signal-links",
                id="signal-links",
            ),
        ],
    )
