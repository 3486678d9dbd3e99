"""The demo town's carnet de santé: obligations and their past completions, works and agents'
observations (the story of `data/demo/simulation.yaml`), dated in the past so the timeline has a
history; the faults' alarms and the meter change are `faults`'.

Written with the ORM (no permission checks: this is the record as it would have been kept);
obligations come from the regulatory templates of `carnet.obligations`, then get the completion
dates below, a few deliberately left overdue.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import SYSTEM
from carnet.models import Building, Equipment, LogbookEntry, Room
from carnet.obligations import add_months, apply_templates, due_after
from carnet.timeutil import TZ
from carnet_cli.demo.scenario import behaviour

CONTRACT_START = dt.date(2024, 7, 1)  # CHAUFF-2024 (portfolio.yaml): the history knows it

PREVIOUS_CONTRACTOR = "Chauffage Services Artois"
BODIES = ("Apave", "Bureau Veritas", "Socotec", "Dekra")

# (building, template) whose last completion is missing: overdue on the obligations page
OVERDUE = {
    ("MAISON-ASSOC", "boiler_maintenance"),
    ("CTM", "chimney_sweeping"),
    ("SALLE-FETES", "erp_electrical"),
    ("GYMNASE", "operat"),
}
# 5-year inspections done before the record starts (last done on)
FIVE_YEAR_DONE = {
    "MAIRIE": dt.date(2021, 3, 15),
    "EC-ELEM-FERRY": dt.date(2022, 2, 8),
    "GS-MICHEL": dt.date(2022, 11, 21),
    "SALLE-POLY": dt.date(2023, 1, 17),
    "SALLE-FETES": dt.date(2022, 6, 2),
    "MEDIATHEQUE": dt.date(2023, 4, 4),
    "GYMNASE": dt.date(2021, 12, 6),
    "CENTRE-SOCIAL": dt.date(2022, 9, 27),
    "CTM": dt.date(2022, 3, 29),
    "EC-MAT-CURIE": dt.date(2024, 9, 10),  # new boiler: inspected after commissioning
}

TEMPLATE_TEXT = {
    "boiler_maintenance": (
        "preventive",
        "Entretien annuel de la chaudière",
        "Entretien annuel de {eq} : nettoyage du corps de chauffe et du brûleur, contrôle de"
        " combustion (CO {co} ppm, rendement de combustion {eff} %), vérification des"
        " sécurités. Attestation d'entretien remise.",
    ),
    "chimney_sweeping": (
        "preventive",
        "Ramonage",
        "Ramonage du conduit de fumée de {eq}, vérification du tirage. Certificat de ramonage"
        " remis.",
    ),
    "heating_inspection_70kw": (
        "inspection",
        "Inspection du système de chauffage",
        "Inspection périodique du système de chauffage par {body} : rapport remis,"
        " recommandations sur la régulation et le calorifugeage des réseaux.",
    ),
    "bacs_inspection": (
        "inspection",
        "Inspection de la GTB",
        "Inspection du système d'automatisation et de contrôle du bâtiment par {body}.",
    ),
    "erp_electrical": (
        "inspection",
        "Vérification électrique",
        "Vérification périodique des installations électriques par {body} : {obs}.",
    ),
    "erp_emergency_lighting": (
        "inspection",
        "Éclairage de sécurité",
        "Vérification de l'éclairage de sécurité par {body} : {obs}.",
    ),
    "erp_gas": (
        "inspection",
        "Vérification des installations de gaz",
        "Vérification des installations de gaz par {body} : étanchéité et organes de coupure"
        " contrôlés, {obs}.",
    ),
    "erp_smoke_extraction": (
        "inspection",
        "Désenfumage",
        "Vérification du désenfumage par {body} : {obs}.",
    ),
    "erp_fire_equipment": (
        "inspection",
        "Moyens de secours",
        "Vérification des extincteurs et de l'alarme incendie par {body} : {obs}.",
    ),
    "operat": (
        "inspection",
        "Déclaration OPERAT",
        "Déclaration sur OPERAT des consommations {year} (décret tertiaire) effectuée.",
    ),
}
COSTS_CENTS = {
    "heating_inspection_70kw": 68_000,
    "bacs_inspection": 54_000,
    "erp_electrical": 42_000,
    "erp_emergency_lighting": 19_500,
    "erp_gas": 24_000,
    "erp_smoke_extraction": 31_000,
    "erp_fire_equipment": 27_500,
}
OBSERVATIONS = (
    "aucune observation",
    "aucune observation",
    "1 observation levée sur place",
    "2 observations mineures (étiquetage des circuits)",
    "1 observation : bloc autonome d'éclairage à remplacer",
)


def _h(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ).astimezone(dt.UTC)


def _completions(
    building: str, template: str, months: int | None, days: int | None, today: dt.date
) -> list[dt.date]:
    """Dates the obligation was done, from the start of the record up to `today`."""
    if template == "operat":
        dates = [dt.date(y, 9, 10 + _h(building, y) % 15) for y in range(2024, today.year + 1)]
    elif template in ("heating_inspection_70kw", "bacs_inspection"):
        last = FIVE_YEAR_DONE.get(building) if template == "heating_inspection_70kw" else None
        dates = [last] if last else []
    elif months:
        if template == "boiler_maintenance":
            anchor = dt.date(2023, 9, 4 + _h(building, template) % 25)
        elif template == "chimney_sweeping":
            anchor = dt.date(2023, 9, 11 + _h(building, template) % 15)
        else:
            anchor = dt.date(2023, 7 + _h(building, template) % 6, 3 + _h(template, building) % 24)
        dates, k = [], 0
        while (d := add_months(anchor, k * months)) <= today:
            dates.append(d)
            k += 1
    else:  # day-based duties (lifts): none in the demo town
        dates = []
    dates = [d for d in dates if d < today]  # the build happens at the start of `today`
    if (building, template) in OVERDUE and dates:
        dates = dates[:-1]
    return dates


class Logbook:
    """The demo's logbook entries, added to the session in the order they were written, so
    that their ids follow it."""

    def __init__(self, session: Session) -> None:
        self.buildings = {b.code: b for b in session.scalars(select(Building))}
        self.equipment = {e.code: e for e in session.scalars(select(Equipment))}
        self.rooms = {r.code: r for r in session.scalars(select(Room))}
        self.entries: list[LogbookEntry] = []

    def add(
        self,
        when: dt.datetime,
        building: str,
        kind: str,
        title: str,
        text: str,
        author: str,
        status: str = "done",
        cost: int | None = None,
        eq: str | None = None,
        room: str | None = None,
        answer: str | None = None,
        **extra,
    ) -> LogbookEntry:
        e = LogbookEntry(
            building_id=self.buildings[building].id,
            equipment_id=self.equipment[eq].id if eq else None,
            room_id=self.rooms[room].id if room else None,
            occurred_at=when,
            kind=kind,
            title=title,
            text=text,
            author_login=author,
            status=status,
            cost_cents=cost,
            answer=answer,
            created_at=when,
            updated_at=when,
            **extra,
        )
        self.entries.append(e)
        return e

    def flush(self, session: Session) -> None:
        session.add_all(self.entries)
        session.flush()


def write_obligations(session: Session, log: Logbook, today: dt.date) -> int:
    """Obligations from the templates, with their history of completions; returns how many."""
    n_obligations = 0
    for code, building in log.buildings.items():
        for ob in apply_templates(session, building, SYSTEM, today=today):
            n_obligations += 1
            eq = _equipment_by_id(log.equipment, ob.equipment_id)
            dates = _completions(
                code, ob.template, ob.periodicity_months, ob.periodicity_days, today
            )
            for d in dates:
                kind, title, template_text = TEMPLATE_TEXT[ob.template]
                contractor = eq is not None and ob.template in (
                    "boiler_maintenance",
                    "chimney_sweeping",
                )
                after = d >= CONTRACT_START
                text_ = template_text.format(
                    eq=f"{eq.name} ({eq.make} {eq.model})" if eq else "",
                    co=20 + _h(code, d) % 60,
                    eff=f"{91 + (_h(d, code) % 70) / 10:.1f}".replace(".", ","),
                    body=BODIES[_h(code, ob.template) % len(BODIES)],
                    obs=OBSERVATIONS[_h(code, ob.template, d) % len(OBSERVATIONS)],
                    year=d.year - 1,
                )
                if contractor and not after:
                    text_ += f" Intervention de {PREVIOUS_CONTRACTOR} (ancien prestataire)."
                log.add(
                    _at(d, 8 + _h(code, d, 1) % 8),
                    code,
                    kind,
                    title,
                    text_,
                    "exploitant" if contractor and after else "gestionnaire",
                    cost=None
                    if contractor and after
                    else COSTS_CENTS.get(ob.template, 18_000 if contractor else None),
                    eq=eq.code if eq else None,
                    obligation_id=ob.id,
                )
            if dates:
                ob.last_done_on = dates[-1]
                ob.next_due_on = due_after(ob, dates[-1])
    return n_obligations


def write_story(log: Logbook, now: dt.datetime) -> None:
    """The curated story (data/demo/simulation.yaml), up to `now`."""
    for item in behaviour()["story"]:
        local = dt.datetime.fromisoformat(item["at"]).replace(tzinfo=TZ)
        if local.astimezone(dt.UTC) > now:
            continue
        log.add(
            local.astimezone(dt.UTC),
            item["building"],
            item["kind"],
            item["title"],
            item["text"],
            item["author"],
            item["status"],
            item.get("cost_cents"),
            item.get("equipment"),
            item.get("room"),
            item.get("answer"),
        )


def _equipment_by_id(equipment: dict[str, Equipment], eq_id: int | None) -> Equipment | None:
    if eq_id is None:
        return None
    return next((e for e in equipment.values() if e.id == eq_id), None)
