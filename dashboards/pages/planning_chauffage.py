"""Planning de chauffage: the next 14 days of heating per building, zone and room, from the
confirmed bookings, with what changed since the user's previous visit highlighted; and the
secret iCal feed addresses a calendar or a building management system can subscribe to."""

from __future__ import annotations

import datetime as dt

import dash
import flask
from dash import ALL, Input, Output, callback, ctx, html, no_update

from carnet import heating_schedule as hs
from carnet.access import Scope
from carnet.ical import feed_path
from dashboards import db
from dashboards.auth import current_scope, current_user, guarded
from dashboards.components import alert, data_table, downloadable_table, page_head
from dashboards.downloads import register_table
from dashboards.fmt import fr_datetime
from dashboards.planning_chauffage_data import (
    feeds,
    schedule,
    schedule_since_last_visit,
    set_feed_token,
)

CAPABILITY = "heating_schedule.view"
MANAGE = "contract.edit"  # who issues and revokes the secret feed addresses

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
    head = [
        "Changement",
        "Salle",
        "Chauffer à partir de",
        "Réservation",
        "Consigne",
        "Préchauffage",
        "Titre et note",
    ]
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
        data_table(head, rows, numeric=(4, 5), id_="schedule-table"),
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
    head = ["Bâtiment", "Zone", "Chauffer de", "à", "Consigne max.", "Salles"]
    return html.Div(
        [
            html.H2("Par zone de chauffage"),
            html.P(
                "Les périodes des salles d'une même zone qui se chevauchent sont regroupées, "
                "à la consigne la plus haute.",
                className="muted",
            ),
            html.Div(
                data_table(head, rows, numeric=(4,), id_="zones-table"),
                className="table-wrap",
            ),
        ]
    )


def _manage_buttons(kind: str, code: str, has_token: bool) -> list:
    """Create/renew and revoke buttons, for the roles that manage the feeds."""
    user = current_user()
    if user is None or not user.can(MANAGE):
        return []
    buttons = [
        html.Button(
            "Renouveler" if has_token else "Créer le flux",
            id={"type": "feed-renew", "kind": kind, "code": code},
            className="btn btn-small",
            title="Une nouvelle adresse secrète ; l'ancienne cesse de répondre",
        )
    ]
    if has_token:
        buttons.append(
            html.Button(
                "Révoquer",
                id={"type": "feed-revoke", "kind": kind, "code": code},
                className="btn btn-small btn-danger",
            )
        )
    return buttons


def _feed_line(kind: str, code: str, label: str, token: str | None, base: str, manage: bool):
    if token:
        what = html.Span(base + feed_path(token), className="feed-url", id=f"feed-{kind}-{code}")
    elif manage:
        what = html.Span("aucun flux ouvert", className="muted")
    else:
        what = html.Span("aucun flux ouvert : à demander au gestionnaire", className="muted")
    return html.Li(
        [html.Strong(label + " : "), what, *_manage_buttons(kind, code, bool(token))],
        className="feed-line",
    )


def _feed_items(scope: Scope) -> list:
    """One line per contract in view, and per bookable room (with a feed, or all of them for
    the roles that manage the feeds)."""
    user = current_user()
    manage = bool(user and user.can(MANAGE))
    base = flask.request.host_url.rstrip("/") if flask.has_request_context() else ""
    contracts, rooms = feeds(db.engine(), scope)
    items = [
        _feed_line("contract", code, f"Contrat {code} (toutes ses salles)", token, base, manage)
        for code, token in contracts
    ]
    items += [
        _feed_line("room", code, f"Salle {name} ({code})", token, base, manage)
        for code, name, token in rooms
        if token or manage
    ]
    return items


def _feeds(scope: Scope) -> html.Div:
    return html.Div(
        [
            html.H2("Flux iCal"),
            html.P(
                "Adresses secrètes, en lecture seule, à coller dans un agenda ou une GTB. "
                "Ne les diffusez pas : le gestionnaire peut les renouveler ou les révoquer.",
                className="muted",
            ),
            html.Ul(_feed_items(scope), id="ical-feeds"),
            html.Div(id="feed-message", role="status"),
        ]
    )


@callback(
    Output("ical-feeds", "children"),
    Output("feed-message", "children"),
    Input({"type": "feed-renew", "kind": ALL, "code": ALL}, "n_clicks"),
    Input({"type": "feed-revoke", "kind": ALL, "code": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
@guarded(MANAGE)
def manage_feed(_renew, _revoke):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update
    user = current_user()
    revoke = trigger["type"] == "feed-revoke"
    kind, code = trigger["kind"], trigger["code"]
    set_feed_token(db.engine(), user, kind, code, revoke)
    items = _feed_items(current_scope())
    what = f"du contrat {code}" if kind == "contract" else f"de la salle {code}"
    message = (
        f"Flux {what} révoqué : l'adresse ne répond plus."
        if revoke
        else f"Nouvelle adresse pour le flux {what} ; l'ancienne ne répond plus."
    )
    return items, alert(message, "ok", "feed-ok")


def _frame_for(params: dict):
    """The schedule as the page showed it: changes since the visit it showed (no new visit)."""
    since = params.get("depuis")
    try:
        since = dt.datetime.fromisoformat(since) if isinstance(since, str) else None
    except ValueError:
        since = None
    return schedule(db.engine(), current_user(), dt.datetime.now(dt.UTC), since)


register_table(
    "schedule-table", CAPABILITY, lambda p: _schedule_table(_frame_for(p)), "planning-chauffage"
)
register_table("zones-table", CAPABILITY, lambda p: _zones_table(_frame_for(p)), "planning-zones")


def layout(**_query):
    user = current_user()
    now = dt.datetime.now(dt.UTC)
    scope = current_scope()
    frame, since = schedule_since_last_visit(db.engine(), user, user.id, now)
    changes = int(frame["change"].notna().sum()) if len(frame) else 0
    if since is None:
        seen = "Première consultation : tout est nouveau."
    else:
        seen = (
            f"Depuis votre dernière consultation du {fr_datetime(since)} : "
            f"{changes} changement(s) surligné(s)."
        )
    params = {"depuis": since.isoformat() if since is not None else None}
    return html.Div(
        className="page planning",
        children=[
            page_head(
                "Planning de chauffage",
                "Les 14 prochains jours, d'après les réservations confirmées "
                "(heure de Paris). Chauffer à partir de = début − préchauffage.",
                html.P(seen, id="schedule-since", className="alert alert-ok"),
            ),
            downloadable_table("schedule-table", _schedule_table(frame), params),
            downloadable_table("zones-table", _zones_table(frame), params),
            _feeds(scope),
        ],
    )
