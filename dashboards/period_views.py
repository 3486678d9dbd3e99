"""« provisoire » next to figures of a period that is not complete, with the short reason
(`contract.default_periods.PeriodStatus`): shared by the savings, comfort and portfolio pages."""

from __future__ import annotations

from dash import html


def provisional_badge(status, said=None):
    """« provisoire » next to a figure whose period is incomplete, the reason in the tooltip
    and after the badge, less what the page's banner (`said`, a PeriodStatus) already says:
    a row repeats only its own reason (« relevés manquants après le 28/11 »)."""
    if status is None or not status.provisional:
        return None
    own = [r for r in status.reasons if said is None or r not in said.reasons]
    return html.Span(
        "provisoire" + (f" : {' ; '.join(own)}" if own else ""),
        className="badge badge-soon provisional", title=status.reason,
    )  # fmt: skip


def provisional_banner(status, id_: str):
    """« Chiffres provisoires : saison en cours : 2 mois sur 8. » above a period's figures."""
    if not status.provisional:
        return None
    return html.Div(
        f"Chiffres provisoires : {status.reason}.", id=id_, className="alert alert-warn provisional"
    )
