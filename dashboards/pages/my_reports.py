"""Mes signalements (`/mes-signalements`): what an agent reported and the answers given; plus
the observation form of every building (the same form the QR codes open)."""

from __future__ import annotations

import dash
from dash import html

from dashboards import db
from dashboards.auth import current_user
from dashboards.components import alert, page_head
from dashboards.my_reports_data import my_reports

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
    rows, buildings = my_reports(db.engine(), user)
    notice = None
    if envoye and envoye.isdigit():
        notice = alert(
            f"Merci : votre signalement n° {envoye} a été transmis.", "ok", "report-sent"
        )
    return html.Div(
        className="page my-reports",
        children=[
            page_head(
                "Mes signalements",
                "Ce que vous avez signalé et les réponses des services techniques.",
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
