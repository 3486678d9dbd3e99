"""Réservations: week and month calendars of the bookable rooms, per room or per building, and the
booking form with its heating note (the programmer and the manager); the contractor reads the
calendars and their heating notes. Every write goes through `carnet.bookings`, which checks the
role again and refuses conflicts naming the other booking."""

from __future__ import annotations

import datetime as dt

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from carnet import bookings as bk
from carnet.timeutil import TZ
from dashboards import db
from dashboards import reservations_data as data
from dashboards.auth import current_user, guarded
from dashboards.components import alert, downloadable_table, field, page_head
from dashboards.downloads import register_table
from dashboards.fmt import fr_datetime
from dashboards.reservations_data import BookingView
from dashboards.reservations_data import rooms as rooms_of

CAPABILITY = "bookings.view"
EDIT = "bookings.edit"

dash.register_page(
    __name__,
    path="/reservations",
    name="Réservations",
    title="Réservations · Carnet",
    description="Calendrier des salles, réservations et notes de chauffage.",
    order=40,
    capability=CAPABILITY,
)

WEEKDAYS_FR = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]
MONTHS_FR = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip
STATUS_OPTIONS = [
    {"label": "Confirmée", "value": "confirmed"},
    {"label": "Option", "value": "option"},
    {"label": "Annulée", "value": "cancelled"},
]
FORM_FIELDS = [
    ("res-f-room", "value"),
    ("res-f-title", "value"),
    ("res-f-organiser", "value"),
    ("res-f-attendance", "value"),
    ("res-f-start", "value"),
    ("res-f-end", "value"),
    ("res-f-status", "value"),
    ("res-f-setpoint", "value"),
    ("res-f-preheat", "value"),
    ("res-f-note", "value"),
]


def _period(view: str, ref: dt.date) -> tuple[dt.date, dt.date]:
    if view == "month":
        first = ref.replace(day=1)
        nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    monday = ref - dt.timedelta(days=ref.weekday())
    return monday, monday + dt.timedelta(days=6)


def _period_label(view: str, first: dt.date, last: dt.date) -> str:
    if view == "month":
        return f"{MONTHS_FR[first.month - 1].capitalize()} {first.year}"
    return f"Semaine du {first:%d/%m/%Y} au {last:%d/%m/%Y}"


def _midnight(day: dt.date) -> dt.datetime:
    return bk.localize(dt.datetime.combine(day, dt.time()))


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(TZ)


def _days_of(b: BookingView, first: dt.date, last: dt.date) -> list[dt.date]:
    """Local days the booking covers within [first, last]."""
    d0 = _local(b.starts_at).date()
    d1 = _local(b.ends_at - dt.timedelta(seconds=1)).date()
    out, day = [], max(d0, first)
    while day <= min(d1, last):
        out.append(day)
        day += dt.timedelta(days=1)
    return out


# --- rendering ----------------------------------------------------------------------------


def _chip(b: BookingView, with_room: bool) -> html.Button:
    start, end = _local(b.starts_at), _local(b.ends_at)
    heat = []
    if b.setpoint_c is not None:
        text = f"{b.setpoint_c:g}\u00a0°C"
        if b.preheat_min:
            text += f" · préchauffage {b.preheat_min}\u00a0min"
        heat.append(html.Span(text, className="cal-heat"))
    if b.heating_note:
        heat.append(html.Span(b.heating_note, className="cal-note"))
    label = f"{start:%H:%M}–{end:%H:%M}"
    return html.Button(
        [
            html.Span(label, className="cal-time"),
            html.Span((f"{b.room_code} · " if with_room else "") + b.title, className="cal-title"),
            *heat,
        ],
        id={"type": "res-booking", "id": b.id},
        className=f"cal-booking status-{b.status}",
        title=f"{b.title} ({bk.STATUS_LABELS_FR.get(b.status, b.status)}) : "
        f"{fr_datetime(b.starts_at)} – {fr_datetime(b.ends_at)}",
        n_clicks=0,
        **{"data-booking": str(b.id)},
    )


def _week_grid(rooms: list[dict], bookings: list[BookingView], first: dt.date) -> html.Table:
    days = [first + dt.timedelta(days=i) for i in range(7)]
    today = dt.datetime.now(TZ).date()
    cells: dict[tuple[int, dt.date], list] = {}
    for b in bookings:
        for day in _days_of(b, days[0], days[-1]):
            cells.setdefault((b.room_id, day), []).append(_chip(b, with_room=False))
    head = html.Thead(
        html.Tr(
            [html.Th("Salle")]
            + [
                html.Th(
                    f"{WEEKDAYS_FR[d.weekday()]} {d:%d/%m}",
                    className="cal-day" + (" cal-today" if d == today else ""),
                )
                for d in days
            ]
        )
    )
    body = [
        html.Tr(
            [
                html.Th(
                    [html.Span(r["name"]), html.Span(r["code"], className="code")],
                    className="cal-room",
                )
            ]
            + [html.Td(cells.get((r["id"], d), []), className="cal-cell") for d in days],
            **{"data-room": r["code"]},
        )
        for r in rooms
    ]
    return html.Table([head, html.Tbody(body)], className="cal cal-week", id="res-week")


def _month_grid(
    bookings: list[BookingView], first: dt.date, last: dt.date, with_room: bool
) -> html.Table:
    start = first - dt.timedelta(days=first.weekday())
    end = last + dt.timedelta(days=6 - last.weekday())
    by_day: dict[dt.date, list] = {}
    for b in bookings:
        for day in _days_of(b, first, last):
            by_day.setdefault(day, []).append(_chip(b, with_room))
    today = dt.datetime.now(TZ).date()
    weeks, day = [], start
    while day <= end:
        row = []
        for _ in range(7):
            cls = "cal-cell" + ("" if first <= day <= last else " cal-out")
            cls += " cal-today" if day == today else ""
            row.append(
                html.Td(
                    [html.Div(f"{day.day}", className="cal-daynum")] + by_day.get(day, []),
                    className=cls,
                    **{"data-day": day.isoformat()},
                )
            )
            day += dt.timedelta(days=1)
        weeks.append(html.Tr(row))
    head = html.Thead(html.Tr([html.Th(w, className="cal-day") for w in WEEKDAYS_FR]))
    return html.Table([head, html.Tbody(weeks)], className="cal cal-month", id="res-month")


def _form(rooms: list[dict], editable: bool) -> html.Div:
    room_options = [
        {"label": f"{r['building_name']} – {r['name']}", "value": r["code"]} for r in rooms
    ]

    return html.Div(
        className="card res-form",
        id="res-form",
        hidden=not editable,
        children=[
            html.H2("Réservation", id="res-form-title"),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Salle",
                        dcc.Dropdown(
                            room_options,
                            rooms[0]["code"] if rooms else None,
                            id="res-f-room",
                            clearable=False,
                        ),
                    ),
                    field("Titre", dcc.Input(id="res-f-title", type="text", className="input")),
                    field(
                        "Organisateur",
                        dcc.Input(id="res-f-organiser", type="text", className="input"),
                    ),
                    field(
                        "Effectif attendu",
                        dcc.Input(id="res-f-attendance", type="number", min=0, className="input"),
                    ),
                    field(
                        "Début (jj/mm/aaaa hh:mm)",
                        dcc.Input(
                            id="res-f-start",
                            type="text",
                            placeholder="05/12/2026 19:00",
                            className="input",
                        ),
                    ),
                    field(
                        "Fin (jj/mm/aaaa hh:mm)",
                        dcc.Input(
                            id="res-f-end",
                            type="text",
                            placeholder="05/12/2026 23:00",
                            className="input",
                        ),
                    ),
                    field(
                        "Statut",
                        dcc.Dropdown(
                            STATUS_OPTIONS, "confirmed", id="res-f-status", clearable=False
                        ),
                    ),
                ],
            ),
            html.H3("Note de chauffage"),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Consigne (°C)",
                        dcc.Input(id="res-f-setpoint", type="number", step=0.5, className="input"),
                    ),
                    field(
                        "Préchauffage (min)",
                        dcc.Input(
                            id="res-f-preheat", type="number", min=0, step=15, className="input"
                        ),
                    ),
                    field(
                        "Consignes pour l'exploitant",
                        dcc.Textarea(
                            id="res-f-note",
                            placeholder="concert, portes à 19:30, la salle doit être à 19 °C",
                            className="input",
                        ),
                        wide=True,
                    ),
                ],
            ),
            html.H3("Répétition"),
            html.Div(
                className="form-grid",
                children=[
                    dcc.Checklist(
                        [{"label": " Chaque semaine", "value": "weekly"}],
                        [],
                        id="res-f-weekly",
                    ),
                    field(
                        "Jusqu'au (jj/mm/aaaa)",
                        dcc.Input(id="res-f-until", type="text", className="input"),
                    ),
                    field(
                        "Sauf les (dates séparées par des virgules)",
                        dcc.Input(id="res-f-except", type="text", className="input"),
                        wide=True,
                    ),
                ],
            ),
            html.Div(
                className="form-actions",
                children=[
                    html.Button("Enregistrer", id="res-save", className="btn btn-primary"),
                    html.Button(
                        "Annuler la réservation", id="res-cancel", className="btn btn-danger"
                    ),
                    html.Button(
                        "Annuler la série à partir de celle-ci",
                        id="res-cancel-series",
                        className="btn btn-danger",
                    ),
                    html.Button("Nouvelle réservation", id="res-new", className="btn"),
                ],
            ),
            html.Div(id="res-message", role="status"),
        ],
    )


def layout(**_query):
    user = current_user()
    rooms = rooms_of(db.engine(), user)
    buildings = {r["building"]: r["building_name"] for r in rooms}
    first_building = next(iter(buildings), None)
    editable = bool(user and user.can(EDIT))
    return html.Div(
        className="page reservations",
        children=[
            page_head(
                "Réservations",
                "Calendrier des salles et notes de chauffage (heure de Paris)."
                + ("" if editable else " Lecture seule."),
            ),
            html.Div(
                className="filters",
                children=[
                    dcc.Dropdown(
                        [{"label": n, "value": c} for c, n in buildings.items()],
                        first_building,
                        id="res-building",
                        clearable=False,
                        placeholder="Bâtiment",
                    ),
                    dcc.Dropdown(id="res-room", placeholder="Toutes les salles", clearable=True),
                    dcc.RadioItems(
                        [
                            {"label": " Semaine", "value": "week"},
                            {"label": " Mois", "value": "month"},
                        ],
                        "week",
                        id="res-view",
                        inline=True,
                        className="res-view",
                    ),
                    html.Button("‹", id="res-prev", className="btn", title="Période précédente"),
                    html.Button("Aujourd'hui", id="res-today", className="btn"),
                    html.Button("›", id="res-next", className="btn", title="Période suivante"),
                    html.Strong(id="res-period", className="res-period"),
                ],
            ),
            dcc.Store(id="res-ref", data=dt.datetime.now(TZ).date().isoformat()),
            dcc.Store(id="res-refresh", data=0),
            dcc.Store(id="res-selected", data=None),
            html.Div(id="res-calendar", className="table-wrap cal-wrap"),
            _form(rooms, editable),
        ],
    )


# --- callbacks ----------------------------------------------------------------------------


@callback(
    Output("res-ref", "data"),
    Input("res-prev", "n_clicks"),
    Input("res-today", "n_clicks"),
    Input("res-next", "n_clicks"),
    State("res-ref", "data"),
    State("res-view", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def move_period(_prev, _today, _next, ref, view):
    ref_day = dt.date.fromisoformat(ref) if ref else dt.datetime.now(TZ).date()
    if ctx.triggered_id == "res-today":
        return dt.datetime.now(TZ).date().isoformat()
    step = 1 if ctx.triggered_id == "res-next" else -1
    if view == "month":
        month = ref_day.replace(day=1)
        if step > 0:
            month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            month = (month - dt.timedelta(days=1)).replace(day=1)
        return month.isoformat()
    return (ref_day + dt.timedelta(days=7 * step)).isoformat()


@callback(
    Output("res-room", "options"), Output("res-room", "value"), Input("res-building", "value")
)
@guarded(CAPABILITY)
def room_options(building):
    rooms = [r for r in rooms_of(db.engine(), current_user()) if r["building"] == building]
    return [{"label": r["name"], "value": r["code"]} for r in rooms], None


@callback(
    Output("res-calendar", "children"),
    Output("res-period", "children"),
    Input("res-building", "value"),
    Input("res-room", "value"),
    Input("res-view", "value"),
    Input("res-ref", "data"),
    Input("res-refresh", "data"),
)
@guarded(CAPABILITY)
def render_calendar(building, room, view, ref, _refresh):
    user = current_user()
    ref_day = dt.date.fromisoformat(ref) if ref else dt.datetime.now(TZ).date()
    first, last = _period(view, ref_day)
    rooms = [r for r in rooms_of(db.engine(), user) if r["building"] == building]
    if room:
        rooms = [r for r in rooms if r["code"] == room]
    if not rooms:
        return html.P("Aucune salle réservable.", className="muted"), ""
    found = data.bookings_between(
        db.engine(),
        user,
        rooms[0]["building_id"],
        room,
        _midnight(first),
        _midnight(last + dt.timedelta(days=1)),
        {r["id"] for r in rooms},
    )
    grid = (
        _month_grid(found, first, last, with_room=not room)
        if view == "month"
        else _week_grid(rooms, found, first)
    )
    params = {"building": building, "room": room, "view": view, "ref": ref}
    return downloadable_table("res-calendar-grid", grid, params), _period_label(view, first, last)


def _calendar_again(p: dict):
    """The calendar the page shows for these choices, read again for the user (download)."""
    texts = [p.get(k) if isinstance(p.get(k), str) else None for k in ("building", "room", "view")]
    ref = p.get("ref") if isinstance(p.get("ref"), str) else None
    try:
        dt.date.fromisoformat(ref) if ref else None
    except ValueError:
        ref = None
    return render_calendar(*texts, ref, None)[0]


register_table("res-calendar-grid", CAPABILITY, _calendar_again, filename="reservations")


@callback(
    [Output(i, p) for i, p in FORM_FIELDS],
    Output("res-selected", "data"),
    Output("res-form-title", "children"),
    Input({"type": "res-booking", "id": ALL}, "n_clicks"),
    Input("res-new", "n_clicks"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def fill_form(clicks, _new):
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == "res-booking":
        if not any(clicks):
            return [no_update] * (len(FORM_FIELDS) + 2)
        b = data.booking(db.engine(), current_user(), int(trigger["id"]))
        if b is None:
            return [no_update] * (len(FORM_FIELDS) + 2)
        values = [
            b.room_code,
            b.title,
            b.organiser,
            b.attendance,
            fr_datetime(b.starts_at),
            fr_datetime(b.ends_at),
            b.status,
            b.setpoint_c,
            b.preheat_min,
            b.heating_note,
        ]
        title = f"Réservation n° {b.id}" + (f" (série n° {b.series_id})" if b.series_id else "")
        return [*values, b.id, title]
    # a new booking keeps the room chosen last
    return [
        no_update,
        "",
        "",
        None,
        "",
        "",
        "confirmed",
        None,
        None,
        "",
        None,
        "Nouvelle réservation",
    ]


def _number(value, cast):
    if value in (None, ""):
        return None
    return cast(value)


@callback(
    Output("res-message", "children"),
    Output("res-refresh", "data"),
    Output("res-selected", "data", allow_duplicate=True),
    Input("res-save", "n_clicks"),
    Input("res-cancel", "n_clicks"),
    Input("res-cancel-series", "n_clicks"),
    [State(i, p) for i, p in FORM_FIELDS],
    State("res-f-weekly", "value"),
    State("res-f-until", "value"),
    State("res-f-except", "value"),
    State("res-selected", "data"),
    State("res-refresh", "data"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def save(_save, _cancel, _cancel_series, room, title, organiser, attendance, start, end,
         status, setpoint, preheat, note, weekly, until, except_text, selected, refresh):  # fmt: skip
    user = current_user()
    engine = db.engine()
    try:
        if ctx.triggered_id == "res-cancel-series" and selected:
            cancelled = data.cancel_series_from(engine, user, int(selected))
            if cancelled is None:
                return (
                    alert(
                        "Cette réservation ne fait pas partie d'une série.",
                        "error",
                        "res-error",
                        role="alert",
                    ),
                    (no_update),
                    no_update,
                )
            series_title, day, n = cancelled
            return (
                alert(f"Série « {series_title} » : {n} occurrence(s) annulée(s) "
                      f"à partir du {day:%d/%m/%Y}.", "ok", "res-ok"),
                (refresh or 0) + 1,
                None,
            )  # fmt: skip
        if ctx.triggered_id in ("res-cancel", "res-cancel-series"):
            if not selected:
                return (
                    alert(
                        "Choisissez d'abord une réservation dans le calendrier.",
                        "error",
                        "res-error",
                        role="alert",
                    ),
                    (no_update),
                    no_update,
                )
            b = data.cancel_booking(engine, user, int(selected))
            return (
                alert(f"Réservation « {b.title} » annulée.", "ok", "res-ok"),
                (refresh or 0) + 1,
                None,
            )
        if not room:
            raise bk.BookingError("choisissez une salle")
        if not start or not end:
            raise bk.BookingError("indiquez le début et la fin (jj/mm/aaaa hh:mm)")
        fields = {
            "organiser": organiser or None,
            "attendance": _number(attendance, int),
            "status": status or "confirmed",
            "setpoint_c": _number(setpoint, float),
            "preheat_min": _number(preheat, int),
            "heating_note": note or None,
        }
        starts_at = bk.parse_local_datetime(start)
        ends_at = bk.parse_local_datetime(end)
        if selected:
            b = data.edit_booking(
                engine, user, int(selected), room=room, title=title or "", starts_at=starts_at,
                ends_at=ends_at, **fields,
            )  # fmt: skip
            return (
                alert(f"Réservation « {b.title} » enregistrée.", "ok", "res-ok"),
                (refresh or 0) + 1,
                b.id,
            )
        if weekly:
            if not until:
                raise bk.BookingError("indiquez la date de fin de la série")
            skip = {_parse_date(x) for x in (except_text or "").split(",") if x.strip()}
            series = data.create_series(
                engine, user, room, title or "", starts_at, ends_at, _parse_date(until), skip,
                **fields,
            )  # fmt: skip
            return _series_alert(*series), (refresh or 0) + 1, None
        b = data.create_booking(engine, user, room, title or "", starts_at, ends_at, **fields)
        return (
            alert(
                f"Réservation « {b.title} » créée : {fr_datetime(b.starts_at)} – {fr_datetime(b.ends_at)}.",
                "ok",
                "res-ok",
            ),
            (refresh or 0) + 1,
            None,
        )
    except bk.BookingConflict as exc:
        return (
            alert(f"Réservation refusée : {exc}", "error", "res-conflict", role="alert"),
            no_update,
            no_update,
        )
    except (bk.BookingError, ValueError) as exc:
        return alert(str(exc), "error", "res-error", role="alert"), no_update, no_update


def _parse_date(text: str) -> dt.date:
    from carnet.timeutil import parse_local_date

    try:
        return parse_local_date(text)
    except ValueError as exc:
        raise bk.BookingError(str(exc)) from exc


def _series_alert(created: int, skipped: int, conflicts: list[str]) -> html.Div:
    items = [html.Li(message) for message in conflicts]
    cls = "alert alert-error" if conflicts else "alert alert-ok"
    children = [
        html.P(
            f"Série : {created} occurrence(s) créée(s)"
            + (f", {skipped} exception(s)" if skipped else "")
            + (f", {len(conflicts)} refusée(s) pour conflit :" if conflicts else ".")
        )
    ]
    if items:
        children.append(html.Ul(items, id="res-series-conflicts"))
    return html.Div(children, className=cls, id="res-series")
