"""`carnet readings`: raw, daily and monthly figures from a shell, in three formats."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carnet.db import session_scope
from carnet.portfolio import load_portfolio
from carnet.store import write_readings
from carnet.timeutil import to_epoch
from carnet_cli.main import main

MINIMAL = Path(__file__).parent / "data" / "portfolio_min.yaml"


@pytest.fixture
def gas(engine):
    with session_scope(engine) as s:
        load_portfolio(s, MINIMAL)
        from sqlalchemy import select

        from carnet.models import Channel

        cid = s.scalar(select(Channel.id).where(Channel.code == "MAIRIE-GAZ"))
    # 2 m3 per hour from 1 March to 1 April 2025 (local): March has a 23-hour day
    times = pd.date_range("2025-03-01", "2025-04-01", freq="h", tz="Europe/Paris")
    ts = to_epoch(times)
    write_readings(
        engine, pd.DataFrame({"channel_id": cid, "ts": ts, "value": 2.0 * np.arange(len(ts))})
    )
    return len(ts)


def test_monthly_json_sums_local_days(gas, capsys):
    assert main(["readings", "MAIRIE-GAZ", "--monthly", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    march = next(r for r in rows if r["month"] == "2025-03")
    hours_in_march = 31 * 24 - 1
    assert march["value"] == pytest.approx(2.0 * hours_in_march)
    assert march["energy_kwh"] == pytest.approx(2.0 * hours_in_march * 11.2)
    assert march["days_missing"] == 0


def test_daily_csv_and_table(gas, capsys):
    assert (
        main(
            [
                "readings",
                "MAIRIE-GAZ",
                "--daily",
                "--from",
                "30/03/2025",
                "--to",
                "2025-03-31",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert frame["day"].tolist() == ["2025-03-30", "2025-03-31"]
    assert frame["value"].tolist() == [46.0, 48.0]
    assert main(["readings", "MAIRIE-GAZ", "--from", "2025-03-30", "--to", "2025-03-30"]) == 0
    table = capsys.readouterr().out
    assert "30/03/2025 03:00" in table and "30/03/2025 02:00" not in table


def test_unknown_channel_and_bad_date(gas, capsys):
    assert main(["readings", "NOPE"]) == 2
    assert "inconnu" in capsys.readouterr().err
    assert main(["readings", "MAIRIE-GAZ", "--from", "31/02/2025"]) == 2
    assert "date illisible" in capsys.readouterr().err
