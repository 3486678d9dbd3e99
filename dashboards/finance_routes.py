"""The finance service's monthly CSV download (French spreadsheet conventions)."""

from __future__ import annotations

import re

import flask
from werkzeug.exceptions import abort

from carnet.frcsv import to_french_csv
from contract.finance import export_filename, finance_month_french
from dashboards import db
from dashboards.auth import current_scope, route
from dashboards.finances_data import month_finance

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@route("/export/finances/<contract_code>/<month>.csv", "finance.export")
def finance_csv(contract_code: str, month: str):
    if not MONTH_RE.match(month):
        abort(404)
    try:
        frame = month_finance(db.engine(), current_scope(), contract_code, month)
    except LookupError:
        abort(404)
    except ValueError as exc:
        return flask.Response(str(exc), status=400, mimetype="text/plain; charset=utf-8")
    body = to_french_csv(finance_month_french(frame))
    name = export_filename(contract_code, month)
    return flask.Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
