"""Administration (`/administration`, the manager only): users, buildings, rooms, equipment,
channels, stations and the contracts' terms, edited in the browser through the portfolio
file's loader (`carnet.admin`: same validation, audit before/after). A user gets a one-time
link to set a password, shown once here."""

from __future__ import annotations

import dash
import flask
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from carnet.admin import PLACES, key_field
from dashboards import admin_data as data
from dashboards import admin_views as views
from dashboards.auth import current_user, guarded
from dashboards.components import alert, downloadable_table, page_head
from dashboards.downloads import register_table

CAPABILITY = "users.admin"

dash.register_page(
    __name__,
    path="/administration",
    name="Administration",
    title="Administration · Carnet",
    description="Utilisateurs, bâtiments, salles, équipements, points, stations et contrats.",
    order=90,
    capability=CAPABILITY,
)


def layout(**_query):
    return html.Div(
        className="page",
        children=[
            page_head(
                "Administration",
                "Chaque modification passe par la même validation que le fichier de patrimoine"
                " et est inscrite au journal d'audit (avant, après).",
            ),
            dcc.Tabs(
                id="adm-kind",
                value="user",
                children=[
                    dcc.Tab(label=label, value=kind) for kind, label in views.KIND_LABELS_FR.items()
                ],
            ),
            dcc.Store(id="adm-version", data=0),
            dcc.Store(id="adm-target"),
            html.Div(id="adm-user-message"),
            html.Div(
                className="filters",
                children=[html.Button("Ajouter", id="adm-add", className="btn btn-primary")],
            ),
            html.Div(id="adm-list", className="table-wrap"),
            html.Div(id="adm-form"),
        ],
    )


def _rebuilt(params: dict):
    """The kind's table as the page shows it (for its download); only the known kinds."""
    kind = params.get("type")
    if kind not in data.KINDS:
        flask.abort(404)
    return views.items_table(kind, data.items(kind))


register_table("adm-table", CAPABILITY, _rebuilt, filename="administration")


@callback(
    Output("adm-list", "children"),
    Output("adm-form", "children", allow_duplicate=True),
    Output("adm-target", "data", allow_duplicate=True),
    Input("adm-kind", "value"),
    Input("adm-version", "data"),
    prevent_initial_call="initial_duplicate",
)
@guarded(CAPABILITY)
def show_list(kind, _version):
    """The kind's table; a new tab also closes the form (in the same answer, so that a form
    opened right after is never closed by a late one)."""
    if kind not in data.KINDS:
        raise PreventUpdate
    table = html.Div(
        downloadable_table("adm-table", views.items_table(kind, data.items(kind)), {"type": kind}),
        id=f"adm-kind-{kind}",
    )
    if ctx.triggered_id == "adm-version":
        return table, dash.no_update, dash.no_update
    return table, None, None


@callback(
    Output("adm-form", "children"),
    Output("adm-target", "data"),
    Input("adm-add", "n_clicks"),
    Input({"type": "adm-edit", "kind": ALL, "parent": ALL, "key": ALL}, "n_clicks"),
    State("adm-kind", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def open_form(_add, _edits, kind):
    trigger = ctx.triggered_id
    if kind not in data.KINDS or trigger is None:
        raise PreventUpdate
    if not ctx.triggered[0]["value"]:  # the table was redrawn, nobody clicked
        raise PreventUpdate
    parents = PLACES[kind][1] or None
    if trigger == "adm-add":
        target = {"kind": kind, "new": True, "parent": None}
        form = views.item_form(kind, {}, data.choices(), new=True, parents=parents)
        return form, target
    parent = views.parent_of(trigger["parent"])
    values = data.item_values(trigger["kind"], parent, trigger["key"])
    if values is None:
        return alert("Cet élément n'existe plus.", "warn", "adm-gone"), None
    target = {"kind": trigger["kind"], "new": False, "parent": trigger["parent"]}
    form = views.item_form(
        trigger["kind"],
        values,
        data.choices(),
        new=False,
        parent=parent,
        parents=parents,
        removable=data.removable(trigger["kind"]),
    )
    return form, target


@callback(
    Output({"type": "adm-err", "field": ALL}, "children"),
    Output("adm-form-message", "children"),
    Output("adm-version", "data"),
    Output("adm-target", "data", allow_duplicate=True),
    Input("adm-save", "n_clicks"),
    State({"type": "adm-in", "field": ALL}, "value"),
    State({"type": "adm-in", "field": ALL}, "id"),
    State({"type": "adm-err", "field": ALL}, "id"),
    State("adm-target", "data"),
    State("adm-version", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def save(n_clicks, values, ids, err_ids, target, version):
    if not n_clicks or not target or target.get("kind") not in data.KINDS:
        raise PreventUpdate
    kind = target["kind"]
    form = {i["field"]: v for i, v in zip(ids, values, strict=True)}
    parent = views.parent_of(form.pop("_parent", None) or target.get("parent"))
    fields, general, lines = data.save(current_user(), kind, form, parent, target["new"])
    errors = [fields.get(i["field"]) for i in err_ids]
    if fields or general:
        return errors, views.problems_message(general, fields), dash.no_update, dash.no_update
    # saved: the form now edits what it created
    key = form.get(key_field(kind))
    done = {"kind": kind, "new": False, "parent": views.parent_value(parent), "key": key}
    return errors, views.saved_message(lines), (version or 0) + 1, done


@callback(
    Output("adm-user-message", "children"),
    Output("adm-version", "data", allow_duplicate=True),
    Input({"type": "adm-user", "action": ALL, "login": ALL}, "n_clicks"),
    State("adm-version", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def user_action(_clicks, version):
    trigger = ctx.triggered_id
    if trigger is None or not ctx.triggered[0]["value"]:
        raise PreventUpdate
    user, login = current_user(), trigger["login"]
    if trigger["action"] == "reset":
        path, problem = data.reset_link(user, login)
        if problem:
            return alert(problem, "error", "adm-user-problem"), dash.no_update
        url = flask.request.host_url.rstrip("/") + path
        return (
            html.Div(
                className="alert alert-ok",
                id="adm-reset",
                children=[
                    f"Lien à transmettre à « {login} » (affiché une seule fois, valable"
                    f" {data.LINK_HOURS} h, utilisable une fois) : ",
                    html.Code(url, id="adm-reset-link"),
                ],
            ),
            dash.no_update,
        )
    problems = data.set_active(user, login, trigger["action"] == "on")
    if problems:
        return alert(" ; ".join(problems), "error", "adm-user-problem"), dash.no_update
    done = "réactivé" if trigger["action"] == "on" else "désactivé"
    return alert(f"Compte « {login} » {done}.", "ok", "adm-user-done"), (version or 0) + 1


@callback(
    Output("adm-form", "children", allow_duplicate=True),
    Output("adm-form-message", "children", allow_duplicate=True),
    Output("adm-version", "data", allow_duplicate=True),
    Input("adm-remove", "n_clicks"),
    State("adm-target", "data"),
    State({"type": "adm-in", "field": ALL}, "value"),
    State({"type": "adm-in", "field": ALL}, "id"),
    State("adm-version", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def remove(n_clicks, target, values, ids, version):
    """Delete the item the form shows, as `carnet portfolio remove` does."""
    if not n_clicks or not target or target.get("new") or target.get("kind") not in data.KINDS:
        raise PreventUpdate
    kind = target["kind"]
    key = {i["field"]: v for i, v in zip(ids, values, strict=True)}.get(key_field(kind))
    problem = data.remove(current_user(), kind, str(key))
    if problem:
        return dash.no_update, alert(problem, "error", "adm-remove-problem"), dash.no_update
    done = alert(f"« {key} » supprimé(e).", "ok", "adm-removed")
    return done, dash.no_update, (version or 0) + 1
