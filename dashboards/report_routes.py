"""The working group's monthly report (PDF) downloaded from the savings page: the very
document of `carnet report monthly`, for the signed-in user's scope."""

from __future__ import annotations

import datetime as dt
import re

import flask
from dash import html
from werkzeug.exceptions import abort

from carnet.access import CarnetPermissionError
from dashboards import db
from dashboards.auth import current_scope, current_user, route
from dashboards.fmt import fr_date
from dashboards.report_data import monthly_report
from dashboards.report_pdf import render_pdf
from dashboards.savings_data import SavingsPortfolio

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def monthly_report_link(p: SavingsPortfolio) -> html.A | None:
    """The savings page's link to the report of the season's last month, or of the last
    complete one while the season runs (for the roles that may download it)."""
    user = current_user()
    if user is None or not user.can("report.monthly"):
        return None
    day = p.report.period_to
    if not p.season_complete and (day + dt.timedelta(days=1)).day != 1:
        previous = day.replace(day=1) - dt.timedelta(days=1)
        day = previous if previous >= p.report.period_from else day
    month = f"{day:%Y-%m}"
    return html.A(
        f"Rapport mensuel du groupe de travail ({fr_date(day)[3:]}, PDF)",
        href=f"/export/rapport/{p.report.contract_code}/{month}.pdf",
        id="savings-monthly-report",
        className="download",
    )


@route("/export/rapport/<contract_code>/<month>.pdf", "report.monthly")
def monthly_pdf(contract_code: str, month: str):
    if not MONTH_RE.match(month):
        abort(404)
    current_scope()  # 403 for a contractor bound to no contract
    try:
        report = monthly_report(db.engine(), current_user(), contract_code, month)
    except CarnetPermissionError:
        abort(403)
    except LookupError:
        abort(404)
    except ValueError as exc:
        return flask.Response(str(exc), status=400, mimetype="text/plain; charset=utf-8")
    return flask.Response(
        render_pdf(report),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="rapport-{contract_code}-{month}.pdf"'
        },
    )
