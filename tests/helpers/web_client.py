"""The dashboards through Flask's test client, without a browser: sign in through the form (with
its CSRF token), run a Dash callback as the page would, upload a file to the import page."""

from __future__ import annotations

import base64
import json
import re

from tests.helpers.browser import dash_callback_payload, password_of

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(client, login, password=None, suivant=None):
    token = CSRF.search(client.get("/connexion").text).group(1)
    data = {"login": login, "password": password or password_of(login), "csrf": token}
    if suivant is not None:
        data["suivant"] = suivant
    return client.post("/connexion", data=data)


def body(response) -> str:
    """The response as text, with the JSON of Dash responses decoded (no \\u escapes)."""
    try:
        data = response.get_json(silent=True) if hasattr(response, "get_json") else response.json()
    except ValueError:
        data = None
    return response.text if data is None else json.dumps(data, ensure_ascii=False)


def callback(client, output_id, values=None):
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, output_id, values)
    return client.post("/_dash-update-component", json=payload)


class Reply:
    """A callback's response kept as its status and its `body`, for the assertions on it."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.text = body(response)


def post_callback(client, output_id, values=None) -> Reply:
    return Reply(callback(client, output_id, values))


def page_content(client, path):
    """The page layout as the Dash router callback renders it for `path`."""
    return callback(client, "_pages_content", {"_pages_location.pathname": path})


def upload(client, content: str, name="releves.csv"):
    """`content` dropped on the import page as the file `name` (auto-detected format, not strict)."""
    deps = client.get("/_dash-dependencies").get_json()
    data = "data:text/csv;base64," + base64.b64encode(content.encode("utf-8")).decode()
    payload = dash_callback_payload(
        deps,
        "imp-result",
        {
            "imp-upload.contents": [data],
            "imp-upload.filename": [name],
            "imp-format.value": "",
            "imp-strict.value": [],
        },
    )
    return client.post("/_dash-update-component", json=payload)


def signed_in_client(app, login, password=None):
    client = app.server.test_client()
    assert sign_in(client, login, password).status_code == 302, login
    return client


def components(node):
    """Every component (dict with type/props) of a Dash layout JSON, depth first."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            yield from components(node["props"].get("children"))
        else:
            for value in node.values():
                yield from components(value)
    elif isinstance(node, list):
        for item in node:
            yield from components(item)
