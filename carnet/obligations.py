"""Recurring obligations of a building: regulatory templates, due dates, the overdue list.

Templates derive duties from what the record already knows (equipment kind, fuel and power, the
building's ERP category and tertiary area), so that a town does not have to remember them.
Each template cites its text; where the periodicity could not be checked it says « à vérifier ».
Applying templates is idempotent: an obligation is keyed on (building, equipment, template)
and is never overwritten once it exists, because the manager may have edited it. Loading the
portfolio applies them at once (`carnet.portfolio`), and closes the obligations of equipment
removed or replaced (`close_equipment_obligations`).

A derived obligation whose last date was never recorded is « à renseigner » (`to_fill`): the
record does not know when it was last done, so it asks for that date (with the text that
imposes the duty) rather than counting it overdue since the equipment was installed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carnet.access import SYSTEM, ActorLike, CarnetPermissionError, viewable_building_ids
from carnet.audit import record, row_image
from carnet.models import (
    AuditEvent,
    Building,
    Contract,
    ContractBuilding,
    Equipment,
    LogbookEntry,
    Obligation,
)
from carnet.roles import can, is_programmer
from carnet.timeutil import TZ

COMBUSTION_FUELS = frozenset(
    {"gas", "gaz", "natural_gas", "propane", "oil", "fioul", "fuel_oil", "wood", "bois", "pellets"}
    | {"granules", "coal", "charbon", "biomass", "biomasse"}
)
GAS_FUELS = frozenset({"gas", "gaz", "natural_gas", "propane"})
BOILER_KINDS = frozenset({"boiler", "chaudiere", "chaudière"})
HEAT_PUMP_KINDS = frozenset({"heat_pump", "pac"})
LIFT_KINDS = frozenset({"lift", "elevator", "ascenseur"})
BACS_KINDS = frozenset({"bacs", "gtb", "gtc", "building_automation"})
OPERAT_TEMPLATE = "operat"
OBLIGATION_FIELDS = [
    "label",
    "periodicity_months",
    "periodicity_days",
    "last_done_on",
    "next_due_on",
    "active",
    "notes",
    "equipment_id",
]


# ---------------------------------------------------------------- due dates


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def next_due(last_done: dt.date, months: int | None = None, days: int | None = None) -> dt.date:
    """`last_done` + periodicity: months are calendar months (month-end aware), days are days."""
    if months:
        return add_months(last_done, months)
    if days:
        return last_done + dt.timedelta(days=days)
    raise ValueError("périodicité manquante (mois ou jours)")


def local_today() -> dt.date:
    return dt.datetime.now(TZ).date()


def _operat_due(after: dt.date, inclusive: bool) -> dt.date:
    """The next 30 September (the OPERAT declaration of the previous year)."""
    due = dt.date(after.year, 9, 30)
    if due < after or (due == after and not inclusive):
        due = dt.date(after.year + 1, 9, 30)
    return due


def due_after(obligation: Obligation, done_on: dt.date) -> dt.date:
    """Next due date once `obligation` has been done on `done_on`."""
    if obligation.template == OPERAT_TEMPLATE:
        # the declaration done this year (even late) covers this year's deadline
        return dt.date(done_on.year + 1, 9, 30)
    return next_due(done_on, obligation.periodicity_months, obligation.periodicity_days)


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class Context:
    building: Building
    equipment: list[Equipment]  # installed (not removed) equipment of the building
    heating_kw: float  # sum of the nominal power of the heat generators
    thermodynamic_kw: float  # sum of the nominal power of the heat pumps
    has_gas: bool
    under_cpe: bool


@dataclass(frozen=True)
class Template:
    key: str
    label: str
    reference: str  # the text, or « à vérifier » when we could not confirm it
    months: int | None = None
    days: int | None = None
    # per-equipment templates: predicate on (equipment, context); building-level: on context
    equipment_rule: Callable[[Equipment, Context], bool] | None = None
    building_rule: Callable[[Context], bool] | None = None
    waived: Callable[[Context], str | None] | None = None  # reason -> created inactive
    # transitional rule of the text: equipment in place before [0] (or of unknown date) has its
    # first visit due by [1]
    transition: tuple[dt.date, dt.date] | None = None


def _power(eq: Equipment) -> float:
    return float(eq.power_kw or 0.0)


def _fuel(eq: Equipment) -> str:
    return (eq.fuel or "").strip().lower()


def _is_boiler(eq: Equipment) -> bool:
    return eq.kind.lower() in BOILER_KINDS


def _combustion_boiler(eq: Equipment) -> bool:
    return _is_boiler(eq) and _fuel(eq) in COMBUSTION_FUELS


def _erp(ctx: Context) -> bool:
    return ctx.building.erp_category is not None


def _erp_1_to_4(ctx: Context) -> bool:
    return ctx.building.erp_category is not None and 1 <= ctx.building.erp_category <= 4


def _tertiary_area(b: Building) -> float:
    return float(b.tertiary_area_m2 if b.tertiary_area_m2 is not None else b.heated_area_m2 or 0)


TEMPLATES: tuple[Template, ...] = (
    Template(
        "boiler_maintenance",
        "Entretien annuel de la chaudière (4 à 400 kW) : attestation sous 15 jours, "
        "conservée 2 ans",
        "Code de l'environnement, art. R. 224-41-4 à R. 224-41-9 (décret n° 2009-649 du "
        "9 juin 2009) ; arrêté du 15 septembre 2009",
        months=12,
        equipment_rule=lambda eq, ctx: _combustion_boiler(eq) and 4 <= _power(eq) <= 400,
    ),
    Template(
        "boiler_efficiency_check",
        "Contrôle périodique de l'efficacité énergétique de la chaudière (400 kW à 20 MW) "
        "par un organisme accrédité",
        "Code de l'environnement, art. R. 224-31 à R. 224-41-3 (décret n° 2009-648 du "
        "9 juin 2009, modifié par le décret n° 2020-912 du 28 juillet 2020), périodicité "
        "art. R. 224-35 (3 ans ; 2 ans à partir de 5 MW) ; arrêté du 2 octobre 2009. "
        "Dispense (art. R. 224-31) si l'exploitant a conclu un contrat de performance "
        "énergétique répondant à l'arrêté du 24 juillet 2020",
        months=36,
        equipment_rule=lambda eq, ctx: _combustion_boiler(eq) and 400 < _power(eq) < 5000,
        waived=lambda ctx: (
            "dispensé : contrat de performance énergétique (CPE), art. R. 224-31 du code de "
            "l'environnement ; vérifier que le contrat répond à l'arrêté du 24 juillet 2020"
            if ctx.under_cpe
            else None
        ),
    ),
    Template(
        "boiler_efficiency_check_5mw",
        "Contrôle périodique de l'efficacité énergétique de la chaudière (5 à 20 MW) "
        "par un organisme accrédité",
        "Code de l'environnement, art. R. 224-31 et R. 224-35 (2 ans à partir de 5 MW) ; "
        "arrêté du 2 octobre 2009. Dispense (art. R. 224-31) si l'exploitant a conclu un "
        "contrat de performance énergétique répondant à l'arrêté du 24 juillet 2020",
        months=24,
        equipment_rule=lambda eq, ctx: _combustion_boiler(eq) and 5000 <= _power(eq) < 20000,
        waived=lambda ctx: (
            "dispensé : contrat de performance énergétique (CPE), art. R. 224-31 du code de "
            "l'environnement ; vérifier que le contrat répond à l'arrêté du 24 juillet 2020"
            if ctx.under_cpe
            else None
        ),
    ),
    Template(
        # The key keeps its first name (obligations already stored use it). The text covers
        # thermodynamic systems (heat pumps, air conditioning) and ventilation combined with
        # Joule heating, not boilers: boilers of 4 to 400 kW have their yearly maintenance
        # (which includes the efficiency evaluation) and those over 400 kW their efficiency
        # check, above.
        "heating_inspection_70kw",
        "Inspection périodique des systèmes thermodynamiques (pompes à chaleur, "
        "climatisation) et de ventilation avec chauffage par effet Joule (> 70 kW)",
        "Code de l'environnement, art. R. 224-45-1 à R. 224-45-9 (décret n° 2020-912 du "
        "28 juillet 2020) ; arrêté du 24 juillet 2020 : au plus tous les 5 ans (10 ans si le "
        "site est couvert par un système de management de l'énergie ISO 50001) ; premier "
        "contrôle des systèmes en place au 1er juillet 2020 au plus tard le 1er juillet 2025",
        months=60,
        building_rule=lambda ctx: ctx.thermodynamic_kw > 70,
        # systems in place on 1 July 2020: first inspection by 1 July 2025 (décret 2020-912)
        transition=(dt.date(2020, 7, 1), dt.date(2025, 7, 1)),
    ),
    Template(
        "heat_pump_maintenance",
        "Entretien de la pompe à chaleur (4 à 70 kW) : attestation sous 15 jours",
        "Code de l'environnement, art. R. 224-44-1 à R. 224-44-5 (décret n° 2020-912 du "
        "28 juillet 2020) ; arrêté du 24 juillet 2020 : au plus tous les 2 ans",
        months=24,
        equipment_rule=lambda eq, ctx: eq.kind.lower() in HEAT_PUMP_KINDS and 4 <= _power(eq) <= 70,
        # systems in place on 1 July 2020: first maintenance by 1 July 2022 (décret 2020-912)
        transition=(dt.date(2020, 7, 1), dt.date(2022, 7, 1)),
    ),
    Template(
        # Twice a year, one of them in the heating season. The RSD allows once a year only for
        # gas appliances on special, tubed or never-used-for-solid/liquid-fuel flues: the record
        # does not know a flue's history, so we default to 6 months and the manager may set
        # 12 months on the building's obligation when the flue qualifies.
        "chimney_sweeping",
        "Ramonage du conduit de fumée : deux fois par an dont une pendant la saison de "
        "chauffe (une fois par an pour un conduit gaz éligible, à régler par bâtiment)",
        "Règlement sanitaire départemental type, art. 31.6 (variable selon le département : "
        "à vérifier localement)",
        months=6,
        equipment_rule=lambda eq, ctx: _combustion_boiler(eq),
    ),
    Template(
        "bacs_inspection",
        "Inspection du système d'automatisation et de contrôle du bâtiment (GTB/BACS, "
        "chauffage > 70 kW)",
        "Code de la construction et de l'habitation, art. R. 175-5-1 (décret n° 2023-259 du "
        "7 avril 2023) ; arrêté du 7 avril 2023 : au plus tous les 5 ans",
        months=60,
        equipment_rule=lambda eq, ctx: eq.kind.lower() in BACS_KINDS and ctx.heating_kw > 70,
        # systems in place on 8 April 2023: first inspection by 1 January 2025 (arrêté du
        # 7 avril 2023)
        transition=(dt.date(2023, 4, 8), dt.date(2025, 1, 1)),
    ),
    Template(
        "erp_electrical",
        "ERP : vérification périodique des installations électriques",
        "Arrêté du 25 juin 1980 (règlement de sécurité ERP), art. EL 19 : annuelle ; "
        "périodicité selon catégorie et type à vérifier",
        months=12,
        building_rule=_erp,
    ),
    Template(
        "erp_emergency_lighting",
        "ERP : vérification de l'éclairage de sécurité",
        "Arrêté du 25 juin 1980, art. EC 15 : à vérifier",
        months=12,
        building_rule=_erp,
    ),
    Template(
        "erp_gas",
        "ERP : vérification des installations de gaz",
        "Arrêté du 25 juin 1980, art. GZ 30 : à vérifier",
        months=12,
        building_rule=lambda ctx: _erp(ctx) and ctx.has_gas,
    ),
    Template(
        "erp_smoke_extraction",
        "ERP : vérification du désenfumage",
        "Arrêté du 25 juin 1980, art. DF 10 : à vérifier (catégories 1 à 4)",
        months=12,
        building_rule=_erp_1_to_4,
    ),
    Template(
        "erp_fire_equipment",
        "ERP : vérification des moyens de secours (extincteurs, alarme incendie)",
        "Arrêté du 25 juin 1980, art. MS 73 : à vérifier",
        months=12,
        building_rule=_erp,
    ),
    Template(
        "lift_visit",
        "Ascenseur : visite d'entretien (au moins toutes les 6 semaines)",
        "Code de la construction et de l'habitation (décret n° 2004-964 du 9 septembre 2004, "
        "anc. art. R. 125-2-1, recodifié au 1er juillet 2021 aux art. R. 134-6 s.) : numéro "
        "d'article à vérifier",
        days=42,
        equipment_rule=lambda eq, ctx: eq.kind.lower() in LIFT_KINDS,
    ),
    Template(
        "lift_technical_inspection",
        "Ascenseur : contrôle technique quinquennal",
        "Code de la construction et de l'habitation, art. R. 134-11 (contrôle technique tous "
        "les 5 ans)",
        months=60,
        equipment_rule=lambda eq, ctx: eq.kind.lower() in LIFT_KINDS,
    ),
    Template(
        OPERAT_TEMPLATE,
        "Décret tertiaire : déclaration OPERAT des consommations de l'année précédente "
        "(avant le 30 septembre)",
        "Code de la construction et de l'habitation, art. L. 174-1 et R. 174-22 s. (décret "
        "n° 2019-771 du 23 juillet 2019) ; arrêté du 10 avril 2020",
        months=12,
        building_rule=lambda ctx: _tertiary_area(ctx.building) >= 1000,
    ),
)


TEMPLATE_REFERENCES = {t.key: t.reference for t in TEMPLATES}
TO_FILL_FR = "à renseigner"


def to_fill_text(reference: str | None) -> str:
    """What an obligation « à renseigner » asks for, with the text that imposes it."""
    ask = "à renseigner : indiquez la date de la dernière réalisation connue"
    return f"{ask} (texte : {reference})" if reference else ask


def _context(session: Session, building: Building, today: dt.date) -> Context:
    equipment = [
        eq
        for eq in session.scalars(select(Equipment).where(Equipment.building_id == building.id))
        if eq.removed_on is None or eq.removed_on > today
    ]
    generators = [eq for eq in equipment if _is_boiler(eq) or eq.kind.lower() in HEAT_PUMP_KINDS]
    heating_kw = sum(_power(eq) for eq in generators)
    thermodynamic_kw = sum(_power(eq) for eq in equipment if eq.kind.lower() in HEAT_PUMP_KINDS)
    has_gas = (building.main_energy or "").lower() in GAS_FUELS or any(
        _fuel(eq) in GAS_FUELS for eq in equipment
    )
    under_cpe = (
        session.scalar(
            select(Contract.id)
            .join(ContractBuilding, ContractBuilding.contract_id == Contract.id)
            .where(ContractBuilding.building_id == building.id, Contract.kind == "CPE")
            .limit(1)
        )
        is not None
    )
    return Context(building, equipment, heating_kw, thermodynamic_kw, has_gas, under_cpe)


def _first_due(template: Template, installed_on: dt.date | None, today: dt.date) -> dt.date:
    """Never done: the text's transitional deadline for equipment already in place, else one
    period after installation when known, otherwise due now (history unknown)."""
    if template.key == OPERAT_TEMPLATE:
        return _operat_due(today, inclusive=True)
    if template.transition is not None:
        in_place_before, due_by = template.transition
        if installed_on is None or installed_on < in_place_before:
            return due_by
    if installed_on is not None:
        return next_due(installed_on, template.months, template.days)
    return today


def _installed_on(template: Template, eq: Equipment | None, ctx: Context) -> dt.date | None:
    """The equipment's installation date; for a building-level heating duty, the oldest heat
    generator's (None if any generator's date is unknown)."""
    if eq is not None:
        return eq.installed_on
    if template.key != "heating_inspection_70kw":
        return None
    dates = [g.installed_on for g in ctx.equipment if g.kind.lower() in HEAT_PUMP_KINDS]
    return None if not dates or None in dates else min(dates)


def apply_templates(
    session: Session,
    building: Building,
    actor: ActorLike = SYSTEM,
    today: dt.date | None = None,
) -> list[Obligation]:
    """Create the obligations the templates derive for `building`; return the new ones.

    Idempotent: an existing (building, equipment, template) obligation is left as it is, even
    if it was edited or deactivated by the manager. The one exception: a building-level
    obligation that a template's rule no longer derives (its text was found not to apply, e.g.
    the > 70 kW inspection first derived for boilers) is closed with a note, if nothing was
    ever recorded done on it, so that the record does not ask for a duty that does not exist."""
    _require_edit(actor)
    today = today or local_today()
    ctx = _context(session, building, today)
    rows = list(session.scalars(select(Obligation).where(Obligation.building_id == building.id)))
    existing = {(o.equipment_id, o.template) for o in rows}
    _close_underived(session, ctx, rows, actor.login)
    created: list[Obligation] = []
    for template in TEMPLATES:
        targets: list[Equipment | None] = []
        if template.equipment_rule is not None:
            targets = [eq for eq in ctx.equipment if template.equipment_rule(eq, ctx)]
        elif template.building_rule is not None and template.building_rule(ctx):
            targets = [None]
        for eq in targets:
            key = (eq.id if eq else None, template.key)
            if key in existing:
                continue
            waived = template.waived(ctx) if template.waived else None
            label = template.label + (f" — {eq.code}" if eq else "")
            ob = Obligation(
                building_id=building.id,
                equipment_id=eq.id if eq else None,
                template=template.key,
                label=label,
                periodicity_months=template.months,
                periodicity_days=template.days,
                next_due_on=_first_due(template, _installed_on(template, eq, ctx), today),
                active=waived is None,
                notes="; ".join(filter(None, [f"Texte : {template.reference}", waived])),
            )
            session.add(ob)
            session.flush()
            record(session, actor.login, "create", "obligation", ob.id, None, _image(ob))
            existing.add(key)
            created.append(ob)
    return created


def _close_underived(session: Session, ctx: Context, rows, actor_login: str) -> None:
    by_key = {t.key: t for t in TEMPLATES}
    for ob in rows:
        template = by_key.get(ob.template or "")
        if (
            template is None
            or template.building_rule is None
            or ob.equipment_id is not None
            or not ob.active
            or ob.last_done_on is not None
            or template.building_rule(ctx)
        ):
            continue
        before = _image(ob)
        ob.active = False
        why = f"le texte ne s'applique pas à ce bâtiment ({template.reference})"
        ob.notes = "; ".join(filter(None, [ob.notes, f"Clôturée : {why}"]))
        record(session, actor_login, "close", "obligation", ob.id, before, _image(ob))


# ---------------------------------------------------------------- editing and completion


def apply_templates_in_scope(session: Session, actor: ActorLike) -> int:
    """`apply_templates` on every building of the actor's scope; how many were created."""
    stmt = select(Building).order_by(Building.code)
    scope = viewable_building_ids(session, actor)
    if scope is not None:
        stmt = stmt.where(Building.id.in_(scope or [-1]))
    return sum(len(apply_templates(session, b, actor)) for b in session.scalars(stmt).all())


def close_equipment_obligations(
    session: Session, equipment: Equipment, why: str, actor_login: str
) -> list[Obligation]:
    """Close (deactivate, with a note) the active obligations of equipment that is removed or
    replaced; their history stays. Returns the ones closed."""
    closed = list(
        session.scalars(
            select(Obligation).where(
                Obligation.equipment_id == equipment.id, Obligation.active.is_(True)
            )
        )
    )
    for ob in closed:
        before = _image(ob)
        ob.active = False
        ob.notes = "; ".join(filter(None, [ob.notes, f"Clôturée : {why}"]))
        record(session, actor_login, "close", "obligation", ob.id, before, _image(ob))
    session.flush()
    return closed


def _image(ob: Obligation) -> dict:
    return row_image(ob, OBLIGATION_FIELDS) | {"building_id": ob.building_id}


def _require_edit(actor: ActorLike) -> None:
    if not can(actor.role, "carnet.edit"):
        raise CarnetPermissionError(
            f"accès refusé : {actor.login} ne peut pas modifier les obligations"
        )


def add_obligation(
    session: Session,
    actor: ActorLike,
    building: Building,
    label: str,
    months: int | None = None,
    days: int | None = None,
    last_done_on: dt.date | None = None,
    next_due_on: dt.date | None = None,
    equipment: Equipment | None = None,
    notes: str | None = None,
) -> Obligation:
    """A building-specific obligation that no template knows (e.g. a legionella check)."""
    _require_edit(actor)
    if not (months or days):
        raise ValueError("périodicité manquante (mois ou jours)")
    if next_due_on is None:
        next_due_on = next_due(last_done_on, months, days) if last_done_on else local_today()
    ob = Obligation(
        building_id=building.id,
        equipment_id=equipment.id if equipment else None,
        label=label,
        periodicity_months=months,
        periodicity_days=days,
        last_done_on=last_done_on,
        next_due_on=next_due_on,
        notes=notes,
    )
    session.add(ob)
    session.flush()
    record(session, actor.login, "create", "obligation", ob.id, None, _image(ob))
    return ob


def edit_obligation(
    session: Session, actor: ActorLike, obligation_id: int, **changes
) -> Obligation:
    """Edit label, periodicity, dates, notes or `active`; a new periodicity or last-done date
    recomputes the next due date unless `next_due_on` is given."""
    _require_edit(actor)
    ob = session.get(Obligation, obligation_id)
    if ob is None:
        raise LookupError(f"obligation {obligation_id} inconnue")
    unknown = set(changes) - set(OBLIGATION_FIELDS)
    if unknown:
        raise ValueError(f"champ(s) non modifiable(s) : {', '.join(sorted(unknown))}")
    before = _image(ob)
    for name, value in changes.items():
        setattr(ob, name, value)
    if (ob.periodicity_months or 0) <= 0 and (ob.periodicity_days or 0) <= 0:
        raise ValueError("périodicité manquante (mois ou jours)")
    recompute = {"periodicity_months", "periodicity_days", "last_done_on"} & set(changes)
    if recompute and "next_due_on" not in changes and ob.last_done_on is not None:
        ob.next_due_on = due_after(ob, ob.last_done_on)
    after = _image(ob)
    if after != before:
        record(session, actor.login, "update", "obligation", ob.id, before, after)
    return ob


def complete_obligation(
    session: Session, obligation: Obligation, done_on: dt.date, actor_login: str
) -> Obligation:
    """Mark done on `done_on`: the next due date moves one period after it (never backwards,
    so recording an old intervention late does not undo a more recent one)."""
    if obligation.last_done_on is not None and done_on < obligation.last_done_on:
        return obligation
    before = _image(obligation)
    obligation.last_done_on = done_on
    obligation.next_due_on = due_after(obligation, done_on)
    record(
        session, actor_login, "complete", "obligation", obligation.id, before, _image(obligation)
    )
    return obligation


def undo_completion(
    session: Session, obligation: Obligation, undone_on: dt.date, actor_login: str
) -> Obligation:
    """A completing entry done on `undone_on` was cancelled (or reopened): if it is what set the
    last-done date, fall back to the latest remaining done visit, or else to the state before
    the first completion (from the audit trail). A date set otherwise is left alone."""
    if obligation.last_done_on != undone_on:
        return obligation
    remaining = session.scalars(
        select(LogbookEntry.occurred_at).where(
            LogbookEntry.obligation_id == obligation.id,
            LogbookEntry.status == "done",
            LogbookEntry.kind.in_(("preventive", "inspection")),
        )
    ).all()
    before = _image(obligation)
    if remaining:
        last = max(t.astimezone(TZ).date() for t in remaining)
        obligation.last_done_on = last
        obligation.next_due_on = due_after(obligation, last)
    else:
        first = session.scalar(
            select(AuditEvent)
            .where(
                AuditEvent.entity == "obligation",
                AuditEvent.entity_id == str(obligation.id),
                AuditEvent.action == "complete",
            )
            .order_by(AuditEvent.id)
            .limit(1)
        )
        if first is None or not first.before:
            return obligation
        prior = first.before
        obligation.last_done_on = _iso_date(prior.get("last_done_on"))
        obligation.next_due_on = _iso_date(prior.get("next_due_on"))
    record(
        session, actor_login, "uncomplete", "obligation", obligation.id, before, _image(obligation)
    )
    return obligation


def _iso_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# ---------------------------------------------------------------- queries

OBLIGATION_COLUMNS = [
    "id",
    "building_code",
    "building_name",
    "equipment_code",
    "template",
    "label",
    "periodicity_months",
    "periodicity_days",
    "last_done_on",
    "next_due_on",
    "days_overdue",
    "overdue",
    "active",
    "notes",
    "to_fill",
    "reference",
]


def obligations_frame(
    session: Session,
    actor: ActorLike = SYSTEM,
    building: Building | None = None,
    overdue_only: bool = False,
    include_inactive: bool = False,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Obligations in the actor's scope, soonest due first, with `days_overdue` (> 0 = late);
    `to_fill`: derived but never recorded done, so neither late nor counted in `days_overdue`
    (NA); `reference`: the text a template cites."""
    today = today or local_today()
    if is_programmer(actor.role):
        raise CarnetPermissionError("accès refusé : les obligations ne sont pas visibles")
    stmt = (
        select(
            Obligation.id,
            Building.code.label("building_code"),
            Building.name.label("building_name"),
            Equipment.code.label("equipment_code"),
            Obligation.template,
            Obligation.label,
            Obligation.periodicity_months,
            Obligation.periodicity_days,
            Obligation.last_done_on,
            Obligation.next_due_on,
            Obligation.active,
            Obligation.notes,
        )
        .join(Building, Building.id == Obligation.building_id)
        .outerjoin(Equipment, Equipment.id == Obligation.equipment_id)
    )
    scope = viewable_building_ids(session, actor)
    if scope is not None:
        stmt = stmt.where(Obligation.building_id.in_(scope or [-1]))
    if building is not None:
        stmt = stmt.where(Obligation.building_id == building.id)
    if not include_inactive:
        stmt = stmt.where(Obligation.active.is_(True))
    if overdue_only:
        stmt = stmt.where(
            Obligation.next_due_on < today,
            or_(Obligation.template.is_(None), Obligation.last_done_on.is_not(None)),
        )
    rows = session.execute(stmt).mappings().all()
    derived = ("days_overdue", "overdue", "to_fill", "reference")
    frame = pd.DataFrame(
        [dict(r) for r in rows], columns=[c for c in OBLIGATION_COLUMNS if c not in derived]
    )
    frame["to_fill"] = (frame["template"].notna() & frame["last_done_on"].isna()).astype(bool)
    frame["reference"] = frame["template"].map(TEMPLATE_REFERENCES)
    due = pd.to_datetime(frame["next_due_on"]).where(~frame["to_fill"])
    frame["days_overdue"] = (pd.Timestamp(today) - due).dt.days.astype("Int64")
    frame["overdue"] = (frame["days_overdue"] > 0).fillna(False).astype(bool)
    frame = frame.sort_values(["next_due_on", "building_code", "label"], na_position="last")
    return frame[OBLIGATION_COLUMNS].reset_index(drop=True)


def overdue(
    session: Session, actor: ActorLike = SYSTEM, today: dt.date | None = None
) -> pd.DataFrame:
    """The portfolio's overdue list (active obligations whose due date has passed)."""
    return obligations_frame(session, actor, overdue_only=True, today=today)
