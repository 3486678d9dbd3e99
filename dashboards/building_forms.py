"""The building page's forms, per role: add to the logbook (the contractor's interventions,
the agents' observations, any kind for the manager), update or cancel an entry, and adapt an
obligation of the building. What each role may really write is decided by `carnet.logbook`."""

from __future__ import annotations

from dash import dcc, html

from carnet.attachments import MAX_BYTES
from carnet.logbook import INTERVENTION_KINDS, KIND_LABELS_FR, STATUS_LABELS_FR
from carnet.models import LOG_KINDS, LOG_STATUSES
from carnet.roles import is_manager
from dashboards.building_record_views import equipment_codes
from dashboards.components import date_field, datetime_field, field


def kinds_for(user) -> list[str]:
    """The kinds this user may write (mirrors `carnet.logbook.may_write`, for the form)."""
    if is_manager(user.role):
        return list(LOG_KINDS)
    kinds = []
    if user.can("carnet.intervention"):  # the contractor records its interventions first
        kinds += [k for k in LOG_KINDS if k in INTERVENTION_KINDS]
    if user.can("carnet.observation"):
        kinds.append("observation")
    return kinds


def add_form(rec: dict, user, obligations: list[dict]):
    """What the user may add to the logbook, with an optional photo or PDF."""
    kinds = kinds_for(user)
    if not kinds:
        return None
    equipment = [
        {"label": "\u2003" * depth + f"{n['kind_label']} {n['code']}", "value": n["code"]}
        for depth, n in equipment_codes(rec["equipment"])
    ]
    return html.Div(
        className="card form-card",
        id="bp-add",
        children=[
            html.H2("Ajouter au carnet"),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Nature",
                        dcc.Dropdown(
                            id="bp-add-kind",
                            options=[{"label": KIND_LABELS_FR[k], "value": k} for k in kinds],
                            value=kinds[0],
                            clearable=False,
                        ),
                    ),
                    field(
                        "Équipement",
                        dcc.Dropdown(
                            id="bp-add-equipment", options=equipment, placeholder="(aucun)"
                        ),
                    ),
                    field(
                        "Salle",
                        dcc.Dropdown(
                            id="bp-add-room",
                            options=[
                                {"label": r["name"], "value": r["code"]} for r in rec["rooms"]
                            ],
                            placeholder="(aucune)",
                        ),
                    ),
                    field(
                        "Date",
                        datetime_field("bp-add-date", placeholder="aujourd'hui"),
                    ),
                    field(
                        "Coût (€)",
                        dcc.Input(
                            id="bp-add-cost",
                            type="text",
                            placeholder="ex. 1 234,56",
                            className="input-small",
                        ),
                    ),
                    field(
                        "Statut",
                        dcc.Dropdown(
                            id="bp-add-status",
                            options=[
                                {"label": STATUS_LABELS_FR[s], "value": s} for s in LOG_STATUSES
                            ],
                            placeholder="(selon la nature)",
                        ),
                    ),
                    field(
                        "Obligation accomplie",
                        dcc.Dropdown(
                            id="bp-add-obligation",
                            options=[
                                {"label": o["label"][:90], "value": o["id"]} for o in obligations
                            ],
                            placeholder="(aucune)",
                        ),
                        wide=True,
                    ),
                ],
            ),
            field("Texte", dcc.Textarea(id="bp-add-text", rows=3, className="textarea")),
            dcc.Upload(
                id="bp-add-file",
                children=html.Div(
                    [
                        "Joindre une photo ou un PDF (",
                        str(MAX_BYTES // 2**20),
                        " Mo au plus) : glisser ou ",
                        html.A("choisir"),
                    ]
                ),
                className="upload",
                max_size=MAX_BYTES,
                accept="image/*,application/pdf",
            ),
            html.Div(id="bp-add-file-name", className="muted"),
            html.Button("Enregistrer", id="bp-add-submit", className="btn"),
            html.Div(id="bp-add-msg"),
        ],
    )


def obligation_form(user, obligations: list[dict]):
    """The manager adapts a building's obligation (e.g. a gas-only flue swept once a year)."""
    if not user.can("carnet.edit") or not obligations:
        return None
    return html.Details(
        className="card form-card",
        id="bp-ob-edit",
        children=[
            html.Summary("Adapter une obligation de ce bâtiment"),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Obligation",
                        dcc.Dropdown(
                            id="bp-ob-id",
                            options=[
                                {"label": o["label"][:100], "value": o["id"]} for o in obligations
                            ],
                        ),
                        wide=True,
                    ),
                    field(
                        "Périodicité (mois)",
                        dcc.Input(id="bp-ob-months", type="number", min=1, className="input-small"),
                    ),
                    field(
                        "ou (jours)",
                        dcc.Input(id="bp-ob-days", type="number", min=1, className="input-small"),
                    ),
                    field(
                        "Dernière réalisation",
                        date_field("bp-ob-last", clearable=False),
                    ),
                    field(
                        "Active",
                        dcc.Dropdown(
                            id="bp-ob-active",
                            options=[
                                {"label": "oui", "value": "yes"},
                                {"label": "non (sans objet, dispensée)", "value": "no"},
                            ],
                            placeholder="(inchangé)",
                        ),
                    ),
                ],
            ),
            field("Note", dcc.Textarea(id="bp-ob-notes", rows=2, className="textarea")),
            html.Button(
                "Enregistrer l'obligation", id="bp-ob-submit", className="btn btn-secondary"
            ),
            html.Div(id="bp-ob-msg"),
        ],
    )


def edit_form(user):
    """Change the status or cost of an entry, or cancel it (nothing is ever deleted)."""
    if not user.can("carnet.intervention"):
        return None
    return html.Div(
        className="card form-card",
        id="bp-edit",
        children=[
            html.H2("Mettre à jour ou annuler une entrée"),
            html.P(
                "Rien n'est supprimé : une entrée erronée est annulée, avec son motif, et "
                "chaque modification est tracée."
                + ("" if is_manager(user.role) else " Vous pouvez modifier vos propres entrées."),
                className="muted",
            ),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "N° de l'entrée",
                        dcc.Input(id="bp-edit-id", type="number", min=1, className="input-small"),
                    ),
                    field(
                        "Nouveau statut",
                        dcc.Dropdown(
                            id="bp-edit-status",
                            options=[
                                {"label": STATUS_LABELS_FR[st], "value": st} for st in LOG_STATUSES
                            ],
                            placeholder="(inchangé)",
                        ),
                    ),
                    field(
                        "Coût (€)",
                        dcc.Input(
                            id="bp-edit-cost",
                            type="text",
                            placeholder="(inchangé)",
                            className="input-small",
                        ),
                    ),
                ],
            ),
            field(
                "Motif d'annulation ou réponse",
                dcc.Textarea(id="bp-edit-note", rows=2, className="textarea"),
            ),
            html.Button("Mettre à jour", id="bp-edit-submit", className="btn btn-secondary"),
            html.Div(id="bp-edit-msg"),
        ],
    )
