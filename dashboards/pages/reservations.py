"""Réservations: week and month calendars of the bookable rooms, per room or per building, a
list of the coming bookings, and on a phone a day list instead of the grids (CSS chooses); the
booking form with its heating note (the programmer and the manager) offers the rooms of the
calendar's building and takes a slot clicked in the grid; cancelling is offered only for an
existing booking, and confirmed. The contractor reads the calendars and their heating notes.
Every write goes through `carnet.bookings`, which checks the role again and refuses conflicts
naming the other booking."""

from __future__ import annotations

import datetime as dt
import re

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from carnet import bookings as bk
from carnet.timeutil import TZ
from dashboards import db
from dashboards import reservations_data as data
from dashboards import reservations_views as views
from dashboards.auth import current_user, guarded
from dashboards.components import alert, downloadable_table, field, page_head
from dashboards.downloads import register_table
from dashboards.fmt import fr_datetime
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

MONTHS_FR = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip
STATUS_OPTIONS = [
    {"label": "Confirmée", "value": "confirmed"},
    {"label": "Option", "value": "option"},
    {"label": "Annulée", "value": "cancelled"},
]
VIEW_OPTIONS = [
    {"label": "Semaine", "value": "week"},
    {"label": "Mois", "value": "month"},
    {"label": "Liste", "value": "list"},
]
LIST_DAYS = 28  # the list view: four weeks of coming bookings from the reference day
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
# the repetition fields, and the values of an empty form after the room (kept: see _empty_form)
REPEAT_FIELDS = [("res-f-weekly", "value"), ("res-f-until", "value"), ("res-f-except", "value")]
EMPTY_VALUES = ["", "", None, "", "", "confirmed", None, None, "", [], "", ""]
NEW_TITLE = "Nouvelle réservation"
TIME_OF_DAY = re.compile(r"\d{1,2}\s*[:h]\s*\d{2}")


def _period(view: str, ref: dt.date) -> tuple[dt.date, dt.date]:
    if view == "month":
        first = ref.replace(day=1)
        nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    if view == "list":
        return ref, ref + dt.timedelta(days=LIST_DAYS - 1)
    monday = ref - dt.timedelta(days=ref.weekday())
    return monday, monday + dt.timedelta(days=6)


def _period_label(view: str, first: dt.date, last: dt.date) -> str:
    if view == "month":
        return f"{MONTHS_FR[first.month - 1].capitalize()} {first.year}"
    if view == "list":
        return f"Du {first:%d/%m/%Y} au {last:%d/%m/%Y}"
    return f"Semaine du {first:%d/%m/%Y} au {last:%d/%m/%Y}"


def _midnight(day: dt.date) -> dt.datetime:
    return bk.localize(dt.datetime.combine(day, dt.time()))


def _building_rooms(user, building) -> list[dict]:
    return [r for r in rooms_of(db.engine(), user) if r["building"] == building]


def _room_options(rooms: list[dict]) -> list[dict]:
    return [{"label": f"{r['building_name']} – {r['name']}", "value": r["code"]} for r in rooms]


def _form_room(rooms: list[dict], calendar_room: str | None, current: str | None) -> str | None:
    """The form's room among the building's `rooms`: the calendar's room if one is chosen, else
    the current one if it is still there, else the only room; None (cleared) otherwise."""
    codes = [r["code"] for r in rooms]
    for choice in (calendar_room, current):
        if choice in codes:
            return choice
    return codes[0] if len(codes) == 1 else None


def _form(rooms: list[dict], editable: bool) -> html.Div:
    """The booking form; its rooms are those of the calendar's building (see `form_rooms`)."""
    return html.Div(
        className="card res-form",
        id="res-form",
        hidden=not editable,
        children=[
            html.H2(NEW_TITLE, id="res-form-title"),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Salle",
                        dcc.Dropdown(
                            _room_options(rooms),
                            _form_room(rooms, None, None),
                            id="res-f-room",
                            clearable=False,
                            placeholder="Choisissez une salle",
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
                    html.Button(NEW_TITLE, id="res-new", className="btn btn-secondary"),
                    # shown for an existing booking only (see `destructive_actions`), confirmed
                    html.Div(
                        className="res-danger-zone",
                        children=[
                            html.Button(
                                "Annuler la réservation",
                                id="res-cancel",
                                className="btn btn-secondary btn-danger-outline",
                                hidden=True,
                            ),
                            html.Button(
                                "Annuler la série à partir de celle-ci",
                                id="res-cancel-series",
                                className="btn btn-secondary btn-danger-outline",
                                hidden=True,
                            ),
                        ],
                    ),
                ],
            ),
            dcc.ConfirmDialog(id="res-confirm-cancel"),
            dcc.ConfirmDialog(id="res-confirm-series"),
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
                className="filters res-filters",
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
                        VIEW_OPTIONS,
                        "week",
                        id="res-view",
                        inline=True,
                        className="res-view",
                    ),
                    html.Div(
                        className="res-nav",
                        children=[
                            html.Button(
                                "‹",
                                id="res-prev",
                                className="btn btn-secondary",
                                title="Période précédente",
                            ),
                            html.Button(
                                "Aujourd'hui", id="res-today", className="btn btn-secondary"
                            ),
                            html.Button(
                                "›",
                                id="res-next",
                                className="btn btn-secondary",
                                title="Période suivante",
                            ),
                        ],
                    ),
                    html.Strong(id="res-period", className="res-period"),
                ],
            ),
            dcc.Store(id="res-ref", data=dt.datetime.now(TZ).date().isoformat()),
            dcc.Store(id="res-refresh", data=0),
            dcc.Store(id="res-selected", data=None),
            html.Div(id="res-calendar", className="table-wrap cal-wrap"),
            _form(
                [r for r in rooms if r["building"] == first_building] if editable else [],
                editable,
            ),
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
    days = LIST_DAYS if view == "list" else 7
    return (ref_day + dt.timedelta(days=days * step)).isoformat()


@callback(
    Output("res-room", "options"), Output("res-room", "value"), Input("res-building", "value")
)
@guarded(CAPABILITY)
def room_options(building):
    rooms = _building_rooms(current_user(), building)
    return [{"label": r["name"], "value": r["code"]} for r in rooms], None


@callback(
    Output("res-f-room", "options"),
    Output("res-f-room", "value", allow_duplicate=True),
    Input("res-building", "value"),
    Input("res-room", "value"),
    State("res-f-room", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def form_rooms(building, calendar_room, current):
    """The form offers the rooms of the calendar's building only, so that the room booked is
    the one looked at; a room outside it is cleared."""
    rooms = _building_rooms(current_user(), building)
    return _room_options(rooms), _form_room(rooms, calendar_room, current)


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
    editable = bool(user and user.can(EDIT))
    ref_day = dt.date.fromisoformat(ref) if ref else dt.datetime.now(TZ).date()
    first, last = _period(view, ref_day)
    rooms = _building_rooms(user, building)
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
    by_id = {r["id"]: r for r in rooms}
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    label = _period_label(view, first, last)
    params = {"building": building, "room": room, "view": view, "ref": ref}
    if view == "list":
        return downloadable_table(
            "res-calendar-grid", views.booking_list(by_id, found), params
        ), label
    if view == "month":
        codes = None if room else {r["id"]: r["code"] for r in rooms}
        grid = views.month_grid(found, first, last, codes)
    else:
        grid = views.week_grid(rooms, found, first, editable)
    grid = downloadable_table("res-calendar-grid", grid, params)
    # both in the page: the CSS shows the day list instead of the grid on a narrow screen
    daily = views.day_list(by_id, found, days, editable, keep_empty=view == "week")
    return [grid, daily], label


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


def _clicked() -> bool:
    """Whether the trigger is a click, not a pattern-matching button just drawn (n_clicks 0)."""
    return any(t.get("value") for t in ctx.triggered)


def _empty_form(title: str = NEW_TITLE) -> list:
    """Every field but the room emptied, no booking selected: a save after a save creates
    nothing twice."""
    return [no_update, *EMPTY_VALUES, None, title]


FORM_OUTPUTS = [
    *(Output(i, p, allow_duplicate=True) for i, p in FORM_FIELDS + REPEAT_FIELDS),
    Output("res-selected", "data", allow_duplicate=True),
    Output("res-form-title", "children", allow_duplicate=True),
]


@callback(
    *FORM_OUTPUTS,
    Input({"type": "res-booking", "id": ALL, "at": ALL}, "n_clicks"),
    Input({"type": "res-slot", "room": ALL, "day": ALL}, "n_clicks"),
    Input({"type": "res-pick-room", "room": ALL}, "n_clicks"),
    Input("res-new", "n_clicks"),
    State("res-f-room", "options"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def fill_form(_bookings, _slots, _picks, _new, room_options):
    """A booking clicked opens it; a free slot or a room of the calendar starts a new booking
    there (the room only if the form offers it); « Nouvelle réservation » empties the form."""
    unchanged = [no_update] * len(FORM_OUTPUTS)
    trigger = ctx.triggered_id
    kind = trigger.get("type") if isinstance(trigger, dict) else trigger
    if kind != "res-new" and not _clicked():
        return unchanged
    offered = {o["value"] for o in room_options or []}
    if kind == "res-booking":
        b = data.booking(db.engine(), current_user(), int(trigger["id"]))
        if b is None:
            return unchanged
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
            [],
            "",
            "",
        ]
        title = f"Réservation n° {b.id}" + (f" (série n° {b.series_id})" if b.series_id else "")
        return [*values, b.id, title]
    if kind == "res-pick-room":
        room = trigger["room"] if trigger["room"] in offered else no_update
        return [room, *[no_update] * (len(FORM_OUTPUTS) - 1)]
    form = _empty_form()
    if kind == "res-slot":
        if trigger["room"] in offered:
            form[0] = trigger["room"]
        day = dt.date.fromisoformat(trigger["day"])
        form[FORM_FIELDS.index(("res-f-start", "value"))] = f"{day:%d/%m/%Y} "
        form[FORM_FIELDS.index(("res-f-end", "value"))] = f"{day:%d/%m/%Y} "
    return form


@callback(
    Output("res-cancel", "hidden"),
    Output("res-cancel-series", "hidden"),
    Input("res-selected", "data"),
)
@guarded(CAPABILITY)
def destructive_actions(selected):
    """Cancelling shows only for an existing booking (not already cancelled), cancelling the
    series only for a booking of a series."""
    b = data.booking(db.engine(), current_user(), int(selected)) if selected else None
    if b is None:
        return True, True
    return b.status == "cancelled", b.series_id is None


@callback(
    Output("res-confirm-cancel", "displayed"),
    Output("res-confirm-cancel", "message"),
    Output("res-confirm-series", "displayed"),
    Output("res-confirm-series", "message"),
    Input("res-cancel", "n_clicks"),
    Input("res-cancel-series", "n_clicks"),
    State("res-selected", "data"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def ask_confirmation(_cancel, _series, selected):
    """The question the browser asks before a cancellation, naming what would be cancelled."""
    b = data.booking(db.engine(), current_user(), int(selected)) if selected else None
    if b is None:
        return [no_update] * 4
    when = fr_datetime(b.starts_at)
    if ctx.triggered_id == "res-cancel-series":
        text = (
            f"Annuler la série « {b.title} » à partir du {when[:10]} : cette occurrence et "
            "toutes les suivantes ?"
        )
        return no_update, no_update, True, text
    text = f"Annuler la réservation « {b.title} » du {when} ? Elle restera visible, barrée."
    return True, text, no_update, no_update


def _with_time(text: str | None) -> bool:
    """A start or end typed with its hour: a date alone would silently mean midnight."""
    return bool(TIME_OF_DAY.search(text or ""))


def _number(value, cast):
    if value in (None, ""):
        return None
    return cast(value)


@callback(
    Output("res-message", "children"),
    Output("res-refresh", "data"),
    *FORM_OUTPUTS,
    Input("res-save", "n_clicks"),
    Input("res-confirm-cancel", "submit_n_clicks"),
    Input("res-confirm-series", "submit_n_clicks"),
    [State(i, p) for i, p in FORM_FIELDS],
    State("res-f-weekly", "value"),
    State("res-f-until", "value"),
    State("res-f-except", "value"),
    State("res-selected", "data"),
    State("res-refresh", "data"),
    prevent_initial_call=True,
    running=[(Output("res-save", "disabled"), True, False)],
)
@guarded(EDIT)
def save(_save, _cancel, _cancel_series, room, title, organiser, attendance, start, end,
         status, setpoint, preheat, note, weekly, until, except_text, selected, refresh):  # fmt: skip
    """Save, cancel or cancel the series (after the browser's confirmation); a success empties
    the form and redraws the calendar, a refusal keeps the form as typed."""
    user = current_user()
    engine = db.engine()
    kept = [no_update] * len(FORM_OUTPUTS)

    def done(message):
        return [message, (refresh or 0) + 1, *_empty_form()]

    def refused(message):
        return [message, no_update, *kept]

    try:
        if ctx.triggered_id in ("res-confirm-cancel", "res-confirm-series") and not selected:
            return refused(
                alert("Choisissez d'abord une réservation dans le calendrier.", "error",
                      "res-error", role="alert")
            )  # fmt: skip
        if ctx.triggered_id == "res-confirm-series":
            cancelled = data.cancel_series_from(engine, user, int(selected))
            if cancelled is None:
                return refused(
                    alert("Cette réservation ne fait pas partie d'une série.", "error",
                          "res-error", role="alert")
                )  # fmt: skip
            series_title, day, n = cancelled
            return done(
                alert(f"Série « {series_title} » : {n} occurrence(s) annulée(s) "
                      f"à partir du {day:%d/%m/%Y}.", "ok", "res-ok")
            )  # fmt: skip
        if ctx.triggered_id == "res-confirm-cancel":
            b = data.cancel_booking(engine, user, int(selected))
            return done(alert(f"Réservation « {b.title} » annulée.", "ok", "res-ok"))
        if not room:
            raise bk.BookingError("choisissez une salle")
        if not _with_time(start) or not _with_time(end):
            raise bk.BookingError("indiquez le début et la fin avec l'heure (jj/mm/aaaa hh:mm)")
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
            return done(alert(f"Réservation « {b.title} » enregistrée.", "ok", "res-ok"))
        if weekly:
            if not until:
                raise bk.BookingError("indiquez la date de fin de la série")
            skip = {_parse_date(x) for x in (except_text or "").split(",") if x.strip()}
            series = data.create_series(
                engine, user, room, title or "", starts_at, ends_at, _parse_date(until), skip,
                **fields,
            )  # fmt: skip
            return done(_series_alert(*series))
        b = data.create_booking(engine, user, room, title or "", starts_at, ends_at, **fields)
        return done(
            alert(
                f"Réservation « {b.title} » créée : {fr_datetime(b.starts_at)} – {fr_datetime(b.ends_at)}.",
                "ok",
                "res-ok",
            )
        )
    except bk.BookingConflict as exc:
        return refused(alert(f"Réservation refusée : {exc}", "error", "res-conflict", role="alert"))
    except (bk.BookingError, ValueError) as exc:
        return refused(alert(str(exc), "error", "res-error", role="alert"))


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
