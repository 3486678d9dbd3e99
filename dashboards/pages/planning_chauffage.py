"""Planning de chauffage: the next 14 days of heating per building, zone and room, from the
confirmed bookings, with what changed since the user's previous visit highlighted; and the
secret iCal feed addresses a calendar or a building management system can subscribe to."""

from __future__ import annotations

import datetime as dt

import dash
import flask
from dash import html
from sqlalchemy import select

from carnet import heating_schedule as hs
from carnet.ical import feed_path
from carnet.models import Contract, ContractBuilding, Room
from dashboards import db
from dashboards.auth import building_scope, contract_scope, current_user
from dashboards.fmt import fr_datetime

CAPABILITY = "heating_schedule.view"

dash.register_page(
    __name__,
    path="/planning-chauffage",
    name="Planning de chauffage",
    title="Planning de chauffage · Carnet",
    description="Quand chauffer quelle salle, à quelle consigne : les 14 prochains jours.",
    order=45,
    capability=CAPABILITY,
)


def _schedule_table(frame) -> html.Div:
    if not len(frame):
        return html.P(
            "Aucun chauffage prévu dans les 14 prochains jours.",
            className="muted",
            id="schedule-empty",
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th("Changement"),
                html.Th("Salle"),
                html.Th("Chauffer à partir de"),
                html.Th("Réservation"),
                html.Th("Consigne", className="num"),
                html.Th("Préchauffage", className="num"),
                html.Th("Titre et note"),
            ]
        )
    )
    rows = []
    for r in frame.itertuples(index=False):
        change = r.change if isinstance(r.change, str) else None
        badge = (
            html.Span(hs.CHANGE_LABELS_FR[change], className=f"badge badge-{change}")
            if change
            else ""
        )
        missing = r.setpoint_c is None or r.setpoint_c != r.setpoint_c
        setpoint = "—" if missing else f"{r.setpoint_c:g}\u00a0°C"
        start, until = r.starts_at.to_pydatetime(), r.until.to_pydatetime()
        same_day = fr_datetime(start)[:10] == fr_datetime(until)[:10]
        booked = f"{fr_datetime(start)} – " + (
            fr_datetime(until)[11:] if same_day else fr_datetime(until)
        )
        note = r.heating_note if isinstance(r.heating_note, str) else ""
        rows.append(
            html.Tr(
                [
                    html.Td(badge),
                    html.Td(
                        [
                            html.Strong(r.room_name),
                            html.Br(),
                            html.Span(
                                f"{r.room} · zone {r.heating_zone} · {r.building_name}",
                                className="muted small",
                            ),
                        ]
                    ),
                    html.Td(fr_datetime(r.heat_from.to_pydatetime()), className="date strong"),
                    html.Td(booked, className="date"),
                    html.Td(setpoint, className="num"),
                    html.Td(f"{r.preheat_min}\u00a0min", className="num"),
                    html.Td([r.title, html.Br(), html.Span(note, className="muted")]),
                ],
                className=f"change-{change}" if change else None,
                **{"data-booking": str(r.booking_id)},
            )
        )
    return html.Div(
        html.Table([head, html.Tbody(rows)], className="data-table", id="schedule-table"),
        className="table-wrap",
    )


def _zones_table(frame) -> html.Div:
    zones = hs.zone_periods(frame)
    if not len(zones):
        return html.Div()
    rows = [
        html.Tr(
            [
                html.Td(z.building, className="code"),
                html.Td(z.heating_zone, className="code"),
                html.Td(fr_datetime(z.heat_from.to_pydatetime()), className="date"),
                html.Td(fr_datetime(z.until.to_pydatetime()), className="date"),
                html.Td(
                    "—" if z.setpoint_c != z.setpoint_c else f"{z.setpoint_c:g}\u00a0°C",
                    className="num",
                ),
                html.Td(z.rooms),
            ]
        )
        for z in zones.itertuples(index=False)
    ]
    head = html.Thead(
        html.Tr(
            [
                html.Th("Bâtiment"),
                html.Th("Zone"),
                html.Th("Chauffer de"),
                html.Th("à"),
                html.Th("Consigne max.", className="num"),
                html.Th("Salles"),
            ]
        )
    )
    return html.Div(
        [
            html.H2("Par zone de chauffage"),
            html.P(
                "Les périodes des salles d'une même zone qui se chevauchent sont regroupées, "
                "à la consigne la plus haute.",
                className="muted",
            ),
            html.Div(
                html.Table([head, html.Tbody(rows)], className="data-table", id="zones-table"),
                className="table-wrap",
            ),
        ]
    )


def _no_feed(code: str) -> str:
    user = current_user()
    if user is not None and user.can("contract.edit"):
        return f"aucun flux ouvert (carnet ical token --contract {code})"
    return "aucun flux ouvert : à demander au gestionnaire"


def _feeds(session, contract_id: int | None, scope: list[int] | None) -> html.Div:
    base = flask.request.host_url.rstrip("/") if flask.has_request_context() else ""
    stmt = select(Contract).order_by(Contract.code)
    if contract_id is not None:
        stmt = stmt.where(Contract.id == contract_id)
    items = []
    for c in session.scalars(stmt):
        url = base + feed_path(c.ical_token) if c.ical_token else None
        items.append(
            html.Li(
                [
                    html.Strong(f"Contrat {c.code} (toutes ses salles) : "),
                    html.Span(url, className="feed-url", id=f"feed-contract-{c.code}")
                    if url
                    else html.Span(_no_feed(c.code), className="muted"),
                ]
            )
        )
    rooms = select(Room).where(Room.bookable.is_(True)).order_by(Room.code)
    if scope is not None:
        rooms = rooms.where(Room.building_id.in_(scope or [-1]))
    elif contract_id is not None:
        rooms = rooms.join(
            ContractBuilding, ContractBuilding.building_id == Room.building_id
        ).where(ContractBuilding.contract_id == contract_id)
    for r in session.scalars(rooms):
        if r.ical_token:
            items.append(
                html.Li(
                    [
                        html.Strong(f"Salle {r.name} ({r.code}) : "),
                        html.Span(base + feed_path(r.ical_token), className="feed-url"),
                    ]
                )
            )
    return html.Div(
        [
            html.H2("Flux iCal"),
            html.P(
                "Adresses secrètes, en lecture seule, à coller dans un agenda ou une GTB. "
                "Ne les diffusez pas : le gestionnaire peut les révoquer.",
                className="muted",
            ),
            html.Ul(items, id="ical-feeds"),
        ]
    )


def layout(**_query):
    user = current_user()
    now = dt.datetime.now(dt.UTC)
    contract_id = contract_scope()
    with db.session() as s:
        scope = building_scope(s)
        since = hs.last_seen(s, user.id)
        frame = hs.heating_schedule(s, user, now=now, since=since)
        hs.record_view(s, user.id, now)
        feeds = _feeds(s, contract_id, scope)
    changes = int(frame["change"].notna().sum()) if len(frame) else 0
    if since is None:
        seen = "Première consultation : tout est nouveau."
    else:
        seen = (
            f"Depuis votre dernière consultation du {fr_datetime(since)} : "
            f"{changes} changement(s) surligné(s)."
        )
    return html.Div(
        className="page planning",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Planning de chauffage"),
                    html.P(
                        "Les 14 prochains jours, d'après les réservations confirmées "
                        "(heure de Paris). Chauffer à partir de = début − préchauffage.",
                        className="lead",
                    ),
                    html.P(seen, id="schedule-since", className="alert alert-ok"),
                ],
            ),
            _schedule_table(frame),
            _zones_table(frame),
            feeds,
        ],
    )
