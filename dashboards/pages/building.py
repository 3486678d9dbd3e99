"""Fiche bâtiment (`/batiments/<code>`): the carnet de santé of one building.

Identity, rooms, the equipment tree, channels with their last reading, documents, the logbook
timeline with its filters, obligations with overdue badges, open alarms, and per role the forms
to write in it (the contractor's interventions, the agents' observations, the manager's triage).
All rules are enforced by `carnet.logbook`/`carnet.access`; this module only lays them out.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import abort

import dashboards.carnet_routes  # noqa: F401  (registers the downloads, QR and form routes)
from carnet.access import CarnetPermissionError
from carnet.attachments import MAX_BYTES, AttachmentError, add_attachment
from carnet.buildings import building_record
from carnet.logbook import (
    INTERVENTION_KINDS,
    KIND_LABELS_FR,
    STATUS_LABELS_FR,
    LogbookError,
    accept_as_work,
    add_entry,
    cancel_entry,
    close_with_answer,
    edit_entry,
    get_entry,
    merge_into,
    open_observations,
    resolve_building,
    timeline,
)
from carnet.models import LOG_KINDS, LOG_STATUSES, Obligation
from carnet.obligations import edit_obligation, obligations_frame
from carnet.roles import is_manager
from carnet.timeutil import TZ
from dashboards import alarms_data, db
from dashboards.auth import current_user, guarded, require
from dashboards.carnet_views import obligations_table
from dashboards.fmt import fr_number, fr_quantity
from dashboards.shell import allowed_href, forbidden_block

CAPABILITY = "carnet.view"

dash.register_page(
    __name__,
    path_template="/batiments/<code>",
    name="Fiche bâtiment",
    title="Fiche bâtiment · Carnet",
    description="Le carnet de santé d'un bâtiment.",
    order=21,
    capability=CAPABILITY,
    nav=False,
)


# ---------------------------------------------------------------- pieces


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


def _identity(rec: dict, user, token: str | None) -> html.Div:
    ident = rec["identity"]
    facts = [
        ("Code", ident["code"]),
        ("Usage", (ident["usage"] or "—").capitalize()),
        ("Adresse", ident["address"] or "—"),
        (
            "Surface chauffée",
            f"{fr_number(ident['heated_area_m2'])}\u00a0m²" if ident["heated_area_m2"] else "—",
        ),
        ("Année de construction", ident["year_built"] or "—"),
        (
            "ERP",
            f"catégorie {ident['erp_category']}"
            + (f", type {ident['erp_type']}" if ident["erp_type"] else "")
            if ident["erp_category"]
            else "non",
        ),
        ("Énergie principale", ident["main_energy"] or "—"),
    ]
    links = []
    if user.can("savings.view"):
        links.append(
            dcc.Link(
                "Chiffres énergétiques du bâtiment",
                href=f"/economies?batiment={ident['code']}",
                className="button-link",
                id="bp-energy-link",
            )
        )
    if token and user.can("carnet.observation"):
        links.append(
            html.A(
                "Signaler un problème",
                href=f"/signaler/{token}",
                className="button-link",
                id="bp-signal-link",
            )
        )
    if user.can("carnet.edit"):
        links.append(
            html.A(
                "QR code à imprimer",
                href=f"/batiments/{ident['code']}/qr",
                target="_blank",
                className="button-link",
                id="bp-qr-link",
            )
        )
    return html.Div(
        className="page-head",
        children=[
            html.P(dcc.Link("← Bâtiments", href="/batiments"), className="muted"),
            html.H1(ident["name"], id="bp-name"),
            html.Dl(
                [item for k, v in facts for item in (html.Dt(k), html.Dd(str(v)))],
                className="facts",
            ),
            html.Div(links, className="links-row"),
        ],
    )


def _rooms(rooms: list[dict]):
    if not rooms:
        return html.P("Aucune salle déclarée.", className="muted")
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Code"),
                        html.Th("Salle"),
                        html.Th("Capacité", className="num"),
                        html.Th("Surface", className="num"),
                        html.Th("Zone de chauffage"),
                        html.Th("Réservable"),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(r["code"], className="code"),
                            html.Td(r["name"]),
                            html.Td(fr_number(r["capacity"]), className="num"),
                            html.Td(
                                f"{fr_number(r['area_m2'])}\u00a0m²" if r["area_m2"] else "—",
                                className="num",
                            ),
                            html.Td(r["heating_zone"] or "—"),
                            html.Td("oui" if r["bookable"] else "non"),
                        ]
                    )
                    for r in rooms
                ]
            ),
        ],
        className="data-table",
        id="bp-rooms",
    )


def _equipment_node(node: dict) -> html.Li:
    details = [
        x
        for x in (
            node["name"],
            " ".join(filter(None, [node["make"], node["model"]])),
            f"{fr_number(node['power_kw'])}\u00a0kW" if node["power_kw"] else None,
            node["fuel"],
            f"n° {node['serial']}" if node["serial"] else None,
            f"posé le {node['installed_on']}" if node["installed_on"] else None,
            f"déposé le {node['removed_on']}" if node["removed_on"] else None,
        )
        if x
    ]
    children = [
        html.Span(node["kind_label"], className="eq-kind"),
        " ",
        html.Span(node["code"], className="code"),
        html.Span(" · ".join(details), className="muted eq-details") if details else None,
    ]
    if node["children"]:
        children.append(html.Ul([_equipment_node(c) for c in node["children"]]))
    return html.Li(children, **{"data-equipment": node["code"]})


def _equipment(tree: list[dict]):
    if not tree:
        return html.P("Aucun équipement déclaré.", className="muted")
    return html.Ul([_equipment_node(n) for n in tree], className="eq-tree", id="bp-equipment")


def _channels(channels: list[dict]):
    if not channels:
        return html.P("Aucun point de mesure.", className="muted")
    rows = [
        html.Tr(
            [
                html.Td(c["code"], className="code"),
                html.Td(c["quantity_label"]),
                html.Td(c["equipment_code"] or c["room_code"] or "bâtiment"),
                html.Td(c["external_ref"] or "—", className="code"),
                html.Td(c["last_at"] or "aucun relevé", className="date"),
                html.Td(
                    fr_quantity(c["last_value"], c["unit"], 0 if c["kind"] == "index" else 1),
                    className="num",
                ),
            ]
        )
        for c in channels
    ]
    head = html.Tr(
        [
            html.Th(x)
            for x in ("Point de mesure", "Grandeur", "Rattaché à", "Référence", "Dernier relevé")
        ]
        + [html.Th("Valeur", className="num")]
    )
    return html.Table(
        [html.Thead(head), html.Tbody(rows)], className="data-table", id="bp-channels"
    )


def _files(files: list[dict]):
    items = []
    for f in files:
        href = f"/pieces-jointes/{f['id']}"
        if f["is_image"] and f["content_type"] != "image/heic":
            items.append(
                html.A(
                    html.Img(src=href, alt=f["filename"], className="thumb"),
                    href=href,
                    target="_blank",
                    title=f["filename"],
                )
            )
        else:
            items.append(html.A(f"📎 {f['filename']}", href=href, target="_blank"))
    return html.Div(items, className="files") if items else None


def _entry_card(row: dict) -> html.Article:
    meta = [
        html.Span(row["date"], className="date"),
        html.Span(row["kind_label"], className=f"kind kind-{row['kind']}"),
        html.Span(row["status_label"], className=f"status status-{row['status']}"),
        html.Span(row.get("author_name") or row["author_login"], className="author"),
    ]
    if row.get("equipment_code"):
        meta.append(html.Span(row["equipment_code"], className="code"))
    if row.get("room_code"):
        meta.append(html.Span(row["room_code"], className="code"))
    if row.get("cost"):
        meta.append(html.Span(row["cost"], className="cost"))
    meta.append(html.Span(f"n° {row['id']}", className="muted"))
    body = [html.Div(meta, className="entry-meta")]
    if row.get("title"):
        body.append(html.H3(row["title"]))
    body.append(html.P(row["text"], className="entry-text"))
    if row.get("answer"):
        body.append(html.P(["Réponse : ", row["answer"]], className="entry-answer"))
    if row.get("merged_into_id"):
        body.append(html.P(f"Suivi dans l'entrée n° {row['merged_into_id']}", className="muted"))
    files = _files(row.get("files") or [])
    if files:
        body.append(files)
    story = _story_links(row.get("links") or {})
    if story:
        body.append(story)
    return html.Article(
        body,
        className=f"log-entry kind-{row['kind']} entry-{row['status']}",
        **{"data-entry": str(row["id"])},
    )


def _story_links(links: dict):
    """The alarm and the work order an entry belongs to, for the roles that may open them."""
    items = []
    for key, label, path in (
        ("alarm_id", "Alarme", "/alarmes?alarme="),
        ("work_order_id", "Ordre de travail", "/travaux?ordre="),
    ):
        if links.get(key) and allowed_href(path.partition("?")[0]):
            items.append(
                dcc.Link(
                    f"{label} n° {links[key]}",
                    href=f"{path}{links[key]}",
                    className=f"entry-link entry-{key.replace('_', '-')}",
                )
            )
    return html.Div(items, className="entry-links") if items else None


def timeline_view(rows: list[dict]):
    if not rows:
        return html.P("Aucune entrée ne correspond.", className="muted", id="bp-timeline-empty")
    return html.Div([_entry_card(r) for r in rows], className="timeline")


def _alarms(rows: list[dict]):
    if not rows:
        return html.P("Aucune alarme ouverte.", className="muted", id="bp-alarms-none")
    return html.Div([_entry_card(r) for r in rows], className="timeline alarms")


def _documents(docs: list[dict]):
    if not docs:
        return html.P("Aucun document.", className="muted")
    return html.Ul(
        [
            html.Li(
                [
                    html.A(d["filename"], href=f"/pieces-jointes/{d['id']}", target="_blank"),
                    html.Span(
                        f" · {d['kind_label']} du {d['date']} (entrée n° {d['entry_id']})",
                        className="muted",
                    ),
                ]
            )
            for d in docs
        ],
        id="bp-documents-list",
    )


def _triage(frame_rows: list[dict], targets: list[dict]):
    """One card per observation waiting for the manager: answer, accept, merge or close."""
    if not frame_rows:
        return html.P("Aucun signalement à traiter.", className="muted", id="bp-triage-none")
    cards = []
    for r in frame_rows:
        others = [
            {"label": f"n° {t['id']} · {t['kind_label']} · {t['text'][:60]}", "value": t["id"]}
            for t in targets
            if t["id"] != r["id"]
        ]
        cards.append(
            html.Div(
                className="triage-card",
                **{"data-entry": str(r["id"])},
                children=[
                    html.Div(
                        [
                            html.Span(r["date"], className="date"),
                            html.Span(
                                r.get("author_name") or r["author_login"], className="author"
                            ),
                            html.Span(r.get("room_code") or "", className="code"),
                            html.Span(f"n° {r['id']}", className="muted"),
                        ],
                        className="entry-meta",
                    ),
                    html.P(r["text"], className="entry-text"),
                    dcc.Textarea(
                        id={"type": "tri-answer", "id": r["id"]},
                        placeholder="Réponse à l'agent (visible dans « Mes signalements »)",
                        className="textarea",
                        rows=2,
                    ),
                    html.Div(
                        className="triage-actions",
                        children=[
                            dcc.Dropdown(
                                id={"type": "tri-kind", "id": r["id"]},
                                options=[
                                    {"label": KIND_LABELS_FR[k], "value": k}
                                    for k in ("corrective", "works", "preventive")
                                ],
                                value="corrective",
                                clearable=False,
                                className="dropdown small",
                            ),
                            html.Button(
                                "Accepter comme travaux",
                                id={"type": "tri-btn", "action": "accept", "id": r["id"]},
                                className="btn tri-accept",
                            ),
                            dcc.Dropdown(
                                id={"type": "tri-target", "id": r["id"]},
                                options=others,
                                placeholder="Fusionner avec…",
                                className="dropdown",
                            ),
                            html.Button(
                                "Fusionner",
                                id={"type": "tri-btn", "action": "merge", "id": r["id"]},
                                className="btn btn-secondary tri-merge",
                            ),
                            html.Button(
                                "Clore avec cette réponse",
                                id={"type": "tri-btn", "action": "close", "id": r["id"]},
                                className="btn btn-secondary tri-close",
                            ),
                        ],
                    ),
                ],
            )
        )
    return html.Div(cards, className="triage-list")


def _add_form(rec: dict, user, obligations: list[dict]):
    kinds = kinds_for(user)
    if not kinds:
        return None
    equipment = []

    def walk(nodes, depth=0):
        for n in nodes:
            equipment.append(
                {"label": "\u2003" * depth + f"{n['kind_label']} {n['code']}", "value": n["code"]}
            )
            walk(n["children"], depth + 1)

    walk(rec["equipment"])
    return html.Div(
        className="card form-card",
        id="bp-add",
        children=[
            html.H2("Ajouter au carnet"),
            html.Div(
                className="form-grid",
                children=[
                    html.Label(
                        [
                            "Nature",
                            dcc.Dropdown(
                                id="bp-add-kind",
                                options=[{"label": KIND_LABELS_FR[k], "value": k} for k in kinds],
                                value=kinds[0],
                                clearable=False,
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Équipement",
                            dcc.Dropdown(
                                id="bp-add-equipment", options=equipment, placeholder="(aucun)"
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Salle",
                            dcc.Dropdown(
                                id="bp-add-room",
                                options=[
                                    {"label": r["name"], "value": r["code"]} for r in rec["rooms"]
                                ],
                                placeholder="(aucune)",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Date",
                            dcc.DatePickerSingle(
                                id="bp-add-date",
                                display_format="DD/MM/YYYY",
                                first_day_of_week=1,
                                placeholder="aujourd'hui",
                                clearable=True,
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Coût (€)",
                            dcc.Input(
                                id="bp-add-cost",
                                type="text",
                                placeholder="ex. 1 234,56",
                                className="input-small",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Statut",
                            dcc.Dropdown(
                                id="bp-add-status",
                                options=[
                                    {"label": STATUS_LABELS_FR[s], "value": s} for s in LOG_STATUSES
                                ],
                                placeholder="(selon la nature)",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Obligation accomplie",
                            dcc.Dropdown(
                                id="bp-add-obligation",
                                options=[
                                    {"label": o["label"][:90], "value": o["id"]}
                                    for o in obligations
                                ],
                                placeholder="(aucune)",
                            ),
                        ],
                        className="wide",
                    ),
                ],
            ),
            html.Label(["Texte", dcc.Textarea(id="bp-add-text", rows=3, className="textarea")]),
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


def _obligation_form(user, obligations: list[dict]):
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
                    html.Label(
                        [
                            "Obligation",
                            dcc.Dropdown(
                                id="bp-ob-id",
                                options=[
                                    {"label": o["label"][:100], "value": o["id"]}
                                    for o in obligations
                                ],
                            ),
                        ],
                        className="wide",
                    ),
                    html.Label(
                        [
                            "Périodicité (mois)",
                            dcc.Input(
                                id="bp-ob-months", type="number", min=1, className="input-small"
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "ou (jours)",
                            dcc.Input(
                                id="bp-ob-days", type="number", min=1, className="input-small"
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Dernière réalisation",
                            dcc.DatePickerSingle(
                                id="bp-ob-last", display_format="DD/MM/YYYY", first_day_of_week=1
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Active",
                            dcc.Dropdown(
                                id="bp-ob-active",
                                options=[
                                    {"label": "oui", "value": "yes"},
                                    {"label": "non (sans objet, dispensée)", "value": "no"},
                                ],
                                placeholder="(inchangé)",
                            ),
                        ]
                    ),
                ],
            ),
            html.Label(["Note", dcc.Textarea(id="bp-ob-notes", rows=2, className="textarea")]),
            html.Button(
                "Enregistrer l'obligation", id="bp-ob-submit", className="btn btn-secondary"
            ),
            html.Div(id="bp-ob-msg"),
        ],
    )


def _edit_form(user):
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
                    html.Label(
                        [
                            "N° de l'entrée",
                            dcc.Input(
                                id="bp-edit-id", type="number", min=1, className="input-small"
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Nouveau statut",
                            dcc.Dropdown(
                                id="bp-edit-status",
                                options=[
                                    {"label": STATUS_LABELS_FR[st], "value": st}
                                    for st in LOG_STATUSES
                                ],
                                placeholder="(inchangé)",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Coût (€)",
                            dcc.Input(
                                id="bp-edit-cost",
                                type="text",
                                placeholder="(inchangé)",
                                className="input-small",
                            ),
                        ]
                    ),
                ],
            ),
            html.Label(
                [
                    "Motif d'annulation ou réponse",
                    dcc.Textarea(id="bp-edit-note", rows=2, className="textarea"),
                ]
            ),
            html.Button("Mettre à jour", id="bp-edit-submit", className="btn btn-secondary"),
            html.Div(id="bp-edit-msg"),
        ],
    )


def _filters(rec: dict, authors: list[str]):
    equipment = []

    def walk(nodes):
        for n in nodes:
            equipment.append({"label": n["code"], "value": n["code"]})
            walk(n["children"])

    walk(rec["equipment"])
    return html.Div(
        className="filters",
        children=[
            dcc.Dropdown(
                id="bp-f-kind",
                options=[{"label": KIND_LABELS_FR[k], "value": k} for k in LOG_KINDS],
                placeholder="Toutes natures",
                multi=True,
                className="dropdown",
            ),
            dcc.Dropdown(
                id="bp-f-equipment",
                options=equipment,
                placeholder="Tous équipements",
                className="dropdown",
            ),
            dcc.DatePickerRange(
                id="bp-f-period",
                display_format="DD/MM/YYYY",
                first_day_of_week=1,
                start_date_placeholder_text="du",
                end_date_placeholder_text="au",
                clearable=True,
            ),
            dcc.Dropdown(
                id="bp-f-author",
                options=[{"label": a, "value": a} for a in authors],
                placeholder="Tous auteurs",
                className="dropdown",
            ),
        ],
    )


# ---------------------------------------------------------------- layout


def _triage_view(s, user, building):
    """The manager's triage cards, or None for whoever may not triage."""
    if not user.can("carnet.triage"):
        return None
    pending = open_observations(s, user, building)
    targets = timeline(s, user, building, status=["open", "in_progress"], include_cancelled=False)
    return _triage(
        pending.astype(object).where(pending.notna(), None).to_dict("records"),
        targets.astype(object).where(targets.notna(), None).to_dict("records"),
    )


def _sections(code: str, user, filters: dict | None = None, with_triage: bool = True) -> dict:
    """The dynamic parts, recomputed after each write or filter change (the triage cards only
    when asked: the triage callback refreshes them itself)."""
    filters = filters or {}
    with db.session() as s:
        rec = building_record(s, user, code)
        if rec["rooms_only"]:
            return {"rec": rec}
        building = resolve_building(s, code)
        frame = timeline(s, user, building, **filters)
        rows = _with_files(s, frame)
        alarm_links = alarms_data.entry_links(s, [r["id"] for r in rec["open_alarms"]])
        for r in rec["open_alarms"]:
            r["links"] = alarm_links.get(r["id"], {})
        triage = _triage_view(s, user, building) if with_triage else None
    return {
        "rec": rec,
        "timeline": timeline_view(rows),
        "obligations": obligations_table(rec["obligations"]),
        "alarms": _alarms(rec["open_alarms"]),
        "documents": _documents(rec["documents"]),
        "triage": triage,
    }


def _with_files(session, frame) -> list[dict]:
    from carnet.attachments import entry_attachments

    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    files = entry_attachments(session, [r["id"] for r in rows])
    links = alarms_data.entry_links(session, [r["id"] for r in rows])
    for r in rows:
        r["files"] = files.get(r["id"], [])
        r["links"] = links.get(r["id"], {})
    return rows


def _section(title: str, child, sid: str | None = None):
    inner = (
        html.Div(child, id=sid, className="section-body")
        if sid
        else html.Div(child, className="section-body")
    )
    return html.Section([html.H2(title), inner], className="bp-section")


def layout(code: str | None = None, **_query):
    user = current_user()
    if user is None:
        return forbidden_block("Fiche bâtiment")
    try:
        parts = _sections(code or "", user)
    except CarnetPermissionError:
        return forbidden_block("Fiche bâtiment")
    except LookupError:
        return html.Div(
            [html.H1("Bâtiment introuvable"), dcc.Link("Retour aux bâtiments", href="/batiments")],
            className="forbidden",
            id="bp-not-found",
        )
    rec = parts["rec"]
    token = None
    if user.can("carnet.observation"):  # drawn when the building was created: a GET writes nothing
        with db.session() as s:
            token = resolve_building(s, rec["identity"]["code"]).qr_token
    head = _identity(rec, user, token)
    stores = [dcc.Store(id="bp-code", data=rec["identity"]["code"])]
    if rec["rooms_only"]:
        return html.Div(
            [*stores, head, _section("Salles", _rooms(rec["rooms"]))],
            className="page building-page rooms-only",
        )
    with db.session() as s:
        obligations = obligations_frame(
            s, user, building=resolve_building(s, rec["identity"]["code"])
        )
    authors = sorted({r["author_login"] for r in rec["timeline"]})
    children = [
        *stores,
        dcc.Store(id="bp-rev-add", data=0),
        dcc.Store(id="bp-rev-triage", data=0),
        dcc.Store(id="bp-rev-edit", data=0),
        dcc.Store(id="bp-rev-ob", data=0),
        head,
        _section("Alarmes ouvertes", parts["alarms"], "bp-alarms"),
        _section("Obligations", parts["obligations"], "bp-obligations-wrap"),
        _obligation_form(user, obligations.to_dict("records")),
        html.Div(
            className="bp-columns",
            children=[
                html.Div(
                    className="bp-main",
                    children=[
                        _section("Signalements à traiter", parts["triage"], "bp-triage")
                        if parts["triage"] is not None
                        else None,
                        html.Div(id="bp-triage-msg"),
                        _add_form(rec, user, obligations.to_dict("records")),
                        _edit_form(user),
                        html.Section(
                            [
                                html.H2("Carnet"),
                                _filters(rec, authors),
                                html.Div(parts["timeline"], id="bp-timeline"),
                            ],
                            className="bp-section",
                        ),
                    ],
                ),
                html.Div(
                    className="bp-side",
                    children=[
                        _section("Équipements", _equipment(rec["equipment"])),
                        _section("Points de mesure", _channels(rec["channels"])),
                        _section("Salles", _rooms(rec["rooms"])),
                        _section("Documents", parts["documents"], "bp-documents"),
                    ],
                ),
            ],
        ),
    ]
    return html.Div(children, className="page building-page")


# ---------------------------------------------------------------- callbacks


def _filter_args(kinds, equipment, start, end, author) -> dict:
    return {
        "kind": kinds or None,
        "equipment": equipment or None,
        "date_from": dt.date.fromisoformat(start[:10]) if start else None,
        "date_to": dt.date.fromisoformat(end[:10]) if end else None,
        "author": author or None,
    }


@callback(
    Output("bp-timeline", "children"),
    Output("bp-obligations-wrap", "children"),
    Output("bp-alarms", "children"),
    Output("bp-documents", "children"),
    Input("bp-rev-add", "data"),
    Input("bp-rev-triage", "data"),
    Input("bp-rev-edit", "data"),
    Input("bp-rev-ob", "data"),
    Input("bp-f-kind", "value"),
    Input("bp-f-equipment", "value"),
    Input("bp-f-period", "start_date"),
    Input("bp-f-period", "end_date"),
    Input("bp-f-author", "value"),
    State("bp-code", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh(_rev_add, _rev_triage, _rev_edit, _rev_ob, kinds, equipment, start, end, author, code):
    user = current_user()
    try:
        parts = _sections(
            code, user, _filter_args(kinds, equipment, start, end, author), with_triage=False
        )
    except CarnetPermissionError:
        abort(403)
    return parts["timeline"], parts["obligations"], parts["alarms"], parts["documents"]


@callback(
    Output("bp-add-file-name", "children"),
    Input("bp-add-file", "filename"),
    prevent_initial_call=True,
)
@guarded("carnet.observation")
def show_file_name(filename):
    return f"Fichier joint : {filename}" if filename else ""


def _decode_upload(contents: str) -> bytes:
    try:
        _header, data = contents.split(",", 1)
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise AttachmentError("fichier illisible") from exc


@callback(
    Output("bp-add-msg", "children"),
    Output("bp-rev-add", "data"),
    Output("bp-add-text", "value"),
    Output("bp-add-file", "contents"),
    Output("bp-add-file", "filename"),
    Input("bp-add-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-add-kind", "value"),
    State("bp-add-equipment", "value"),
    State("bp-add-room", "value"),
    State("bp-add-date", "date"),
    State("bp-add-cost", "value"),
    State("bp-add-status", "value"),
    State("bp-add-obligation", "value"),
    State("bp-add-text", "value"),
    State("bp-add-file", "contents"),
    State("bp-add-file", "filename"),
    State("bp-rev-add", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.observation")
def add(
    n, code, kind, equipment, room, day, cost, status, obligation, text, contents, filename, rev
):
    if not n:
        raise PreventUpdate
    user = current_user()
    when = None
    if day:
        picked = dt.date.fromisoformat(day[:10])
        now = dt.datetime.now(TZ)
        when = now if picked == now.date() else dt.datetime.combine(picked, dt.time(12), TZ)
    try:
        with db.session() as s:
            entry = add_entry(
                s,
                user,
                code,
                kind,
                text or "",
                equipment=equipment,
                room=room,
                occurred_at=when,
                cost=cost,
                status=status,
                obligation=obligation,
            )
            if contents:
                add_attachment(s, user, entry, filename or "fichier", _decode_upload(contents))
            entry_id = entry.id
    except (CarnetPermissionError, LogbookError, AttachmentError, LookupError) as exc:
        return (
            html.Div(str(exc).strip("'\""), className="alert alert-error", id="bp-add-error"),
            dash.no_update,
            dash.no_update,
            dash.no_update,
            dash.no_update,
        )
    ok = html.Div(f"Entrée n° {entry_id} enregistrée.", className="alert alert-ok", id="bp-add-ok")
    return ok, (rev or 0) + 1, "", None, None


@callback(
    Output("bp-triage-msg", "children"),
    Output("bp-rev-triage", "data"),
    Output("bp-triage", "children"),
    Input({"type": "tri-btn", "action": ALL, "id": ALL}, "n_clicks"),
    State({"type": "tri-answer", "id": ALL}, "value"),
    State({"type": "tri-answer", "id": ALL}, "id"),
    State({"type": "tri-kind", "id": ALL}, "value"),
    State({"type": "tri-kind", "id": ALL}, "id"),
    State({"type": "tri-target", "id": ALL}, "value"),
    State({"type": "tri-target", "id": ALL}, "id"),
    State("bp-code", "data"),
    State("bp-rev-triage", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.triage")
def triage(clicks, answers, answer_ids, kinds, kind_ids, targets, target_ids, code, rev):
    trigger = ctx.triggered_id
    if not trigger or not any(c for c in clicks or []):
        raise PreventUpdate
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    user = require("carnet.triage")
    entry_id = trigger["id"]
    answer = dict(zip([i["id"] for i in answer_ids], answers, strict=True)).get(entry_id)
    kind = dict(zip([i["id"] for i in kind_ids], kinds, strict=True)).get(entry_id)
    target = dict(zip([i["id"] for i in target_ids], targets, strict=True)).get(entry_id)
    answer = (answer or "").strip() or None
    try:
        with db.session() as s:
            if trigger["action"] == "accept":
                work = accept_as_work(s, user, entry_id, kind=kind or "corrective", answer=answer)
                msg = f"Signalement n° {entry_id} accepté : intervention n° {work.id} ouverte."
            elif trigger["action"] == "merge":
                if not target:
                    raise LogbookError("choisissez l'entrée avec laquelle fusionner")
                merge_into(s, user, entry_id, int(target), answer=answer)
                msg = f"Signalement n° {entry_id} fusionné avec l'entrée n° {target}."
            else:
                close_with_answer(s, user, entry_id, answer or "")
                msg = f"Signalement n° {entry_id} clos avec la réponse."
    except (LogbookError, LookupError) as exc:
        return (
            html.Div(str(exc).strip("'\""), className="alert alert-error", id="bp-triage-error"),
            dash.no_update,
            dash.no_update,
        )
    with db.session() as s:  # the timeline and the rest follow through bp-rev-triage
        cards = _triage_view(s, user, resolve_building(s, code))
    return html.Div(msg, className="alert alert-ok", id="bp-triage-ok"), (rev or 0) + 1, cards


@callback(
    Output("bp-edit-msg", "children"),
    Output("bp-rev-edit", "data"),
    Input("bp-edit-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-edit-id", "value"),
    State("bp-edit-status", "value"),
    State("bp-edit-cost", "value"),
    State("bp-edit-note", "value"),
    State("bp-rev-edit", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.intervention")
def edit(n, code, entry_id, status, cost, note, rev):
    if not n:
        raise PreventUpdate
    user = current_user()
    note = (note or "").strip() or None
    try:
        if not entry_id:
            raise LogbookError("indiquez le numéro de l'entrée")
        with db.session() as s:
            entry = get_entry(s, int(entry_id))
            if entry.building_id != resolve_building(s, code).id:
                raise LogbookError(f"l'entrée n° {entry_id} ne concerne pas ce bâtiment")
            if status == "cancelled":
                cancel_entry(s, user, entry.id, reason=note)
            else:
                changes = {}
                if status:
                    changes["status"] = status
                if cost not in (None, ""):
                    changes["cost"] = cost
                if note:
                    changes["answer"] = note
                if not changes:
                    raise LogbookError("rien à modifier")
                edit_entry(s, user, entry.id, **changes)
    except CarnetPermissionError as exc:
        return html.Div(str(exc), className="alert alert-error", id="bp-edit-error"), dash.no_update
    except (LogbookError, LookupError) as exc:
        return (
            html.Div(str(exc).strip("'\""), className="alert alert-error", id="bp-edit-error"),
            dash.no_update,
        )
    ok = html.Div(f"Entrée n° {entry_id} mise à jour.", className="alert alert-ok", id="bp-edit-ok")
    return ok, (rev or 0) + 1


@callback(
    Output("bp-ob-msg", "children"),
    Output("bp-rev-ob", "data"),
    Input("bp-ob-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-ob-id", "value"),
    State("bp-ob-months", "value"),
    State("bp-ob-days", "value"),
    State("bp-ob-last", "date"),
    State("bp-ob-active", "value"),
    State("bp-ob-notes", "value"),
    State("bp-rev-ob", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.edit")
def edit_obligation_cb(n, code, ob_id, months, days, last, active, notes, rev):
    if not n:
        raise PreventUpdate
    user = require("carnet.edit")
    changes: dict = {}
    if months:
        changes |= {"periodicity_months": int(months), "periodicity_days": None}
    elif days:
        changes |= {"periodicity_days": int(days), "periodicity_months": None}
    if last:
        changes["last_done_on"] = dt.date.fromisoformat(last[:10])
    if active:
        changes["active"] = active == "yes"
    if (notes or "").strip():
        changes["notes"] = notes.strip()
    try:
        if not ob_id:
            raise ValueError("choisissez une obligation")
        if not changes:
            raise ValueError("rien à modifier")
        with db.session() as s:
            ob = s.get(Obligation, int(ob_id))
            if ob is None or ob.building_id != resolve_building(s, code).id:
                raise ValueError("cette obligation ne concerne pas ce bâtiment")
            edit_obligation(s, user, ob.id, **changes)
    except (ValueError, LookupError) as exc:
        return html.Div(str(exc), className="alert alert-error", id="bp-ob-error"), dash.no_update
    return html.Div("Obligation mise à jour.", className="alert alert-ok", id="bp-ob-ok"), (
        rev or 0
    ) + 1
