"""Retours d'expérience (`/retours-experience`): coming back together on an incident to learn
from the real work. Each one shows the incident's entries, every contributor's account, what
was learned and the decisions; the forms let each role do its part (an agent or the
contractor writes its account, the manager and the contractor open one, the manager decides).
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from carnet.access import CarnetPermissionError
from dashboards import db
from dashboards.auth import current_user, guarded
from dashboards.components import alert, date_field, field, page_head
from dashboards.rex_data import account, decision, decision_done, lessons, open_one, rex_page

CAPABILITY = "rex.view"

dash.register_page(
    __name__,
    path="/retours-experience",
    name="Retours d'expérience",
    title="Retours d'expérience · Carnet",
    description="Revenir ensemble sur un incident : les récits, ce qui a été appris, les décisions.",
    order=26,
    capability=CAPABILITY,
)


def _rex_article(r: dict) -> html.Article:
    decisions = [
        html.Li(
            [
                html.Span(d["status_label"], className=f"status status-{d['status']}"),
                f" {d['text']} — {d['owner']}",
                f", pour le {d['due']}" if d["due"] else "",
                html.Span(" (en retard)", className="bad") if d["overdue"] else "",
            ],
            **{"data-decision": str(d["id"])},
        )
        for d in r["decisions"]
    ]
    return html.Article(
        className=f"rex rex-{r['status']}",
        **{"data-rex": str(r["id"])},
        children=[
            html.H2(f"n° {r['id']} · {r['title']}"),
            html.Div(
                [
                    html.Span(r["date"], className="date"),
                    html.Span(f"{r['building_code']} · {r['building_name']}", className="author"),
                    html.Span(r["status_label"], className=f"status status-{r['status']}"),
                ],
                className="entry-meta",
            ),
            html.P(r["summary"], className="entry-text"),
            html.Ul(
                [
                    html.Li(f"{x['date']} · {x['label']} n° {x['id']} : {x['text']}")
                    for x in r["links"]
                ],
                className="rex-links",
            )
            if r["links"]
            else None,
            html.H3("Récits"),
            html.Div(
                [
                    html.Blockquote(
                        [html.P(a["text"]), html.Footer(f"{a['author_name']} ({a['role_label']})")],
                        **{"data-author": a["author_login"]},
                    )
                    for a in r["accounts"]
                ]
                or html.P("Aucun récit pour l'instant.", className="muted"),
                className="rex-accounts",
            ),
            html.H3("Ce que nous avons appris"),
            html.P(r["lessons"] or "À écrire ensemble.", className="rex-lessons"),
            html.H3("Décisions"),
            html.Ul(decisions, className="rex-decisions")
            if decisions
            else html.P("Aucune décision.", className="muted"),
        ],
    )


def _list(data: dict):
    if not data["rex"]:
        return html.P("Aucun retour d'expérience.", className="muted")
    return [_rex_article(r) for r in data["rex"]]


def _forms(user, data: dict) -> list:
    """Every form is laid out (one callback takes all their fields); those the user's role
    may not use are hidden, and `carnet.rex` refuses them anyway."""
    rex_options = [{"label": f"n° {r['id']} · {r['title']}", "value": r["id"]} for r in data["rex"]]
    opening = [
        html.Summary("Ouvrir un retour d'expérience"),
        field(
            "Bâtiment",
            dcc.Dropdown(
                id="rex-building",
                clearable=False,
                options=[{"label": f"{c} · {n}", "value": c} for c, n in data["buildings"]],
            ),
        ),
        field("Incident", dcc.Input(id="rex-title", type="text", className="input")),
        field("Date", date_field("rex-date")),
        field("Ce qui s'est passé", dcc.Textarea(id="rex-summary", rows=3, className="textarea")),
        field(
            "Entrées du carnet liées (n°)",
            dcc.Input(id="rex-entries", type="text", className="input"),
        ),
        field(
            "Réservations liées (n°)", dcc.Input(id="rex-bookings", type="text", className="input")
        ),
        html.Button("Ouvrir", id="rex-open", className="btn btn-primary"),
    ]
    telling = [
        html.Summary("Mon récit"),
        field("Retour d'expérience", dcc.Dropdown(id="rex-account-rex", options=rex_options)),
        field(
            "Ce que j'ai vu et vécu",
            dcc.Textarea(id="rex-account-text", rows=4, className="textarea"),
        ),
        html.Button("Enregistrer mon récit", id="rex-account-save", className="btn btn-primary"),
    ]
    deciding = [
        html.Summary("Enseignements et décisions"),
        field("Retour d'expérience", dcc.Dropdown(id="rex-decide-rex", options=rex_options)),
        field(
            "Ce que nous avons appris", dcc.Textarea(id="rex-lessons", rows=3, className="textarea")
        ),
        html.Button(
            "Enregistrer les enseignements", id="rex-lessons-save", className="btn btn-secondary"
        ),
        field("Décision", dcc.Input(id="rex-decision-text", type="text", className="input")),
        field("Qui", dcc.Input(id="rex-decision-owner", type="text", className="input")),
        field("Pour le", date_field("rex-decision-due")),
        html.Button("Ajouter la décision", id="rex-decision-save", className="btn btn-primary"),
        field(
            "Décision faite",
            dcc.Dropdown(
                id="rex-done-decision",
                options=[{"label": d["label"], "value": d["id"]} for d in data["open_decisions"]],
            ),
        ),
        html.Button("Marquer comme faite", id="rex-done-save", className="btn btn-secondary"),
    ]
    return [
        html.Details(children, className="form rex-form", id=form_id, hidden=not user.can(cap))
        for form_id, cap, children in (
            ("rex-form-open", "rex.open", opening),
            ("rex-form-account", "rex.account", telling),
            ("rex-form-decide", "rex.decide", deciding),
        )
    ]  # fmt: skip


def layout(**_query):
    user = current_user()
    data = rex_page(db.engine(), user)
    return html.Div(
        className="page rex",
        children=[
            page_head(
                "Retours d'expérience",
                "Revenir ensemble sur un incident, un désaccord ou un mécontentement, "
                "pour apprendre du travail réel plutôt que chercher un coupable.",
            ),
            html.Div(_forms(user, data), className="rex-forms"),
            html.Div(id="rex-msg"),
            html.Div(_list(data), id="rex-list", className="timeline"),
        ],
    )


# the page's actions: button id -> the form's fields (State ids, in the action's order)
ACTIONS = {
    "rex-open": ("rex-building", "rex-title", "rex-summary", "rex-date", "rex-entries",
                 "rex-bookings"),
    "rex-account-save": ("rex-account-rex", "rex-account-text"),
    "rex-lessons-save": ("rex-decide-rex", "rex-lessons"),
    "rex-decision-save": ("rex-decide-rex", "rex-decision-text", "rex-decision-owner",
                          "rex-decision-due"),
    "rex-done-save": ("rex-done-decision",),
}  # fmt: skip
FIELDS = list(dict.fromkeys(f for fields in ACTIONS.values() for f in fields))
DATE_FIELDS = ("rex-date", "rex-decision-due")  # date pickers: their value is `date`
DONE_FR = {
    "rex-open": "Retour d'expérience n° {} ouvert.",
    "rex-account-save": "Votre récit est enregistré.",
    "rex-lessons-save": "Enseignements enregistrés.",
    "rex-decision-save": "Décision n° {} ajoutée.",
    "rex-done-save": "Décision marquée comme faite.",
}


def _run(action: str, user, values: dict):
    engine = db.engine()
    args = [values.get(f) for f in ACTIONS[action]]
    if action == "rex-open":
        return open_one(engine, user, *args)
    if action == "rex-account-save":
        return account(engine, user, *args)
    if action == "rex-lessons-save":
        return lessons(engine, user, *args)
    if action == "rex-decision-save":
        return decision(engine, user, *args)
    return decision_done(engine, user, *args)


@callback(
    Output("rex-msg", "children"),
    Output("rex-list", "children"),
    *[Input(button, "n_clicks") for button in ACTIONS],
    *[State(f, "date" if f in DATE_FIELDS else "value") for f in FIELDS],
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def act(*args):
    action = ctx.triggered_id
    if action not in ACTIONS or not args[list(ACTIONS).index(action)]:
        raise PreventUpdate
    values = dict(zip(FIELDS, args[len(ACTIONS) :], strict=True))
    if any(values.get(f) in (None, "") for f in ACTIONS[action][:2]):
        return alert("Champs obligatoires manquants.", "error"), dash.no_update
    user = current_user()
    try:
        made = _run(action, user, values)
    except CarnetPermissionError as exc:
        return alert(str(exc), "error"), dash.no_update
    except (LookupError, ValueError) as exc:
        return alert(str(exc).strip("'\""), "error"), dash.no_update
    message = alert(DONE_FR[action].format(made), "ok")
    return message, _list(rex_page(db.engine(), user))
