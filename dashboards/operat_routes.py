"""The OPERAT file download of the portfolio page: the manager only (`operat.export`, checked
on the server like every download), for one calendar year."""

from __future__ import annotations

import flask
from werkzeug.exceptions import abort

from carnet.frcsv import to_french_csv
from dashboards import db
from dashboards.auth import current_scope, route
from dashboards.operat_data import XLSX, operat_filename, operat_frame, operat_xlsx

CAPABILITY = "operat.export"


def operat_href(year: int, ext: str = "csv") -> str:
    return f"/export/operat/{int(year)}.{ext}"


@route("/export/operat/<int:year>.<ext>", CAPABILITY)
def operat_file(year: int, ext: str):
    if ext not in ("csv", "xlsx") or not 2010 <= year <= 2100:
        abort(404)
    frame = operat_frame(db.engine(), current_scope(), year)
    body = to_french_csv(frame) if ext == "csv" else operat_xlsx(frame, year)
    return flask.Response(
        body,
        mimetype=XLSX if ext == "xlsx" else "text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{operat_filename(year, ext)}"'},
    )
