"""The « Décret tertiaire » section of a building's page: its reference year and consumption,
the 2030/2040/2050 targets, and per complete year the actual and climate-adjusted final energy
against the trajectory (`dashboards.tertiaire_data`). One call from the building page."""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboards import db
from dashboards.auth import current_scope
from dashboards.components import data_table
from dashboards.energy_data import DJU_NOTE
from dashboards.fmt import fr_number, fr_pct
from dashboards.tertiaire_data import Tertiaire, tertiaire_of

MILESTONES = (2030, 2040, 2050)


def tertiaire_section(code: str) -> html.Section | None:
    """The section for building `code` (None when the user's scope does not hold it)."""
    t = tertiaire_of(db.engine(), current_scope(), building_code=code).get(code)
    if t is None:
        return None
    return html.Section(
        [html.H2("Décret tertiaire"), *_body(t)],
        className="bp-section tertiaire-section",
        id="bp-tertiaire",
    )


def _facts(t: Tertiaire) -> html.Ul:
    area = f"{fr_number(t.area_m2)}\u00a0m²" if t.area_m2 is not None else "non renseignée"
    facts = [
        ("Surface tertiaire", area),
        ("Assujetti (1 000 m² et plus)", "oui" if t.assujetti else "non"),
        ("Activité (OPERAT)", t.activity or "non renseignée"),
        (
            "Année de référence",
            f"{t.reference_year} ({t.reference_source})" if t.reference_year else "—",
        ),
    ]
    if t.trajectory is not None:
        facts.append(
            ("Consommation de référence", f"{fr_number(t.trajectory.attrs['reference_kwh'])} kWh")
        )
    return html.Ul(
        [html.Li([html.Span(k, className="muted"), " : ", html.Span(v)]) for k, v in facts],
        className="facts",
        id="bp-tertiaire-facts",
    )


def _signed(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    text = fr_pct(value, 1).replace("-", "−")
    return ("+" + text) if value > 0 else text


def _body(t: Tertiaire) -> list:
    out = [_facts(t)]
    if t.trajectory is None:
        out.append(html.P(t.why, className="muted", id="bp-tertiaire-why"))
        return out
    traj = t.trajectory
    shown = traj[(traj["year"] <= t.last_year) | traj["year"].isin(MILESTONES)]
    rows = []
    for r in shown.itertuples(index=False):
        done = pd.notna(r.adjusted_kwh)
        status = "—"
        if done:
            status = "en bonne voie" if r.on_track else "en retard"
        rows.append(
            html.Tr(
                [
                    html.Td(str(int(r.year))),
                    html.Td(_signed(-r.reduction_pct) if r.reduction_pct else "0\u00a0%",
                            className="num"),
                    html.Td(fr_number(r.target_kwh), className="num"),
                    html.Td(fr_number(r.actual_kwh), className="num"),
                    html.Td(fr_number(r.dju), className="num"),
                    html.Td(fr_number(r.adjusted_kwh), className="num"),
                    html.Td(_signed(r.gap_pct), className="num"),
                    html.Td(status, className="good" if done and r.on_track else "bad" if done else ""),
                ],
                **{"data-year": str(int(r.year))},
            )
        )  # fmt: skip
    head = [
        "Année",
        "Réduction visée",
        "Objectif (kWh)",
        "Réel (kWh)",
        "DJU",
        "Ajusté au climat (kWh)",
        "Écart à l'objectif",
        "Trajectoire",
    ]
    out.append(
        html.Div(
            data_table(head, rows, numeric=(1, 2, 3, 4, 5, 6), id_="bp-tertiaire-table"),
            className="table-wrap",
        )
    )
    out.append(
        html.P(
            "Énergie finale de toutes les énergies du bâtiment, années civiles complètes ; "
            f"ajustée au climat de l'année de référence ({DJU_NOTE}) ; objectifs −40 % en "
            "2030, −50 % en 2040, −60 % en 2050, linéaires entre deux jalons.",
            className="muted table-note",
        )
    )
    return out
