"""The notices that need the contract engine: a building whose month runs above its corrected
target, and one whose CUSUM turns, for the manager (and no one else), once, through a real SMTP
server. The town: one building whose gas index and weather station give hourly readings, cold
and steady (3 °C: 15 DJU a day), saving for ten days then over-consuming."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from carnet import roles
from carnet.db import session_scope
from carnet.models import Channel, Notice
from carnet.notifications import Thresholds
from carnet.portfolio import load_portfolio
from carnet.store import write_readings
from carnet.users import set_user
from carnet_cli.notify_cmd import contract_events, run_once
from tests.helpers.notify_town import SmtpServer, text_of

TOWN = {
    "stations": [
        {
            "code": "ST",
            "name": "Station",
            "channels": [
                {"code": "ST-T", "quantity": "temp_outdoor_c", "kind": "instant", "unit": "degC"}
            ],
        }
    ],
    "buildings": [
        {
            "code": "SALLE",
            "name": "Salle des fêtes",
            "station": "ST",
            "channels": [
                {
                    "code": "SALLE-GAZ",
                    "quantity": "gas_volume_m3",
                    "kind": "index",
                    "unit": "m3",
                    "kwh_per_unit": 11.1,
                }  # fmt: skip
            ],
        }
    ],
    "contracts": [
        {
            "code": "DERIVE",
            "contractor": "Thermique du Nord",
            "starts_on": "2024-07-01",
            "season": {"start": "10-01", "end": "05-20"},
            "degree_days": {"method": "costic", "base_c": 18, "station": "ST"},
            "price_eur_per_mwh_pci": 90,
            "pcs_pci_ratio": 1.11,
            "buildings": [
                {"building": "SALLE", "channel": "SALLE-GAZ", "nb_mwh_pci": 245, "dju_ref": 2450}
            ],
        }
    ],
}
# NB / DJU_ref = 0.1 MWh PCI per DJU = 111 kWh PCS = 10 m3 a DJU: the target is 150 m3 a day
SAVING_M3_PER_DAY, OVER_M3_PER_DAY = 120.0, 240.0
FIRST = dt.date(2025, 1, 1)
TURN = dt.date(2025, 1, 11)
NOW = dt.datetime(2025, 1, 20, 9, 0, tzinfo=dt.UTC)  # settles up to 19/01


@pytest.fixture
def town(engine):
    with session_scope(engine) as s:
        load_portfolio(s, TOWN, actor="test")
        set_user(s, "gestionnaire", roles.MANAGER, email="gestion@ville.test", actor="test")
        set_user(s, "finances", roles.FINANCE, email="finances@ville.test", actor="test")
        ids = dict(s.execute(select(Channel.code, Channel.id)).all())
    hours = pd.date_range(
        pd.Timestamp(FIRST, tz="Europe/Paris"),
        pd.Timestamp(NOW).tz_convert("Europe/Paris"),
        freq="h",
        inclusive="left",
    )
    ts = (hours.tz_convert("UTC").as_unit("s").asi8).astype("int64")
    local_day = hours.tz_localize(None).normalize()
    per_hour = np.where(local_day < pd.Timestamp(TURN), SAVING_M3_PER_DAY, OVER_M3_PER_DAY) / 24
    index = 10_000 + np.concatenate([[0.0], np.cumsum(per_hour[:-1])])
    frame = pd.concat(
        [
            pd.DataFrame({"channel_id": ids["SALLE-GAZ"], "ts": ts, "value": index, "quality": 0}),
            pd.DataFrame({"channel_id": ids["ST-T"], "ts": ts, "value": 3.0, "quality": 0}),
        ],
        ignore_index=True,
    )
    write_readings(engine, frame, None)


def test_drift_and_cusum_turn_are_detected_from_the_settlement(engine, town):
    events = contract_events(engine, NOW, Thresholds())
    by_kind = {e.kind: e for e in events}
    assert set(by_kind) == {"drift_month", "cusum_turn"}
    drift = by_kind["drift_month"]
    # month to 19/01: 10 x 120 + 9 x 240 = 3 360 m3 against 19 x 150 = 2 850 m3: +17,9 %
    assert drift.key.endswith(":SALLE:2025-01") and "+18 %" in drift.subject
    turn = by_kind["cusum_turn"]
    assert turn.key.endswith(f":SALLE:{TURN:%Y-%m-%d}") and "11/01/2025" in turn.subject
    assert "la surconsommation commence" in turn.lines[0]
    # a share above the threshold only
    assert "drift_month" not in {
        e.kind for e in contract_events(engine, NOW, Thresholds(drift_pct=20))
    }


def test_the_manager_hears_of_it_once(engine, town, monkeypatch):
    server = SmtpServer()
    server.start()
    monkeypatch.setenv("CARNET_SMTP_URL", server.url)
    try:
        run_once(engine, NOW)
        run_once(engine, NOW + dt.timedelta(days=1, minutes=1))  # the digest hour has passed
        run_once(engine, NOW + dt.timedelta(days=1, hours=1))
    finally:
        server.stop()
    with session_scope(engine) as s:
        kinds = sorted(s.scalars(select(Notice.kind)))
    assert kinds == ["cusum_turn", "drift_month"]
    [digest] = server.sink.messages  # both in the manager's daily digest (their default)
    assert digest["X-Envelope-To"] == "gestion@ville.test"
    body = text_of(digest)
    assert "SALLE" in body and "cible corrigée" in body and "CUSUM" in body
