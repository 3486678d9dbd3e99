"""Issue 15, the portfolio's figures over a period: a gas meter's consumption (the difference of
its index, never the index), kWh/m², kWh/m²/DJU and the rank, each recomputed here from the
seeded readings and weather with plain formulas; the period a page opens on and its
« provisoire »; the Décret tertiaire trajectory of each building."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from carnet.access import EVERYTHING, scope_of
from carnet.db import session_scope
from carnet.models import User
from carnet.store import write_readings
from carnet.timeutil import local_midnight_epoch
from contract.calendar import today as local_today
from contract.default_periods import (
    current_season,
    last_complete_month,
    month_status,
    season_status,
    year_status,
)
from dashboards.confort_data import comfort_status, month_choices
from dashboards.period_views import provisional_badge
from dashboards.portfolio_data import period_choices, portfolio_energy
from dashboards.savings_data import savings_portfolio, seasons_on
from dashboards.tertiaire_data import tertiaire_of
from tests.helpers.browser import seed_users
from tests.helpers.cli import run
from tests.helpers.energy_town import KWH_PER_M3, TODAY, TOWN, make_energy_town

SEASON = ("2025-10-01", "2026-05-20")
AREA = {b["code"]: float(b["heated_area_m2"]) for b in TOWN["buildings"]}
GAS = {"CURIE": "CURIE-GAZ", "MAIRIE": "MAIRIE-GAZ", "GYM": "GYM-GAZ"}


@pytest.fixture
def town(engine):
    seed_users(engine)
    return make_energy_town(engine)


def _in(town, first: str, last: str) -> np.ndarray:
    days = town["days"]
    return np.asarray((days >= pd.Timestamp(first)) & (days <= pd.Timestamp(last)))


def test_the_gas_column_is_the_index_difference_not_the_index(engine, town):
    energy = portfolio_energy(engine, EVERYTHING, "saison:2025-2026", TODAY)
    channels = energy.channels.set_index("channel_id")
    days = town["days"]
    first = int(np.flatnonzero(days == pd.Timestamp(SEASON[0]))[0])
    last = int(np.flatnonzero(days == pd.Timestamp(SEASON[1]))[0])
    for code in GAS.values():
        index = town["index"][code]  # at each midnight: the day's m³ is the next one minus it
        expected_m3 = index[last + 1] - index[first]
        row = channels.loc[town["ids"][code]]
        assert row["value"] == pytest.approx(expected_m3, rel=1e-9)
        assert row["energy_kwh"] == pytest.approx(expected_m3 * KWH_PER_M3, rel=1e-9)
        assert row["value"] < index[last + 1] / 2  # nowhere near the meter's index
    curie = channels.loc[town["ids"]["CURIE-GAZ"]]
    assert town["index"]["CURIE-GAZ"][-1] > 707_000 and curie["value"] < 30_000


def test_kwh_per_m2_per_dju_and_rank_from_the_seeded_rows(engine, town):
    energy = portfolio_energy(engine, EVERYTHING, "saison:2025-2026", TODAY)
    got = energy.buildings.set_index("building_code")
    mask = _in(town, *SEASON)
    dju = float(town["dju"][mask].sum())
    expected = {}
    for b, code in GAS.items():
        kwh = float(town["gas_m3"][code][mask].sum()) * KWH_PER_M3
        if b == "MAIRIE":
            kwh += float(town["elec_kwh"][mask].sum())
        expected[b] = kwh
        assert got.loc[b, "energy_kwh"] == pytest.approx(kwh, rel=1e-9)
        assert got.loc[b, "dju"] == pytest.approx(dju, rel=1e-9)
        assert got.loc[b, "energy_kwh_m2"] == pytest.approx(kwh / AREA[b], rel=1e-9)
        assert got.loc[b, "energy_kwh_m2_dju"] == pytest.approx(kwh / AREA[b] / dju, rel=1e-9)
    assert got.loc["MAIRIE", "energy_kwh_electricite"] == pytest.approx(
        float(town["elec_kwh"][mask].sum())
    )
    order = sorted(expected, key=lambda b: expected[b] / AREA[b], reverse=True)
    assert [int(got.loc[b, "rank"]) for b in order] == [1, 2, 3]
    assert not energy.status.provisional  # a past season, its data complete


def test_the_current_season_is_the_default_and_provisional(engine, town):
    periods, default = period_choices(TODAY)
    assert default == "saison:2026-2027" and periods[0]["value"] == default
    energy = portfolio_energy(engine, EVERYTHING, default, TODAY)
    assert energy.status.provisional
    assert energy.status.reason == "saison en cours : 2 mois sur 8"
    assert (energy.day_from, energy.day_to) == (dt.date(2026, 10, 1), dt.date(2026, 11, 30))
    mask = _in(town, "2026-10-01", "2026-11-30")
    gym = energy.buildings.set_index("building_code").loc["GYM", "energy_kwh"]
    assert gym == pytest.approx(float(town["gas_m3"]["GYM-GAZ"][mask].sum()) * KWH_PER_M3)


def test_default_periods_and_their_reasons():
    assert current_season("10-01", "05-20", TODAY) == "2026-2027"
    assert current_season("10-01", "05-20", dt.date(2026, 6, 15)) == "2025-2026"
    assert last_complete_month(TODAY) == "2026-11"
    assert last_complete_month(dt.date(2027, 1, 1)) == "2026-12"
    assert month_status("2026-12", TODAY).reason == "mois en cours"
    late = month_status("2026-11", TODAY, dt.date(2026, 11, 28))
    assert late.provisional and late.reason == "relevés manquants après le 28/11"
    assert not month_status("2026-11", TODAY, dt.date(2026, 11, 30)).provisional
    assert season_status("2026-2027", dt.date(2027, 1, 15), dt.date(2027, 1, 14)).reason == (
        "saison en cours : 3 mois sur 8"
    )
    assert not season_status("2025-2026", TODAY, dt.date(2026, 11, 30)).provisional
    assert year_status(2026, TODAY).reason == "année en cours : 11 mois sur 12"
    assert not year_status(2025, TODAY, dt.date(2025, 12, 31)).provisional


def test_comfort_opens_on_the_last_complete_month(engine, town):
    months, default = month_choices(TODAY)
    assert months[0] == "2026-12" and default == "2026-11"
    assert comfort_status(engine, EVERYTHING, "2026-12", TODAY).reason == "mois en cours"
    assert not comfort_status(engine, EVERYTHING, "2026-11", TODAY).provisional
    later = comfort_status(engine, EVERYTHING, "2026-12", dt.date(2027, 1, 3))
    assert later.reason == "relevés manquants après le 30/11"


def test_savings_open_on_the_current_season_marked_provisional(engine, town):
    seasons, default = seasons_on(engine, "TEST-CONTRAT", TODAY)
    assert default == "2026-2027" and "2025-2026" in seasons
    p = savings_portfolio(engine, "TEST-CONTRAT", "2026-2027", as_of=dt.date(2026, 11, 30))
    assert p.status.reason == "saison en cours : 2 mois sur 8"
    assert p.building_status["MAIRIE"].reason == "saison en cours : 2 mois sur 8"
    # settled on to 5 December, the meter's last index is the one of 1 December 00:00
    p = savings_portfolio(engine, "TEST-CONTRAT", "2026-2027", as_of=dt.date(2026, 12, 5))
    assert p.building_status["MAIRIE"].reasons == (
        "saison en cours : 2 mois sur 8",
        "relevés manquants après le 30/11",
    )
    # the row repeats only what the page's banner does not say
    assert p.status == p.building_status["MAIRIE"]  # its only building: the banner says all
    assert provisional_badge(p.building_status["MAIRIE"], p.status).children == "provisoire"
    season_only = season_status("2026-2027", dt.date(2026, 12, 6), dt.date(2026, 12, 5))
    badge = provisional_badge(p.building_status["MAIRIE"], season_only)
    assert badge.children == "provisoire : relevés manquants après le 30/11"
    done = savings_portfolio(engine, "TEST-CONTRAT", "2025-2026", as_of=dt.date(2026, 11, 30))
    assert not done.status.provisional and not done.building_status["MAIRIE"].provisional


def test_a_contractor_compares_only_its_contract_buildings(engine, town):
    with session_scope(engine) as s:
        user = s.query(User).filter_by(login="exploitant").one()
        scope = scope_of(s, user)
    energy = portfolio_energy(engine, scope, "saison:2025-2026", TODAY)
    assert list(energy.buildings["building_code"]) == ["MAIRIE"]
    assert set(tertiaire_of(engine, scope, TODAY)) == {"MAIRIE"}


def _year_kwh(town, code: str, year: int) -> float:
    mask = np.asarray(town["days"].year == year)
    kwh = float(town["gas_m3"][GAS[code]][mask].sum()) * KWH_PER_M3
    if code == "MAIRIE":
        kwh += float(town["elec_kwh"][mask].sum())
    return kwh


def test_tertiaire_trajectory_recomputed_from_the_readings(engine, town):
    got = tertiaire_of(engine, EVERYTHING, TODAY)
    dju = {
        y: float(town["dju"][np.asarray(town["days"].year == y)].sum()) for y in (2023, 2024, 2025)
    }
    # the school declares no year: its first complete one (2023); the town hall declares 2024
    for code, ref in (("CURIE", 2023), ("MAIRIE", 2024), ("GYM", 2023)):
        t = got[code]
        assert t.reference_year == ref
        traj = t.trajectory.set_index("year")
        ref_kwh = _year_kwh(town, code, ref)
        assert t.trajectory.attrs["reference_kwh"] == pytest.approx(ref_kwh, rel=1e-9)
        actual = _year_kwh(town, code, 2025)
        adjusted = actual * dju[ref] / dju[2025]
        target = ref_kwh * (1 - 0.40 * (2025 - ref) / (2030 - ref))
        assert traj.loc[2025, "actual_kwh"] == pytest.approx(actual, rel=1e-9)
        assert traj.loc[2025, "adjusted_kwh"] == pytest.approx(adjusted, rel=1e-9)
        assert traj.loc[2025, "target_kwh"] == pytest.approx(target, rel=1e-9)
        assert bool(traj.loc[2025, "on_track"]) == (adjusted <= target)
        assert traj.loc[2030, "target_kwh"] == pytest.approx(ref_kwh * 0.6)
        assert traj.loc[2050, "target_kwh"] == pytest.approx(ref_kwh * 0.4)
        assert pd.isna(traj.loc[2026, "actual_kwh"])  # 2026 is not over
    assert got["CURIE"].reference_source == "première année complète"
    assert got["MAIRIE"].reference_source == "déclarée"
    assert bool(got["CURIE"].latest["on_track"]) and not bool(got["GYM"].latest["on_track"])
    assert got["MAIRIE"].area_m2 == 1100 and got["MAIRIE"].assujetti  # its tertiary area
    assert not got["GYM"].assujetti


def test_carnet_comfort_defaults_to_the_last_complete_month(engine, town, capsys):
    status, out = run(capsys, "comfort", "--json")
    assert status == 0, out
    assert json.loads(out)["month"] == last_complete_month(local_today())


def test_a_building_whose_readings_stop_says_so_on_its_row(engine, town):
    """The school's meter read on to 12 December, the others stopped on 30 November: the
    banner says the season is in progress, the gym's row its own missing days."""
    ids, index = town["ids"], town["index"]["CURIE-GAZ"]
    days = pd.date_range("2026-12-02", "2026-12-12", freq="D")
    extra = pd.DataFrame(
        {
            "channel_id": ids["CURIE-GAZ"],
            "ts": local_midnight_epoch(days),
            "value": index[-1] + 100.0 * np.arange(1, len(days) + 1),
            "quality": 0,
        }
    )
    write_readings(engine, extra, None)
    energy = portfolio_energy(engine, EVERYTHING, "saison:2026-2027", dt.date(2026, 12, 12))
    assert energy.status.reasons == ("saison en cours : 2 mois sur 8",)
    frame = energy.buildings
    by_code = dict(zip(frame["building_code"], frame["building_id"], strict=True))
    curie = energy.building_status[by_code["CURIE"]]
    gym = energy.building_status[by_code["GYM"]]
    assert provisional_badge(curie, energy.status).children == "provisoire"
    assert provisional_badge(gym, energy.status).children == (
        "provisoire : relevés manquants après le 30/11"
    )
