"""« provisoire » next to figures of a period that is not complete, with the short reason
(`contract.default_periods.PeriodStatus`): shared by the savings, comfort and portfolio pages."""

from __future__ import annotations

from dash import html


def provisional_badge(status):
    """« provisoire » next to a figure whose period is incomplete, the reason in the tooltip
    and after the badge."""
    if status is None or not status.provisional:
        return None
    return html.Span(
        f"provisoire : {status.reason}", className="badge badge-soon provisional",
        title=status.reason,
    )  # fmt: skip


def provisional_banner(status, id_: str):
    """« Chiffres provisoires : saison en cours : 2 mois sur 8. » above a period's figures."""
    if not status.provisional:
        return None
    return html.Div(
        f"Chiffres provisoires : {status.reason}.", id=id_, className="alert alert-warn provisional"
    )
