"""The imports page (issue 15): the size limit it states is the one enforced, a 43 MB file goes
in through the server, and the result box says ok (green), partial (amber, with the rejected
rows) or failed (red)."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from carnet.db import get_engine
from carnet.models import ImportBatch, Reading
from ingest import limits
from tests.helpers import downloads as dl
from tests.helpers.browser import LOGIN_OF_ROLE, dash_callback_payload
from tests.helpers.web_client import body, page_content, signed_in_client, upload

MB = 1_000_000
HOURS = [h for h in range(24) if h != 2]  # no 02:00: it is missing or doubled at a DST change


def _components(node):
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            yield from _components(node["props"].get("children"))
        else:
            for value in node.values():
                yield from _components(value)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item)


def _alerts(response) -> list[tuple[str, str]]:
    """(class, text) of every alert in a callback's response."""
    data = response.get_json()["response"]
    out = []
    for c in _components(data):
        cls = c["props"].get("className") or ""
        if "alert" in cls.split():
            out.append((cls, c["props"].get("children")))
    return out


def test_the_limit_stated_is_the_one_enforced_and_it_is_200_mo(app):
    assert limits.MAX_UPLOAD_BYTES == 200 * limits.MIB
    assert app.server.config["MAX_CONTENT_LENGTH"] >= limits.UPLOAD_REQUEST_BYTES
    client = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    layout = page_content(client, "/imports").get_json()
    (zone,) = [c for c in _components(layout) if c["props"].get("id") == "imp-upload"]
    assert zone["props"]["max_size"] == limits.MAX_UPLOAD_BYTES
    assert "200\u00a0Mo au plus par envoi" in body(page_content(client, "/imports"))


def test_a_43_mb_file_goes_in_through_the_server(app, db_url):
    engine = get_engine(db_url)
    pad = "x" * 3900  # a free-text column the reader ignores: a big file of modest rows
    n = 11_100
    lines = ["point;horodate;valeur;commentaire"]
    lines += [
        f"MAIRIE-T;{1 + d % 28:02d}/{1 + d // 28 % 12:02d}/{2001 + d // 336} "
        f"{h:02d}:00;{19 + (d + h) % 5},5;{pad}"
        for d, h in ((i // 23, HOURS[i % 23]) for i in range(n))
    ]
    content = "\n".join(lines) + "\n"
    raw = content.encode("utf-8")
    assert len(raw) > 43 * MB
    client = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    deps = client.get("/_dash-dependencies").get_json()
    data = "data:text/csv;base64," + base64.b64encode(raw).decode()
    payload = dash_callback_payload(
        deps,
        "imp-result",
        {
            "imp-upload.contents": [data],
            "imp-upload.filename": ["gros.csv"],
            "imp-format.value": "",
            "imp-strict.value": [],
        },
    )
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.status_code
    with engine.connect() as conn:
        batch = conn.execute(select(ImportBatch).where(ImportBatch.source == "gros.csv")).one()
        stored = conn.execute(
            select(func.count()).select_from(Reading).where(Reading.batch_id == batch.id)
        ).scalar_one()
    assert (batch.rows_read, batch.rows_inserted, batch.rows_rejected) == (n, n, 0)
    assert stored == n
    assert [cls for cls, _ in _alerts(response)] == ["alert alert-ok"]


def test_partial_file_is_amber_with_its_rejected_row_and_a_failed_one_red(app):
    client = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    good = [f"MAIRIE-T;16/01/2025 {h:02d}:00;19,5" for h in range(10)]
    content = "point;horodate;valeur\n" + "\n".join([*good, "MAIRIE-T;16/01/2025 11:00;abc"])
    response = upload(client, content + "\n", "onze.csv")
    assert response.status_code == 200
    alerts = _alerts(response)
    assert [cls for cls, _ in alerts] == ["alert alert-warn"], alerts
    text = json.dumps(response.get_json(), ensure_ascii=False)
    assert "abc" in text and "Lignes rejetées" in text  # the rejected row is listed
    # its summary and rejected rows, downloaded: rebuilt from the stored batch
    stores = dl.stores(response.get_json()["response"])
    (report_key,) = [k for k in stores if k.startswith("imp-report:")]
    lot = stores[report_key]["lot"]
    _name, raw = dl.file_of(
        dl.request_download(client, "imp-report", "csv", {"lot": lot}, key=str(lot))
    )
    header, line = dl.csv_rows(raw)
    assert header[3:8] == ["Lues", "Nouvelles", "Mises à jour", "Inchangées", "Rejetées"]
    assert line[0] == "onze.csv" and line[3:8] == ["11", "10", "0", "0", "1"]
    _name, raw = dl.file_of(
        dl.request_download(client, "imp-rejected-table", "xlsx", {"lot": lot}, key=f"envoi-{lot}")
    )
    sheet = dl.xlsx_rows(raw)
    assert sheet[0] == ["Ligne", "Motif", "Texte brut"] and len(sheet) == 2
    assert sheet[1][0] == 12 and "abc" in sheet[1][2]
    contractor = signed_in_client(app, LOGIN_OF_ROLE["contractor"])  # not its batch
    assert dl.request_download(contractor, "imp-report", "csv", {"lot": lot}).status_code == 403
    ok = upload(client, "point;horodate;valeur\nMAIRIE-T;17/01/2025 08:00;20\n", "ok.csv")
    assert [cls for cls, _ in _alerts(ok)] == ["alert alert-ok"]
    failed = upload(client, "rien de lisible ici\n", "illisible.csv")
    assert [cls for cls, _ in _alerts(failed)] == ["alert alert-error"], _alerts(failed)
