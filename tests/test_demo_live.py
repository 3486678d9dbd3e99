"""The demo stays alive while it is served (issue 15): its boiler controllers answer on
simulated loopback gateways and the real poller reads them, so that 40 minutes after the build
the devices page says « en ligne », not « pas de nouvelles »; and that page puts each device's
open alarm in its row (the demo's open boiler fault is listed, and so is its gateway's)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from carnet.access import Actor, scope_of
from carnet.db import session_scope
from carnet.models import Channel, DeviceStatus, Reading
from carnet_cli.demo.faults import OPEN_FAULT, SILENT_DEVICE_BUILDING
from carnet_cli.demo.live import LiveDemo
from carnet_cli.demo.town import build_demo
from dashboards.equipements_data import devices_and_alarms
from tests.helpers.wait import until
from tests.helpers.web_client import body, components, page_content, sign_in

SUMMARY = re.compile(r"(\d+) équipement\(s\) relevé\(s\), (\d+) en échec ou sans nouvelles")


def _statuses(engine) -> dict[str, dt.datetime | None]:
    with session_scope(engine) as s:
        return {st.gateway_code: st.last_contact_at for st in s.scalars(select(DeviceStatus))}


def _flow_readings(engine, building: str) -> tuple[int, int]:
    """(count, latest ts) of the building's boiler flow temperature readings."""
    with session_scope(engine) as s:
        n, last = s.execute(
            select(func.count(), func.max(Reading.ts))
            .join(Channel, Channel.id == Reading.channel_id)
            .where(Channel.code == f"{building}-CHAUD-1-TD")
        ).one()
    return int(n), int(last)


def _devices_summary(client) -> tuple[int, int]:
    text = body(page_content(client, "/equipements"))
    devices, stale = SUMMARY.search(text).groups()
    return int(devices), int(stale)


def test_served_demo_devices_keep_reporting(engine, db_url):
    built = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)
    build_demo(engine, today=built)
    from dashboards.app import create_app

    client = create_app(db_url).server.test_client()
    sign_in(client, "gestionnaire", "demo-gestionnaire")
    devices, stale = _devices_summary(client)
    assert devices >= 10 and stale == devices  # 40 minutes old: all « pas de nouvelles »
    before = _statuses(engine)
    count0, last0 = _flow_readings(engine, "MAIRIE")
    started = dt.datetime.now(dt.UTC)

    with LiveDemo(engine, db_url, poll_s=0.2, flush_s=0.3) as live:
        reporting = {c.gateway for c in live.controllers}
        assert reporting == set(before) - {f"GW-{SILENT_DEVICE_BUILDING}"}

        def all_fresh():
            now = _statuses(engine)
            return all(now[g] is not None and now[g] >= started for g in reporting)

        until(all_fresh, timeout_s=30, what="every simulated controller's last contact")
        until(lambda: _flow_readings(engine, "MAIRIE")[0] >= count0 + 2, timeout_s=30,
              what="new flow temperature readings")  # fmt: skip
    assert live.error is None and live.poller.held_rows == 0  # nothing implausible

    after = _statuses(engine)
    assert after[f"GW-{SILENT_DEVICE_BUILDING}"] == before[f"GW-{SILENT_DEVICE_BUILDING}"]
    count1, last1 = _flow_readings(engine, "MAIRIE")
    assert count1 > count0 and last1 > last0 and last1 >= int(started.timestamp())
    devices, stale = _devices_summary(client)
    assert stale == 1  # only the controller whose gateway « lost power »
    assert "en ligne" in body(page_content(client, "/equipements"))


def test_the_devices_row_shows_its_open_alarm(engine, db_url):
    build_demo(engine)
    devices, alarms = devices_and_alarms(engine, scope_of(engine, Actor("gestionnaire")))
    building = OPEN_FAULT[0]
    (alarm,) = [a for a in alarms if a["building"][0] == building]  # the demo's open fault
    by_gateway = {d["gateway_code"]: d for d in devices}
    assert [a["id"] for a in by_gateway[f"GW-{building}"]["open_alarms"]] == [alarm["id"]]
    assert all(not d["open_alarms"] for g, d in by_gateway.items() if g != f"GW-{building}")

    from dashboards.app import create_app

    client = create_app(db_url).server.test_client()
    sign_in(client, "gestionnaire", "demo-gestionnaire")
    layout = page_content(client, "/equipements").get_json()
    rows = [c for c in components(layout) if c["props"].get("className") == "device-row"]
    row = next(r for r in rows if _text(r["props"]["children"][0]) == f"GW-{building}")
    cells = row["props"]["children"]
    cell = next(c for c in cells if "device-alarm" in c["props"].get("className", ""))
    assert alarm["title"] in _text(cell) and "state-bad" in cell["props"]["className"]
    others = [r for r in rows if r is not row]
    assert others and all(_text(r).count("—") >= 1 for r in others)


def _text(node) -> str:
    """The text of a component and its children."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return _text(node.get("props", {}).get("children"))
    if isinstance(node, list):
        return " ".join(_text(n) for n in node)
    return ""
