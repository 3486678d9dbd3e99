"""The finance service's downloads: the month (French CSV or workbook) and the season summary."""

from __future__ import annotations

import re

import flask
import pandas as pd
from werkzeug.exceptions import abort

from carnet.frcsv import to_french_csv
from contract.finance_table import french
from contract.terms import month_label
from dashboards import db
from dashboards.auth import current_scope, route
from dashboards.finance_xlsx import workbook
from dashboards.finances_data import finance_month, finance_season

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
SEASON_RE = re.compile(r"^\d{4}-\d{4}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_filename(contract_code: str, period: str, ext: str = "csv") -> str:
    return f"carnet-finances-{contract_code}-{period}.{ext}"


def _send(body: bytes, name: str, ext: str):
    mimetype = XLSX if ext == "xlsx" else "text/csv; charset=utf-8"
    return flask.Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _refused(exc: Exception):
    return flask.Response(str(exc), status=400, mimetype="text/plain; charset=utf-8")


@route("/export/finances/<contract_code>/<month>.<ext>", "finance.export")
def finance_file(contract_code: str, month: str, ext: str):
    if not MONTH_RE.match(month) or ext not in ("csv", "xlsx"):
        abort(404)
    try:
        fm = finance_month(db.engine(), contract_code, month, scope=current_scope())
    except LookupError:
        abort(404)
    except ValueError as exc:
        return _refused(exc)
    if ext == "csv":
        body = to_french_csv(french(fm.frame))
    else:
        summary = fm.frame[fm.frame["building_code"] == "TOTAL"]
        body = workbook(
            {contract_code: [fm]},
            summary,
            f"Export financier, {month_label(month)} : {contract_code}",
        )
    return _send(body, export_filename(contract_code, month, ext), ext)


@route("/export/finances/<contract_code>/saison/<season>.<ext>", "finance.export")
def finance_season_file(contract_code: str, season: str, ext: str):
    if not SEASON_RE.match(season) or ext not in ("csv", "xlsx"):
        abort(404)
    try:
        months, summary = finance_season(db.engine(), contract_code, season, scope=current_scope())
    except LookupError:
        abort(404)
    except ValueError as exc:
        return _refused(exc)
    if ext == "csv":
        body = to_french_csv(french(summary))
    else:
        body = workbook(
            {contract_code: months},
            pd.DataFrame(summary),
            f"Export financier, saison {season} : {contract_code}",
        )
    return _send(body, export_filename(contract_code, f"saison-{season}", ext), ext)
