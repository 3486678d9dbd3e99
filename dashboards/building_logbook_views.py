"""The building page's logbook: entry cards (with their files, the alarm or work order they
belong to, and « Modifier » for whoever may edit them), one page of the timeline with its
filters and pager, the open alarms, and the manager's triage cards (answer, accept as works,
merge, close)."""

from __future__ import annotations

from dash import dcc, html

from carnet.logbook import KIND_LABELS_FR, STATUS_LABELS_FR
from carnet.models import LOG_KINDS, LOG_STATUSES
from dashboards.building_record_views import equipment_codes
from dashboards.shell import allowed_href


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
    if row.get("can_edit"):
        meta.append(
            html.Button(
                "Modifier",
                id={"type": "bp-edit-open", "id": row["id"]},
                className="btn-link entry-edit",
                title=f"Modifier l'entrée n° {row['id']}",
            )
        )
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


def timeline(page: dict):
    """One page of entries (`building_data.logbook_page`), newest first."""
    if not page["rows"]:
        return html.P("Aucune entrée ne correspond.", className="muted", id="bp-timeline-empty")
    return html.Div([_entry_card(r) for r in page["rows"]], className="timeline")


def page_count(page: dict) -> str:
    """« 45 entrées · 21 à 40 », above the timeline."""
    total = page["total"]
    if not total:
        return "Aucune entrée"
    noun = "entrée" if total == 1 else "entrées"
    return f"{total} {noun} · {page['first']} à {page['last']}"


def page_label(page: dict) -> str:
    return f"Page {page['page']} sur {page['pages']}"


def pager(page: dict):
    """Newer and older pages of the timeline (`bp-page-prev`, `bp-page-next`)."""
    return html.Nav(
        className="pager",
        **{"aria-label": "Pages du carnet"},
        children=[
            html.Button(
                "‹ Plus récentes",
                id="bp-page-prev",
                className="btn btn-secondary",
                disabled=page["page"] <= 1,
            ),
            html.Span(page_label(page), id="bp-page-label", className="muted"),
            html.Button(
                "Plus anciennes ›",
                id="bp-page-next",
                className="btn btn-secondary",
                disabled=page["page"] >= page["pages"],
            ),
        ],
    )


def alarms(rows: list[dict]):
    if not rows:
        return html.P("Aucune alarme ouverte.", className="muted", id="bp-alarms-none")
    return html.Div([_entry_card(r) for r in rows], className="timeline alarms")


def triage_cards(rows: dict):
    """One card per observation waiting for the manager: answer, accept, merge or close
    (`rows` from `building_data.triage_rows`)."""
    frame_rows, targets = rows["pending"], rows["targets"]
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


def filters(rec: dict, authors: list[str]):
    """Kind, status, period, words, equipment and author of the timeline
    (`building_data.filter_args`, applied by the database)."""
    equipment = [
        {"label": n["code"], "value": n["code"]} for _, n in equipment_codes(rec["equipment"])
    ]
    return html.Div(
        className="filters bp-filters",
        children=[
            dcc.Dropdown(
                id="bp-f-kind",
                options=[{"label": KIND_LABELS_FR[k], "value": k} for k in LOG_KINDS],
                placeholder="Toutes natures",
                multi=True,
                className="dropdown",
            ),
            dcc.Dropdown(
                id="bp-f-status",
                options=[{"label": STATUS_LABELS_FR[s], "value": s} for s in LOG_STATUSES],
                placeholder="Tous statuts",
                multi=True,
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
            dcc.Input(
                id="bp-f-text",
                type="search",
                placeholder="Rechercher dans le texte",
                debounce=True,
                className="input-small",
            ),
            dcc.Dropdown(
                id="bp-f-equipment",
                options=equipment,
                placeholder="Tous équipements",
                className="dropdown",
            ),
            dcc.Dropdown(
                id="bp-f-author",
                options=[{"label": a, "value": a} for a in authors],
                placeholder="Tous auteurs",
                className="dropdown",
            ),
        ],
    )
