"""Downloads as the page's buttons ask for them: find a page's downloadable tables and charts in
its rendered layout, click one (the raw pattern-matching callback request) and read the file."""

from __future__ import annotations

import base64
import csv
import io
import json

from tests.helpers.web_client import components, page_content

BTN, STORE, FILE = "dl-btn", "dl-params", "dl-file"


def _id(item_id: str, kind: str, key: str = "", **extra) -> dict:
    return {"id": item_id, "key": key, "type": kind, **extra}


def _key(id_: dict) -> str:
    """A pattern id as Dash writes it in `changedPropIds` (sorted keys, no spaces)."""
    return json.dumps(id_, sort_keys=True, separators=(",", ":"))


def stores(layout) -> dict[str, dict]:
    """download id (`id` or `id:key`) -> the params the page rendered next to its buttons."""
    return {
        ":".join(p for p in (c["props"]["id"]["id"], c["props"]["id"].get("key")) if p): (
            c["props"].get("data") or {}
        )
        for c in components(layout)
        if isinstance(c["props"].get("id"), dict) and c["props"]["id"].get("type") == STORE
    }


def page_layout(client, path: str):
    response = page_content(client, path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_json()


def request_download(
    client, item_id: str, fmt: str, params: dict, formats=("csv", "xlsx"), key: str = ""
):
    """The raw callback request of a click on the `fmt` button of `item_id`."""
    buttons = [
        {
            "id": _id(item_id, BTN, key, fmt=f),
            "property": "n_clicks",
            "value": 1 if f == fmt else 0,
        }
        for f in formats
    ]
    payload = {
        "output": _key({"id": ["MATCH"], "key": ["MATCH"], "type": FILE}) + ".data",
        "outputs": {"id": _id(item_id, FILE, key), "property": "data"},
        "inputs": [buttons],
        "state": [{"id": _id(item_id, STORE, key), "property": "data", "value": params}],
        "changedPropIds": [_key(_id(item_id, BTN, key, fmt=fmt)) + ".n_clicks"],
    }
    return client.post("/_dash-update-component", json=payload)


def file_of(response) -> tuple[str, bytes]:
    """(filename, bytes) of a download response."""
    assert response.status_code == 200, (response.status_code, response.text[:300])
    (out,) = response.get_json()["response"].values()
    data = out["data"]
    raw = base64.b64decode(data["content"]) if data.get("base64") else data["content"].encode()
    return data["filename"], raw


def csv_rows(raw: bytes) -> list[list[str]]:
    """A downloaded CSV as rows; it must start with the UTF-8 BOM and use `;`."""
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def xlsx_rows(raw: bytes) -> list[list]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(raw)).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]
