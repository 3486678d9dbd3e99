"""The building page's forms, per role, each in a dialog opened by a button so that the record
and the logbook come first: add to the logbook (the contractor's interventions, the agents'
observations, any kind for the manager), edit or cancel an entry (opened from the entry,
prefilled), and adapt an obligation of the building. What each role may really write is
decided by `carnet.logbook`."""

from __future__ import annotations

from dash import dcc, html

from carnet.attachments import MAX_BYTES
from carnet.logbook import INTERVENTION_KINDS, KIND_LABELS_FR, STATUS_LABELS_FR
from carnet.models import LOG_KINDS, LOG_STATUSES
from carnet.roles import is_manager
from dashboards.building_record_views import equipment_codes
from dashboards.components import field


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


def dialog(dialog_id: str, title, body, *, title_id: str | None = None) -> html.Div:
    """A modal dialog (`role=dialog`), hidden until its button opens it; `{dialog_id}-close`
    closes it (and Échap, `assets/dialog.js`)."""
    title_id = title_id or f"{dialog_id}-title"
    return html.Div(
        id=dialog_id,
        className="dialog",
        role="dialog",
        hidden=True,
        **{"aria-modal": "true", "aria-labelledby": title_id},
        children=html.Div(
            className="dialog-panel",
            children=[
                html.Div(
                    className="dialog-head",
                    children=[
                        html.H2(title, id=title_id),
                        html.Button(
                            "×",
                            id=f"{dialog_id}-close",
                            className="dialog-close",
                            title="Fermer",
                            **{"aria-label": "Fermer"},
                        ),
                    ],
                ),
                body,
            ],
        ),
    )


def _equipment_options(rec: dict) -> list[dict]:
    return [
        {"label": "\u2003" * depth + f"{n['kind_label']} {n['code']}", "value": n["code"]}
        for depth, n in equipment_codes(rec["equipment"])
    ]


def _room_options(rec: dict) -> list[dict]:
    return [{"label": r["name"], "value": r["code"]} for r in rec["rooms"]]


def kind_options(kinds) -> list[dict]:
    return [{"label": KIND_LABELS_FR[k], "value": k} for k in kinds]


def add_defaults(user) -> dict:
    """The add form once saved: empty, its kind back to the role's first."""
    kinds = kinds_for(user)
    return {
        "kind": kinds[0] if kinds else None,
        "equipment": None,
        "room": None,
        "date": None,
        "cost": "",
        "status": None,
        "obligation": None,
        "text": "",
    }


def add_form(rec: dict, user, obligations: list[dict]):
    """What the user may add to the logbook, with an optional photo or PDF."""
    kinds = kinds_for(user)
    if not kinds:
        return None
    return html.Div(
        className="form-card",
        id="bp-add",
        children=[
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Nature",
                        dcc.Dropdown(
                            id="bp-add-kind",
                            options=kind_options(kinds),
                            value=kinds[0],
                            clearable=False,
                        ),
                    ),
                    field(
                        "Équipement",
                        dcc.Dropdown(
                            id="bp-add-equipment",
                            options=_equipment_options(rec),
                            placeholder="(aucun)",
                        ),
                    ),
                    field(
                        "Salle",
                        dcc.Dropdown(
                            id="bp-add-room", options=_room_options(rec), placeholder="(aucune)"
                        ),
                    ),
                    field(
                        "Date",
                        dcc.DatePickerSingle(
                            id="bp-add-date",
                            display_format="DD/MM/YYYY",
                            first_day_of_week=1,
                            placeholder="aujourd'hui",
                            clearable=True,
                        ),
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
            html.Div(id="bp-add-msg"),
            html.Div(
                html.Button("Enregistrer", id="bp-add-submit", className="btn"),
                className="dialog-actions",
            ),
        ],
    )


def obligation_form(user, obligations: list[dict]):
    """The manager adapts a building's obligation (e.g. a gas-only flue swept once a year)."""
    if not user.can("carnet.edit") or not obligations:
        return None
    return html.Div(
        className="form-card",
        id="bp-ob-edit",
        children=[
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
                        dcc.DatePickerSingle(
                            id="bp-ob-last", display_format="DD/MM/YYYY", first_day_of_week=1
                        ),
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
            html.Div(id="bp-ob-msg"),
            html.Div(
                html.Button("Enregistrer l'obligation", id="bp-ob-submit", className="btn"),
                className="dialog-actions",
            ),
        ],
    )


def edit_form(rec: dict, user):
    """Edit an entry opened from its « Modifier » (prefilled by the page), or cancel it:
    nothing is deleted, and each change is audited by `carnet.logbook.edit_entry`."""
    if not user.can("carnet.intervention"):
        return None
    return html.Div(
        className="form-card",
        id="bp-edit",
        children=[
            dcc.Store(id="bp-edit-id"),
            html.P(
                "Rien n'est supprimé : une entrée erronée est annulée (statut « Annulé »), avec "
                "son motif, et chaque modification est tracée."
                + ("" if is_manager(user.role) else " Vous pouvez modifier vos propres entrées."),
                className="muted",
            ),
            html.Div(
                className="form-grid",
                children=[
                    field(
                        "Nature",
                        dcc.Dropdown(
                            id="bp-edit-kind",
                            options=kind_options(kinds_for(user)),
                            clearable=False,
                        ),
                    ),
                    field(
                        "Date",
                        dcc.DatePickerSingle(
                            id="bp-edit-date", display_format="DD/MM/YYYY", first_day_of_week=1
                        ),
                    ),
                    field(
                        "Statut",
                        dcc.Dropdown(
                            id="bp-edit-status",
                            options=[
                                {"label": STATUS_LABELS_FR[st], "value": st} for st in LOG_STATUSES
                            ],
                            clearable=False,
                        ),
                    ),
                    field(
                        "Coût (€)",
                        dcc.Input(
                            id="bp-edit-cost",
                            type="text",
                            placeholder="ex. 1 234,56",
                            className="input-small",
                        ),
                    ),
                    field(
                        "Équipement",
                        dcc.Dropdown(
                            id="bp-edit-equipment",
                            options=_equipment_options(rec),
                            placeholder="(aucun)",
                        ),
                    ),
                    field(
                        "Salle",
                        dcc.Dropdown(
                            id="bp-edit-room", options=_room_options(rec), placeholder="(aucune)"
                        ),
                    ),
                ],
            ),
            field("Texte", dcc.Textarea(id="bp-edit-text", rows=3, className="textarea")),
            field(
                "Réponse ou motif d'annulation",
                dcc.Textarea(id="bp-edit-note", rows=2, className="textarea"),
            ),
            html.Div(id="bp-edit-msg"),
            html.Div(
                html.Button("Enregistrer la modification", id="bp-edit-submit", className="btn"),
                className="dialog-actions",
            ),
        ],
    )
