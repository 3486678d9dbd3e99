"""Pieces shared by the carnet's pages (kept out of `pages/`: Dash imports page modules under its
own names, so a page must never import another page)."""

from __future__ import annotations

from dash import dcc, html

from carnet.obligations import to_fill_text
from dashboards.components import data_table
from dashboards.fmt import fr_date

SOON_DAYS = 30


def _periodicity(row: dict) -> str:
    if row.get("periodicity_days"):
        return f"{row['periodicity_days']} jours"
    months = row.get("periodicity_months")
    if months and months % 12 == 0:
        years = months // 12
        return "1 an" if years == 1 else f"{years} ans"
    return f"{months} mois" if months else "—"


def obligation_badge(row: dict):
    if row.get("to_fill"):  # never recorded done: ask for the date (the text in the title)
        return html.Span(
            "À renseigner",
            className="badge badge-muted badge-to-fill",
            title=to_fill_text(row.get("reference")),
        )
    days = row.get("days_overdue")
    if days is None:
        return html.Span("à planifier", className="badge badge-muted")
    if days > 0:
        return html.Span(f"En retard de {days} j", className="badge badge-late")
    if days == 0:
        return html.Span("Échéance aujourd'hui", className="badge badge-soon")
    if days > -SOON_DAYS:
        return html.Span(f"Dans {-days} j", className="badge badge-soon")
    return html.Span("À jour", className="badge badge-ok")


def short_label(row: dict) -> str:
    """The label without the equipment suffix that the equipment column already shows."""
    label, code = row["label"], row.get("equipment_code")
    return label.removesuffix(f" — {code}") if code else label


def obligations_table(rows: list[dict], show_building: bool = False, table_id="bp-obligations"):
    if not rows:
        return html.P("Aucune obligation.", className="muted", id=f"{table_id}-empty")
    head = ([html.Th("Bâtiment")] if show_building else []) + [
        html.Th("Obligation"),
        html.Th("Équipement"),
        html.Th("Périodicité"),
        html.Th("Dernière réalisation"),
        html.Th("Prochaine échéance"),
        html.Th("État"),
    ]
    body = []
    for r in rows:
        cells = []
        if show_building:
            cells.append(
                html.Td(
                    dcc.Link(
                        r.get("building_name") or r["building_code"],
                        href=f"/batiments/{r['building_code']}",
                    )
                )
            )
        cells += [
            html.Td(short_label(r), title=r.get("notes") or None),
            html.Td(r.get("equipment_code") or "—", className="code"),
            html.Td(_periodicity(r)),
            html.Td(
                "date à indiquer" if r.get("to_fill") else fr_date(r.get("last_done_on")),
                className="date",
            ),
            html.Td(fr_date(r.get("next_due_on")), className="date"),
            html.Td(obligation_badge(r)),
        ]
        body.append(
            html.Tr(
                cells,
                className="late" if r.get("overdue") else None,
                **{"data-obligation": str(r["id"])},
            )
        )
    return data_table(head, body, id_=table_id)


# the words dcc.Dropdown writes itself (multi-select count, search box), in French
DROPDOWN_LABELS_FR = {
    "select_all": "Tout sélectionner",
    "deselect_all": "Tout désélectionner",
    "selected_count": "{num_selected} sélectionné(s)",
    "search": "Rechercher",
    "clear_search": "Effacer la recherche",
    "clear_selection": "Effacer la sélection",
    "no_options_found": "Aucun choix ne correspond",
}
