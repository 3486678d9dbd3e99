"""The demo town's works programme: each simulated work (a change of the heating demand or of
the boiler's efficiency in `data/demo/simulation.yaml`, announced by a « works » entry of the
story) becomes a works project, whose expected saving is the effect planted in the simulation.

The planted effect is what the building saves over the year after the work: it is simulated
once more without it (the same weather, noise and faults), and the difference is the work's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from carnet.access import Actor
from carnet.roles import MANAGER
from carnet.works import add_works
from carnet_cli.demo.physics import PCS_PCI, World, simulate_building
from carnet_cli.demo.scenario import behaviour

ANNOUNCED_WITHIN_DAYS = 60  # the story's works entry comes at most this long before the change
SOURCE = "étude thermique (effet planté dans la simulation de la démonstration)"
SUBSIDIES = {  # building -> (scheme, euros): what the town obtained
    "EC-MAT-CURIE": ("CEE", 6200),
    "GS-MICHEL": ("CEE", 2400),
    "SALLE-FETES": ("DSIL", 5800),
    "CTM": ("FONDS_VERT", 8700),
}


def planted_works(world: World, portfolio: dict, sims: dict) -> list[dict]:
    """The demo's works projects with their planted effect (MWh PCI per year)."""
    events = [e for e in behaviour()["story"] if e.get("kind") == "works"]
    out = []
    for b in portfolio["buildings"]:
        prof = behaviour()["profiles"].get(b["code"])
        if prof is None:
            continue
        steps = [("changes", c) for c in prof.changes] + [
            ("eta_changes", c) for c in prof.eta_changes
        ]
        for key, (when, _value) in steps:
            event = _announcing(events, b["code"], when)
            if event is None:
                continue  # a change of how the plant is run, not a work
            start = dt.datetime.fromisoformat(event["at"]).date()
            out.append(
                {
                    "building": b["code"],
                    "title": event["title"],
                    "text": event["text"],
                    "starts_on": start,
                    "ends_on": max(start, when - dt.timedelta(days=1)),
                    "cost_cents": int(event.get("cost_cents") or 0),
                    "planted_mwh_per_year": _planted(world, b, sims[b["code"]], prof, key, when),
                }
            )
    return out


def _announcing(events: list[dict], code: str, when: dt.date) -> dict | None:
    for e in events:
        day = dt.datetime.fromisoformat(e["at"]).date()
        if e["building"] == code and 0 <= (when - day).days <= ANNOUNCED_WITHIN_DAYS:
            return e
    return None


def _planted(world: World, b: dict, sim, prof, key: str, when: dt.date) -> float:
    """Fuel without the work minus fuel with it over the year after it, MWh PCI."""
    without = dataclasses.replace(
        prof, **{key: tuple(c for c in getattr(prof, key) if c[0] != when)}
    )
    days = world.clock.days[world.clock.day_of_hour]
    mask = (days >= np.datetime64(when)) & (days < np.datetime64(when.replace(year=when.year + 1)))
    fuel_with = sim.fuel_kwh_pcs[mask].sum()
    fuel_without = simulate_building(world, b, without)[0].fuel_kwh_pcs[mask].sum()
    return round(float(fuel_without - fuel_with) / 1000.0 / PCS_PCI, 1)


def write_works(session, works: list[dict]) -> int:
    """The programme as the manager recorded it; returns how many works."""
    manager = Actor("gestionnaire", MANAGER)
    for w in works:
        subsidy = SUBSIDIES.get(w["building"])
        add_works(
            session, manager, w["building"], w["title"], w["starts_on"], w["cost_cents"] / 100,
            ends_on=w["ends_on"], description=w["text"],
            expected_mwh=w["planted_mwh_per_year"], expected_source=SOURCE,
            subsidies=[subsidy] if subsidy else [],
        )  # fmt: skip
    return len(works)
