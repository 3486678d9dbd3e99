"""The building page's record: identity with its links, rooms, the equipment tree, the
measuring points with their last reading, and the documents attached to the logbook."""

from __future__ import annotations

from dash import dcc, html

from dashboards.carnet_views import obligation_badge, short_label
from dashboards.components import data_table
from dashboards.fmt import fr_date, fr_number, fr_quantity
from dashboards.shell import allowed_href

DOCUMENTS_SHOWN = 10  # the most recent; the others are reached through the logbook


def section(title: str, child, sid: str | None = None) -> html.Section:
    """One titled block of the page; `sid` names the body the callbacks refresh."""
    inner = (
        html.Div(child, id=sid, className="section-body")
        if sid
        else html.Div(child, className="section-body")
    )
    return html.Section([html.H2(title), inner], className="bp-section")


def _area(value) -> str:
    return f"{fr_number(value)}\u00a0m²" if value else "—"


def identity(rec: dict, user, token: str | None) -> html.Div:
    """The page head: name, facts, and the links the user's role may follow."""
    ident = rec["identity"]
    facts = [
        ("Code", ident["code"]),
        ("Usage", (ident["usage"] or "—").capitalize()),
        ("Adresse", ident["address"] or "—"),
        ("Surface chauffée", _area(ident["heated_area_m2"])),
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


def rooms(rows: list[dict]):
    if not rows:
        return html.P("Aucune salle déclarée.", className="muted")
    body = [
        html.Tr(
            [
                html.Td(r["code"], className="code"),
                html.Td(r["name"]),
                html.Td(fr_number(r["capacity"]), className="num"),
                html.Td(_area(r["area_m2"]), className="num"),
                html.Td(r["heating_zone"] or "—"),
                html.Td("oui" if r["bookable"] else "non"),
            ]
        )
        for r in rows
    ]
    head = ["Code", "Salle", "Capacité", "Surface", "Zone de chauffage", "Réservable"]
    return html.Div(
        data_table(head, body, numeric=(2, 3), id_="bp-rooms"), className="table-scroll"
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


def equipment(tree: list[dict]):
    if not tree:
        return html.P("Aucun équipement déclaré.", className="muted")
    return html.Ul([_equipment_node(n) for n in tree], className="eq-tree", id="bp-equipment")


def equipment_codes(tree: list[dict], depth: int = 0):
    """(depth, node) of the equipment tree, parents first, for the forms' choices."""
    for node in tree:
        yield depth, node
        yield from equipment_codes(node["children"], depth + 1)


def channels(rows: list[dict]):
    if not rows:
        return html.P("Aucun point de mesure.", className="muted")
    body = [
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
        for c in rows
    ]
    head = ["Point de mesure", "Grandeur", "Rattaché à", "Référence", "Dernier relevé", "Valeur"]
    return html.Div(
        data_table(head, body, numeric=(5,), id_="bp-channels"), className="table-scroll"
    )


def obligations_summary(rows: list[dict], code: str):
    """The building's obligations in three columns (what, next due, state), the late and the
    « à renseigner » counted first; the full table is the obligations page."""
    if not rows:
        return html.P("Aucune obligation.", className="muted", id="bp-obligations-empty")
    late = sum(1 for r in rows if r.get("overdue"))
    to_fill = sum(1 for r in rows if r.get("to_fill"))
    counts = [f"{len(rows)} obligation{'s' if len(rows) > 1 else ''}"]
    if late:
        counts.append(f"{late} en retard")
    if to_fill:
        counts.append(f"{to_fill} à renseigner")
    body = [
        html.Tr(
            [
                html.Td(
                    [
                        short_label(r),
                        html.Span(f" {r['equipment_code']}", className="code muted")
                        if r.get("equipment_code")
                        else None,
                    ],
                    title=r.get("notes") or None,
                    className="wrap",
                ),
                html.Td(fr_date(r.get("next_due_on")), className="date"),
                html.Td(obligation_badge(r)),
            ],
            className="late" if r.get("overdue") else None,
            **{"data-obligation": str(r["id"])},
        )
        for r in rows
    ]
    page = allowed_href("/obligations")
    return html.Div(
        [
            html.P(
                [" · ".join(counts)]
                + ([" · ", dcc.Link("toutes les obligations", href=page)] if page else []),
                className="muted",
                id="bp-obligations-counts",
            ),
            html.Div(
                data_table(["Obligation", "Échéance", "État"], body, id_="bp-obligations"),
                className="table-scroll",
            ),
        ]
    )


def documents(docs: list[dict]):
    if not docs:
        return html.P("Aucun document.", className="muted")
    more = len(docs) - DOCUMENTS_SHOWN
    docs = docs[:DOCUMENTS_SHOWN]
    listed = html.Ul(
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
    if more <= 0:
        return listed
    tail = f"… et {more} document{'s' if more > 1 else ''} plus ancien{'s' if more > 1 else ''}"
    return html.Div([listed, html.P(tail + " (dans le carnet).", className="muted")])
