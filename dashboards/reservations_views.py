"""The calendar views of the bookings page: the week grid (rooms by days), the month grid, the
day list a phone shows instead of either (one block per day) and the list of coming bookings.
They take what `reservations_data` returned and the page's `editable` flag, and read neither
the request nor the database.

A booking drawn twice (the week grid and its day list are both in the page; CSS shows one per
width) carries the view in its id, `{"type": "res-booking", "id": ..., "at": ...}`, so that
the ids stay unique and one pattern-matching callback hears all of them."""

from __future__ import annotations

import datetime as dt

from dash import html

from carnet import bookings as bk
from carnet.timeutil import TZ
from dashboards.fmt import fr_datetime
from dashboards.reservations_data import BookingView

WEEKDAYS_FR = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]


def local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(TZ)


def days_of(b: BookingView, first: dt.date, last: dt.date) -> list[dt.date]:
    """Local days the booking covers within [first, last]."""
    d0 = local(b.starts_at).date()
    d1 = local(b.ends_at - dt.timedelta(seconds=1)).date()
    out, day = [], max(d0, first)
    while day <= min(d1, last):
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def heating_text(b: BookingView) -> str:
    """Setpoint and pre-heating, e.g. `19 °C · préchauffage 90 min` ('' without a setpoint)."""
    if b.setpoint_c is None:
        return ""
    text = f"{b.setpoint_c:g}\u00a0°C"
    if b.preheat_min:
        text += f" · préchauffage {b.preheat_min}\u00a0min"
    return text


def _heat_spans(b: BookingView) -> list[html.Span]:
    spans = []
    if heat := heating_text(b):
        spans.append(html.Span(heat, className="cal-heat"))
    if b.heating_note:
        spans.append(html.Span(b.heating_note, className="cal-note"))
    return spans


def _time_range(b: BookingView) -> str:
    return f"{local(b.starts_at):%H:%M}–{local(b.ends_at):%H:%M}"


def chip(b: BookingView, room_label: str, at: str) -> html.Button:
    """A booking as a button (clicking it opens it in the form); `room_label` is '' when the
    room is already said by the row."""
    return html.Button(
        [
            html.Span(_time_range(b), className="cal-time"),
            html.Span((f"{room_label} · " if room_label else "") + b.title, className="cal-title"),
            *_heat_spans(b),
        ],
        id={"type": "res-booking", "id": b.id, "at": at},
        className=f"cal-booking status-{b.status}",
        title=f"{b.title} ({bk.STATUS_LABELS_FR.get(b.status, b.status)}) : "
        f"{fr_datetime(b.starts_at)} – {fr_datetime(b.ends_at)}",
        n_clicks=0,
        **{"data-booking": str(b.id)},
    )


def _slot(room: dict | None, day: dt.date) -> html.Button:
    """A free slot to book: the room (None: keep the form's) and the day go into the form."""
    where = f" {room['name']}" if room else ""
    return html.Button(
        "+" if room else "+ Réserver",
        id={"type": "res-slot", "room": room["code"] if room else "", "day": day.isoformat()},
        className="cal-slot",
        title=f"Réserver{where} le {day:%d/%m/%Y}",
        n_clicks=0,
        **{"aria-label": f"Réserver{where} le {day:%d/%m/%Y}"},
    )


def _day_head(d: dt.date, with_year: bool = False) -> list[html.Span]:
    return [
        html.Span(WEEKDAYS_FR[d.weekday()], className="cal-weekday"),
        html.Span(f"{d:%d/%m/%Y}" if with_year else f"{d:%d/%m}", className="cal-date"),
    ]


def week_grid(
    rooms: list[dict], bookings: list[BookingView], first: dt.date, editable: bool
) -> html.Table:
    days = [first + dt.timedelta(days=i) for i in range(7)]
    today = dt.datetime.now(TZ).date()
    cells: dict[tuple[int, dt.date], list] = {}
    for b in bookings:
        for day in days_of(b, days[0], days[-1]):
            cells.setdefault((b.room_id, day), []).append(chip(b, "", "week"))
    head = html.Thead(
        html.Tr(
            [html.Th("Salle", className="cal-room-head")]
            + [
                html.Th(_day_head(d), className="cal-day" + (" cal-today" if d == today else ""))
                for d in days
            ]
        )
    )

    def room_head(r: dict):
        label = [html.Span(r["name"]), html.Span(r["code"], className="code")]
        if not editable:
            return label
        pick = {"type": "res-pick-room", "room": r["code"]}
        return html.Button(
            label, id=pick, className="cal-pick", n_clicks=0, title=f"Réserver {r['name']}"
        )

    body = [
        html.Tr(
            [html.Th(room_head(r), className="cal-room")]
            + [
                html.Td(
                    cells.get((r["id"], d), []) + ([_slot(r, d)] if editable else []),
                    className="cal-cell",
                )
                for d in days
            ],
            **{"data-room": r["code"]},
        )
        for r in rooms
    ]
    return html.Table([head, html.Tbody(body)], className="cal cal-week", id="res-week")


def month_grid(
    bookings: list[BookingView], first: dt.date, last: dt.date, room_codes: dict[int, str] | None
) -> html.Table:
    """`room_codes` (room id -> code) names the room on each booking; None when one room only."""
    start = first - dt.timedelta(days=first.weekday())
    end = last + dt.timedelta(days=6 - last.weekday())
    by_day: dict[dt.date, list] = {}
    for b in bookings:
        label = room_codes.get(b.room_id, b.room_code) if room_codes else ""
        for day in days_of(b, first, last):
            by_day.setdefault(day, []).append(chip(b, label, "month"))
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


def day_list(
    rooms: dict[int, dict],
    bookings: list[BookingView],
    days: list[dt.date],
    editable: bool,
    keep_empty: bool,
) -> html.Div:
    """One block per day (the days without bookings too if `keep_empty`), its bookings in time
    order with time, room, title and heating note: the week or month as a phone reads it."""
    by_day: dict[dt.date, list[BookingView]] = {}
    for b in bookings:
        for day in days_of(b, days[0], days[-1]):
            by_day.setdefault(day, []).append(b)
    today = dt.datetime.now(TZ).date()
    blocks = []
    for d in days:
        found = by_day.get(d, [])
        if not found and not keep_empty:
            continue
        items = [
            html.Li(chip(b, rooms[b.room_id]["name"] if b.room_id in rooms else b.room_code, "day"))
            for b in found
        ]
        blocks.append(
            html.Section(
                [
                    html.Div(
                        [
                            html.H3(_day_head(d, with_year=True)),
                            *([_slot(None, d)] if editable else []),
                        ],
                        className="cal-daylist-head",
                    ),
                    html.Ul(items, className="cal-daylist-items")
                    if items
                    else html.P("Aucune réservation.", className="muted cal-daylist-empty"),
                ],
                className="cal-daylist-day" + (" cal-today" if d == today else ""),
                **{"data-day": d.isoformat()},
            )
        )
    if not blocks:
        blocks = [html.P("Aucune réservation sur la période.", className="muted")]
    return html.Div(blocks, className="cal-days", id="res-days")


LIST_HEAD = ["Date", "Heure", "Bâtiment", "Salle", "Titre", "Note de chauffage", "Statut"]


def booking_list(rooms: dict[int, dict], bookings: list[BookingView]) -> html.Div:
    """The coming bookings as a table (each cell labelled, so that a phone stacks a row into a
    card), the title opening the booking in the form."""
    if not bookings:
        return html.Div(
            html.P("Aucune réservation sur la période.", className="muted"),
            className="res-list",
            id="res-list",
        )
    rows = []
    for b in bookings:
        room = rooms.get(b.room_id, {})
        heat = " · ".join(x for x in (heating_text(b), b.heating_note or "") if x)
        values = [
            (f"{local(b.starts_at):%d/%m/%Y}", "date"),
            (_time_range(b), "date"),
            (room.get("building_name", ""), ""),
            (room.get("name", b.room_code), ""),
            (
                html.Button(
                    b.title or "(sans titre)",
                    id={"type": "res-booking", "id": b.id, "at": "list"},
                    className="res-list-open",
                    n_clicks=0,
                    title="Ouvrir dans le formulaire",
                ),
                "",
            ),
            (heat or "—", "res-list-heat"),
            (bk.STATUS_LABELS_FR.get(b.status, b.status), f"status status-{b.status}"),
        ]
        rows.append(
            html.Tr(
                [
                    html.Td(v, **({"className": cls} if cls else {}), **{"data-label": label})
                    for (v, cls), label in zip(values, LIST_HEAD, strict=True)
                ],
                className=f"status-{b.status}",
                **{"data-booking": str(b.id)},
            )
        )
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in LIST_HEAD])), html.Tbody(rows)],
        className="data-table res-list-table",
    )
    return html.Div(table, className="res-list", id="res-list")
