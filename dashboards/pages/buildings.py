"""Bâtiments (`/batiments`): the buildings the user may see, with what needs attention in each
(observations to triage, overdue obligations, open alarms); each links to its carnet."""

from __future__ import annotations

import dash
import pandas as pd
from dash import dcc, html
from sqlalchemy import func, select

from carnet.access import building_ids_in_scope
from carnet.models import Building, LogbookEntry
from carnet.obligations import obligations_frame
from dashboards import db
from dashboards.auth import current_user

CAPABILITY = "carnet.view"

dash.register_page(
    __name__,
    path="/batiments",
    name="Bâtiments",
    title="Bâtiments · Carnet",
    description="Le carnet de santé de chaque bâtiment : équipements, interventions, "
    "obligations, signalements.",
    order=20,
    capability=CAPABILITY,
)


def _counts(session, kind: str, statuses: list[str], merged_null: bool = False) -> dict[int, int]:
    stmt = (
        select(LogbookEntry.building_id, func.count())
        .where(LogbookEntry.kind == kind, LogbookEntry.status.in_(statuses))
        .group_by(LogbookEntry.building_id)
    )
    if merged_null:
        stmt = stmt.where(LogbookEntry.merged_into_id.is_(None))
    return dict(session.execute(stmt).all())


def layout(**_query):
    user = current_user()
    with db.session() as s:
        scope = building_ids_in_scope(s, user)
        stmt = select(Building).order_by(Building.code)
        if scope is not None:
            stmt = stmt.where(Building.id.in_(scope or [-1]))
        buildings = s.scalars(stmt).all()
        rooms_only = user.role == "programmer"
        observations = alarms = {}
        late = pd.Series(dtype="int64")
        if not rooms_only:
            observations = _counts(s, "observation", ["open"], merged_null=True)
            alarms = _counts(s, "alarm", ["open", "in_progress"])
            frame = obligations_frame(s, user, overdue_only=True)
            late = frame.groupby("building_code").size()
        rows = []
        for b in buildings:
            cells = [
                html.Td(dcc.Link(b.code, href=f"/batiments/{b.code}"), className="code"),
                html.Td(dcc.Link(b.name, href=f"/batiments/{b.code}"), className="building-name"),
                html.Td((b.usage or "—").capitalize()),
            ]
            if not rooms_only:
                n_obs = observations.get(b.id, 0)
                n_late = int(late.get(b.code, 0))
                n_alarm = alarms.get(b.id, 0)
                cells += [
                    html.Td(str(n_obs), className="num" + (" warn" if n_obs else "")),
                    html.Td(str(n_late), className="num" + (" late" if n_late else "")),
                    html.Td(str(n_alarm), className="num" + (" late" if n_alarm else "")),
                ]
            rows.append(html.Tr(cells, **{"data-building": b.code}))
    head = [html.Th("Code"), html.Th("Bâtiment"), html.Th("Usage")]
    if not rooms_only:
        head += [
            html.Th("Signalements à traiter", className="num"),
            html.Th("Obligations en retard", className="num"),
            html.Th("Alarmes ouvertes", className="num"),
        ]
    table = (
        html.Table(
            [html.Thead(html.Tr(head)), html.Tbody(rows)],
            className="data-table",
            id="buildings-table",
        )
        if rows
        else html.P("Aucun bâtiment.", className="muted")
    )
    return html.Div(
        className="page buildings",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Bâtiments"),
                    html.P("Le carnet de santé de chaque bâtiment.", className="lead"),
                ],
            ),
            html.Div(table, className="table-wrap"),
        ],
    )
