"""The frame around every page: navigation built from the page registry and the user's role,
the user's name and role, the sign-out button; and the "access refused" block."""

from __future__ import annotations

import datetime as dt

import dash
from dash import dcc, html
from dash._pages import _path_to_page

from carnet.roles import CAPABILITIES
from carnet.timeutil import TZ
from dashboards.auth import SignedInUser, current_user, session_token
from dashboards.fmt import fr_date

# French wording of each capability, for the home page ("what you can do here")
CAPABILITY_LABELS_FR = {
    "portfolio.view": "consulter le patrimoine et les dernières mesures",
    "savings.view": "suivre les économies d'énergie",
    "contract.view": "consulter les termes du contrat de chauffage",
    "contract.edit": "modifier les termes du contrat",
    "adjustment.edit": "saisir les ajustements de référence",
    "carnet.view": "consulter le carnet de santé des bâtiments",
    "carnet.edit": "tenir le carnet de santé",
    "carnet.intervention": "consigner des interventions",
    "carnet.observation": "signaler des observations",
    "carnet.triage": "trier les signalements",
    "obligations.view": "suivre les obligations réglementaires et leurs échéances",
    "rex.view": "consulter les retours d'expérience",
    "rex.account": "apporter son récit à un retour d'expérience",
    "rex.open": "ouvrir un retour d'expérience sur un incident",
    "rex.decide": "consigner les enseignements et décisions d'un retour d'expérience",
    "report.monthly": "télécharger le rapport mensuel du groupe de travail",
    "bookings.view": "consulter les réservations de salles",
    "bookings.edit": "créer et modifier les réservations",
    "heating_schedule.view": "consulter le programme de chauffe",
    "comfort.view": "suivre le confort délivré pendant les réservations",
    "finance.export": "produire l'export financier mensuel",
    "period.close": "arrêter un mois ou une saison, traiter les régularisations",
    "import.csv": "importer des relevés (CSV)",
    "quarantine.review": "examiner les relevés en quarantaine",
    "batch.revert": "annuler un lot d'import",
    "devices.view": "surveiller les équipements communicants",
    "alarms.view": "consulter les alarmes des équipements",
    "alarms.handle": "prendre en compte et clore les alarmes",
    "work_orders.view": "consulter les ordres de travail",
    "work_orders.edit": "créer et clore les ordres de travail",
    "users.admin": "gérer les utilisateurs",
    "notifications.own": "choisir les avis reçus par e-mail",
    "downloads.own": "télécharger les tableaux et graphiques de ses pages",
    "works.view": "consulter le programme de travaux",
    "works.edit": "inscrire des travaux au programme",
    "display.manage": "gérer les écrans des usagers et leurs conseils",
    "operat.export": "produire la déclaration OPERAT du décret tertiaire",
}

HIDDEN_FROM_NAV = {"/", "/not-found-404"}


def page_allowed(page: dict, user: SignedInUser | None) -> bool:
    capability = page.get("capability")
    if user is None:
        return False
    return capability is None or user.can(capability)


def pages_for(user: SignedInUser | None) -> list[dict]:
    """The registered pages this user may open, in registry order, for navigation."""
    return [
        page
        for page in dash.page_registry.values()
        if page_allowed(page, user)
        and page.get("nav", True)
        and page["path"] not in HIDDEN_FROM_NAV
        and not page["module"].endswith("not_found_404")
    ]


def allowed_href(path: str) -> str | None:
    """`path` if a registered page serves it and the signed-in user may open it, else None:
    lets a page link to another one (e.g. a building's record) without knowing its module."""
    page, _vars = _path_to_page(path.strip("/"))
    return path if page and page_allowed(page, current_user()) else None


def capabilities_for(user: SignedInUser) -> list[str]:
    return [c for c in CAPABILITIES if user.can(c)]


def sign_out_form() -> html.Form:
    """A POST carrying the session's token (the button's name and value): a link or an image
    elsewhere cannot sign the user out."""
    return html.Form(
        html.Button(
            "Se déconnecter",
            type="submit",
            name="csrf",
            value=session_token(),
            className="signout",
            id="sign-out",
        ),
        method="post",
        action="/deconnexion",
        className="signout-form",
    )


def navbar(user: SignedInUser) -> html.Header:
    links = [
        dcc.Link(
            page["name"],
            href=page["relative_path"],
            className="nav-link",
            id={"type": "nav-link", "path": page["path"]},
        )
        for page in pages_for(user)
    ]
    return html.Header(
        className="header",
        children=[
            html.Div(
                className="topbar",
                children=[
                    dcc.Link(
                        [html.Span("◧", className="brand-mark"), html.Span("Carnet")],
                        href="/",
                        className="brand",
                    ),
                    # phones: the navigation folds behind this button (see create_app)
                    html.Button("Menu", id="nav-menu", className="nav-menu", type="button"),
                    html.Div(
                        className="user-box",
                        children=[
                            html.Div(
                                [
                                    html.Span(user.name, className="user-name", id="user-name"),
                                    html.Span(
                                        user.role_label, className="user-role", id="user-role"
                                    ),
                                ],
                                className="user-id",
                            ),
                            sign_out_form(),
                        ],
                    ),
                ],
            ),
            html.Nav(links, className="nav", id="main-nav"),
        ],
    )


def print_header() -> html.Div:
    """Shown on paper only (print.css): what was printed and when. `assets/print.js` fills in
    the page's title and its choices (building, contract, period: the values of its selectors,
    which are not printed) and refreshes the date when printing."""
    today = fr_date(dt.datetime.now(TZ).date())
    return html.Div(
        [
            html.Div(
                [html.Span("◧ Carnet", className="print-brand"), html.Span(id="print-title")],
                className="print-what",
            ),
            html.Div(id="print-context", className="print-context"),
            html.Div(f"Imprimé le {today}", id="print-date", className="print-date"),
        ],
        className="print-header",
        id="print-header",
    )


def shell_layout() -> html.Div:
    """`app.layout`: evaluated per request, so the navigation follows the signed-in user."""
    user = current_user()
    children = [] if user is None else [navbar(user), print_header()]
    children.append(html.Main(dash.page_container, className="content"))
    return html.Div(children, className="app")


def forbidden_block(page_name: str | None = None) -> html.Div:
    what = f"la page « {page_name} »" if page_name else "cette page"
    return html.Div(
        className="forbidden",
        id="acces-refuse",
        children=[
            html.H1("Accès refusé"),
            html.P(f"Votre rôle ne permet pas d'ouvrir {what}."),
            dcc.Link("Retour à l'accueil", href="/"),
        ],
    )


def guard_layout(page: dict) -> None:
    """Wrap a registered page's layout so that client-side navigation to a page the role may
    not use renders the refusal instead of the page (the HTTP guard covers direct loads)."""
    layout = page.get("layout")
    capability = page.get("capability")
    if capability is None or getattr(layout, "carnet_guarded", False):
        return
    if capability not in CAPABILITIES:
        raise KeyError(f"page {page['module']}: unknown capability {capability!r}")

    def guarded_layout(**kwargs):
        user = current_user()
        if user is None or not user.can(capability):
            return forbidden_block(page.get("name"))
        return layout(**kwargs) if callable(layout) else layout

    guarded_layout.carnet_guarded = True
    page["layout"] = guarded_layout
