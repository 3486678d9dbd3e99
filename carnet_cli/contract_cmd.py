"""`carnet settle`, `carnet baseline`, `carnet adjust`, `carnet adjustments`: the contract engine.

Tables are French (decimal commas); `--json` is for other tools: dots, euros as strings with two
decimals, field names stable (new fields may be added, none renamed). The record, pandas and the
contract engine are imported by the handlers: `carnet settle --help` loads none of them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
import os

from carnet.adjustment_kinds import ADJUSTMENT_KINDS
from carnet_cli.main import CliError


def register(sub) -> None:
    p = sub.add_parser("settle", help="décompte de l'intéressement d'un contrat (saison ou mois)")
    # required without a sub-command (checked in _settle: argparse cannot say "unless")
    p.add_argument("--contract", help="code du contrat")
    p.add_argument("--season", help="saison de chauffe, ex. 2025-2026")
    p.add_argument("--month", help="un mois de la saison, AAAA-MM")
    p.add_argument("--as-of", help="date d'arrêt (défaut : hier, dernier jour complet)")
    p.add_argument("--json", action="store_true", help="sortie JSON")
    p.set_defaults(handler=_settle)
    _register_closing(p.add_subparsers(dest="settle_command", metavar="ACTION"))

    b = sub.add_parser("baseline", help="modèle de référence IPMVP (option C) et économies")
    b.add_argument("--channel", required=True, help="code du point de mesure de consommation")
    b.add_argument("--station", required=True, help="code de la station météo")
    b.add_argument("--baseline", required=True, help="période de référence DU:AU (incluses)")
    b.add_argument("--reporting", required=True, help="période de suivi DU:AU (incluses)")
    b.add_argument("--freq", choices=("daily", "monthly"), default="daily")
    b.add_argument("--cooling", action="store_true", help="ajoute un terme de climatisation")
    b.add_argument("--adjustment-kwh", type=float, default=0.0, help="ajustement non périodique")
    b.add_argument("--json", action="store_true", help="sortie JSON")
    b.set_defaults(handler=_baseline)

    a = sub.add_parser("adjust", help="ajustement non périodique de la référence d'un bâtiment")
    a.add_argument("--contract", required=True)
    a.add_argument("--building", required=True)
    a.add_argument("--from", dest="date_from", required=True, help="date d'effet")
    a.add_argument("--to", dest="date_to", help="date de fin (incluse), sinon sans fin")
    a.add_argument("--kind", required=True, choices=ADJUSTMENT_KINDS)
    what = a.add_mutually_exclusive_group(required=True)
    what.add_argument("--factor", type=float, help="multiplie le NB (0 = bâtiment fermé)")
    what.add_argument("--delta-mwh", type=float, help="ajoute au NB (MWh PCI par saison)")
    a.add_argument("--why", required=True, help="justification")
    a.add_argument("--author", help="identifiant de l'auteur (défaut : $CARNET_USER)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=_adjust)

    lst = sub.add_parser("adjustments", help="liste les ajustements d'un contrat")
    lst.add_argument("--contract", required=True)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_adjustments)


# --- formatting ------------------------------------------------------------------------------


def fr_number(value, decimals: int = 1) -> str:
    """1234.5 → '1 234,5' (the thousands separator is a no-break space)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def _num(value, ndigits: int = 4):
    if value is None:
        return None
    value = float(value)
    return round(value, ndigits) if math.isfinite(value) else None


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _engine():
    from carnet import db

    return db.get_engine()


# --- settle ----------------------------------------------------------------------------------


def settlement_json(report) -> dict:
    """The settle payload (`contract.regularisation.settlement_payload`: what a close stores)."""
    from contract.regularisation import settlement_payload

    return settlement_payload(report)


def _settle(args) -> int:
    from carnet.frames import contract_terms
    from carnet.frames_settlement import settlement_frames
    from contract.inputs import settle_frames, settlement_plan
    from contract.regularisation import season_payload_with_closed_months
    from contract.terms import ContractTerms

    if getattr(args, "settle_command", None) is None and (not args.contract or not args.season):
        raise CliError(
            "carnet settle : --contract et --season sont obligatoires (ou une action : close,"
            " reopen, pending, book)"
        )
    as_of = _date(args.as_of) if args.as_of else None
    engine = _engine()
    try:
        terms = ContractTerms.from_record(contract_terms(engine, args.contract))
        data = settlement_frames(engine, settlement_plan(terms, args.season, args.month, as_of))
        closed, report = data.closed, None
        if closed is None:
            report = settle_frames(terms, args.season, data, args.month, as_of)
    except (LookupError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    if closed is not None:  # the signed figures, as they were shown when closed
        payload = dict(closed.payload)
        payload["closed"] = closed.closed_json()
        comfort = payload.get("comfort")
    else:
        payload = settlement_json(report)
        comfort = _month_comfort(args.contract, args.month) if args.month else None
        if comfort is not None:
            payload["comfort"] = comfort
        if not args.month:
            payload = season_payload_with_closed_months(payload, data.closed_months)
        payload["closed"] = None
    if args.json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    if closed is not None:
        records, total = payload["buildings"], payload["total"]
    else:
        records, total = report.buildings.to_dict("records"), report.total
    _print_settlement(payload, records, total, comfort)
    return 0


def _print_settlement(payload: dict, records: list[dict], total: dict, comfort) -> None:
    """The French table of a settlement, from the live report's records or the signed ones."""
    from carnet.timeutil import fr_date
    from contract.degree_days import METHOD_LABELS_FR
    from contract.settlement import ALERT_LABELS_FR

    method = METHOD_LABELS_FR.get(payload["dju_method"], payload["dju_method"])
    period_from = dt.date.fromisoformat(payload["period"]["from"])
    period_to = dt.date.fromisoformat(payload["period"]["to"])
    month = payload["month"]
    print(
        f"Contrat {payload['contract']} ({payload['kind']}), saison {payload['season']}"
        + (f", mois {month}" if month else "")
        + f" : du {fr_date(period_from)} au {fr_date(period_to)}"
    )
    print(
        f"DJU {method}, base {fr_number(payload['dju_base_c'])} °C, station "
        f"{payload['station'] or '(station du bâtiment)'} ; prix P1 "
        f"{fr_number(payload['price_eur_per_mwh_pci'], 2)} €/MWh PCI"
    )
    if payload.get("closed"):
        what = f"mois {month}" if month else f"saison {payload['season']}"
        print(
            f"{what[:1].upper()}{what[1:]} {payload['closed']['marker']} : chiffres signés, ils ne"
            " changent plus (carnet settle pending)"
        )
    for m, marker in (payload.get("closed_months") or {}).items():
        print(f"Mois {m} {marker}")
    headers = [
        "Bâtiment", "Réel MWh PCI", "DJU", "DJU réf.", "Objectif MWh PCI", "Écart MWh",
        "Écart %", "Intéressement €", "Pénalité €", "Jours manquants", "Alertes",
    ]  # fmt: skip
    rows = []
    for rec in [*records, {"building_code": "TOTAL", **total}]:
        rows.append(
            [
                rec["building_code"],
                fr_number(rec["actual_mwh_pci"], 2),
                fr_number(rec["dju"], 1) if rec["dju"] is not None else "–",
                fr_number(rec["dju_ref"], 0) if rec["dju_ref"] is not None else "–",
                fr_number(rec["target_mwh_pci"], 2),
                fr_number(rec["gap_mwh"], 2),
                fr_number(rec["gap_pct"], 1),
                fr_number(rec["bonus_eur"], 2),
                fr_number(rec["penalty_eur"], 2),
                str(int(rec["days_missing"])),
                ", ".join(ALERT_LABELS_FR.get(a, a) for a in rec["alerts"] or []),
            ]
        )
    print(_table(headers, rows, right=set(range(1, 10))))
    if comfort:
        print(f"\nUsage du mois {month} : confort pendant les réservations, chauffage hors usage")
        c_headers = [
            "Bâtiment", "Réservations", "Temps à la consigne %", "En retard", "Écart max °C",
            "Chauffage MWh PCS", "Hors usage %",
        ]  # fmt: skip
        c_rows = [
            [
                c["building_code"],
                str(c["bookings"]),
                "–" if c["share_ok_pct"] is None else fr_number(c["share_ok_pct"], 0),
                str(c["late_bookings"]),
                "–" if c["max_shortfall_c"] is None else fr_number(c["max_shortfall_c"], 1),
                "–" if c["energy_kwh"] is None else fr_number(c["energy_kwh"] / 1000, 2),
                "–" if c["share_outside_pct"] is None else fr_number(c["share_outside_pct"], 0),
            ]
            for c in comfort
        ]
        print(_table(c_headers, c_rows, right=set(range(1, 7))))


def _month_comfort(contract_code: str, month: str) -> list[dict]:
    """The month's usage performance of the contract's buildings (also stored by a close)."""
    from carnet.frames_comfort import comfort_frames, contract_building_ids
    from contract.calendar import month_bounds
    from contract.comfort import DEFAULT_MAX_GAP_S
    from contract.comfort_report import comfort_records, comfort_report

    engine, (first, last) = _engine(), month_bounds(month)
    scope = contract_building_ids(engine, contract_code)
    return comfort_records(comfort_report(comfort_frames(engine, first, last, scope,
                                                         DEFAULT_MAX_GAP_S)))  # fmt: skip


# --- baseline --------------------------------------------------------------------------------


def _date(text: str) -> dt.date:
    from carnet.timeutil import parse_local_date

    try:
        return parse_local_date(text)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _period(text: str) -> tuple[dt.date, dt.date]:
    parts = text.split(":")
    if len(parts) != 2:
        raise CliError(f"période illisible « {text} » (attendu DU:AU, ex. 2023-10-01:2024-05-20)")
    start, end = _date(parts[0]), _date(parts[1])
    if end < start:
        raise CliError(f"période « {text} » : la fin précède le début")
    return start, end


def baseline_json(report) -> dict:
    import numpy as np

    from contract.baseline.savings import normal_year_kwh, typical_year_temperatures

    m, s = report.model, report.savings
    temps = report.daily.set_index("day")["temp_mean_c"].dropna()
    temps = temps[~temps.index.duplicated()]
    normal = typical_year_temperatures(temps)
    normal_kwh = normal_year_kwh(m, normal.to_numpy()) if len(normal) == 365 else None
    monthly = report.monthly.replace({np.nan: None}).to_dict("records")
    for rec in monthly:
        for k, v in rec.items():
            if isinstance(v, float):
                rec[k] = _num(v)
            elif isinstance(v, np.integer):
                rec[k] = int(v)
    suff = report.sufficiency
    return {
        "channel": report.channel_code,
        "station": report.station_code,
        "baseline": {"from": report.baseline[0].isoformat(), "to": report.baseline[1].isoformat()},
        "reporting": {
            "from": report.reporting[0].isoformat(),
            "to": report.reporting[1].isoformat(),
        },
        "model": m.name,
        "freq": m.freq,
        "balance_temp_c": m.balance_temp_c,
        "cooling_balance_temp_c": m.cooling_balance_temp_c,
        "coefficients": {
            "b0_kwh_per_day": _num(m.b0_kwh_per_day, 6),
            "b1_kwh_per_dd": _num(m.b1_kwh_per_dd, 6),
            "b2_kwh_per_cdd": _num(m.b2_kwh_per_cdd, 6),
        },
        "n": m.n,
        "p": m.p,
        "m": s.m,
        "r2": _num(m.r2, 6),
        "cvrmse": _num(m.cvrmse, 6),
        "nmbe": _num(m.nmbe, 6),
        "fsu": _num(s.fsu, 6),
        "cvrmse_pct": _num(m.cvrmse * 100, 4),
        "nmbe_pct": _num(m.nmbe * 100, 4),
        "fsu_pct": _num(s.fsu * 100, 4),
        "rho": _num(m.rho, 6),
        "acceptance": m.acceptance | {"fsu_ok": s.fsu_ok},
        "sufficiency": {
            "days_expected": suff.days_expected,
            "days_usable": suff.days_usable,
            "coverage": _num(suff.coverage, 4),
            "heating_days": suff.heating_days,
            "sufficient": suff.sufficient,
            "warnings": list(suff.warnings),
        },
        "observed_kwh": _num(s.observed_kwh, 3),
        "predicted_kwh": _num(s.predicted_kwh, 3),
        "adjustments_kwh": _num(s.adjustments_kwh, 3),
        "savings_kwh": _num(s.savings_kwh, 3),
        "savings_pct": _num(s.savings_pct, 4),
        "reporting_days_used": s.days_used,
        "normal_year_kwh": _num(normal_kwh, 3) if normal_kwh is not None else None,
        "monthly": monthly,
    }


def _baseline(args) -> int:
    from carnet.frames import baseline_frames
    from carnet.timeutil import fr_date
    from contract import fit_baseline

    baseline, reporting = _period(args.baseline), _period(args.reporting)
    try:
        data = baseline_frames(_engine(), args.channel, args.station, baseline, reporting)
        report = fit_baseline(data, args.freq, args.cooling, args.adjustment_kwh)
    except (LookupError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    data = baseline_json(report)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    m = report.model
    acc = data["acceptance"]
    print(
        f"Modèle {m.name} : {args.channel} / station {args.station} "
        f"(référence du {fr_date(baseline[0])} au {fr_date(baseline[1])})"
    )
    if m.balance_temp_c is not None:
        print(f"  température de non-chauffage Tb = {fr_number(m.balance_temp_c, 1)} °C")
    print(
        f"  E = {fr_number(m.b0_kwh_per_day, 2)} kWh/j × jours"
        + (f" + {fr_number(m.b1_kwh_per_dd, 3)} kWh/DJ × DJ(Tb)" if m.balance_temp_c else "")
        + (
            f" + {fr_number(m.b2_kwh_per_cdd, 3)} kWh/DJ × DJclim(Tc = "
            f"{fr_number(m.cooling_balance_temp_c, 1)} °C)"
            if m.cooling_balance_temp_c is not None
            else ""
        )
    )
    ok = {True: "conforme", False: "hors seuil"}
    print(
        f"  R² {fr_number(m.r2, 3)} ; CV(RMSE) {fr_number(m.cvrmse * 100, 1)} % "
        f"({ok[acc['cvrmse_ok']]}, seuil {fr_number(acc['cvrmse_max'] * 100, 0)} %) ; "
        f"NMBE {fr_number(m.nmbe * 100, 2)} % ({ok[acc['nmbe_ok']]}, seuil "
        f"{fr_number(acc['nmbe_max'] * 100, 0)} %)"
    )
    for warning in report.sufficiency.warnings:
        print(f"  attention : {warning}")
    s = report.savings
    print(
        f"Suivi du {fr_date(reporting[0])} au {fr_date(reporting[1])} ({s.days_used} jours) : "
        f"mesuré {fr_number(s.observed_kwh, 0)} kWh, référence ajustée "
        f"{fr_number(s.predicted_kwh, 0)} kWh, économies {fr_number(s.savings_kwh, 0)} kWh "
        f"({fr_number(s.savings_pct, 1)} %), incertitude (90 %) "
        f"{fr_number(s.fsu * 100, 1)} %"
    )
    headers = ["Mois", "Période", "Jours", "T moy. °C", "Mesuré kWh", "Modèle kWh", "Écart kWh"]
    rows = [
        [
            r["month"],
            "référence" if r["period"] == "baseline" else "suivi",
            str(r["days"]),
            fr_number(r["temp_mean_c"], 1),
            fr_number(r["observed_kwh"], 0),
            fr_number(r["predicted_kwh"], 0),
            fr_number(r["savings_kwh"], 0),
        ]
        for r in data["monthly"]
    ]
    print(_table(headers, rows, right={2, 3, 4, 5, 6}))
    return 0


# --- adjustments -----------------------------------------------------------------------------


def _adjust(args) -> int:
    from sqlalchemy import select

    from carnet import db
    from carnet.adjustments import AdjustmentError, add_adjustment
    from carnet.models import User
    from carnet.roles import can

    author = args.author or os.environ.get("CARNET_USER") or getpass.getuser()
    with db.session_scope(_engine()) as session:
        user = session.scalar(select(User).where(User.login == author))
        if user is not None and not can(user.role, "adjustment.edit"):
            raise CliError(f"{author} ({user.role}) n'a pas le droit d'ajuster un contrat", 3)
        try:
            adj = add_adjustment(
                session,
                args.contract,
                args.building,
                _date(args.date_from),
                args.kind,
                args.why,
                author,
                effective_to=_date(args.date_to) if args.date_to else None,
                nb_factor=args.factor,
                delta_mwh_pci=args.delta_mwh,
            )
        except AdjustmentError as exc:
            raise CliError(str(exc)) from exc
        data = _adjustment_json(adj, args.building)
        closed = list(getattr(adj, "closed_periods", None) or [])
    if closed:
        data["closed_periods"] = [
            {"id": r.id, "label": r.label, "marker": r.marker} for r in closed
        ]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(
            f"ajustement n° {data['id']} enregistré pour {args.building} (contrat "
            f"{args.contract}), inscrit au carnet (entrée n° {data['logbook_entry_id']})"
        )
        if closed:
            names = ", ".join(f"{r.label} ({r.marker})" for r in closed)
            print(
                f"en attente : il changerait une période arrêtée ({names}) ; rouvrez-la ou "
                "comptez la régularisation (carnet settle pending)"
            )
    return 1 if closed else 0


def _adjustment_json(adj, building_code: str) -> dict:
    return {
        "id": adj.id,
        "building_code": building_code,
        "effective_from": adj.effective_from.isoformat(),
        "effective_to": adj.effective_to.isoformat() if adj.effective_to else None,
        "kind": adj.kind,
        "nb_factor": adj.nb_factor,
        "delta_mwh_pci": adj.delta_mwh_pci,
        "justification": adj.justification,
        "author_login": adj.author_login,
        "logbook_entry_id": adj.logbook_entry_id,
        "status": adj.status,
    }


def _adjustments(args) -> int:
    import pandas as pd

    from carnet import db
    from carnet.adjustments import list_adjustments
    from carnet.models import Building, ContractBuilding
    from carnet.timeutil import fr_date

    with db.session_scope(_engine()) as session:
        rows = []
        for adj in list_adjustments(session, args.contract):  # a contract has a few
            cb = session.get(ContractBuilding, adj.contract_building_id)
            rows.append(_adjustment_json(adj, session.get(Building, cb.building_id).code))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    headers = ["N°", "Bâtiment", "Du", "Au", "Nature", "Facteur", "Écart MWh", "Auteur", "Motif"]
    table = [
        [
            str(r["id"]),
            r["building_code"],
            fr_date(pd.Timestamp(r["effective_from"]).date()),
            fr_date(pd.Timestamp(r["effective_to"]).date()) if r["effective_to"] else "",
            r["kind"],
            fr_number(r["nb_factor"], 3) if r["nb_factor"] is not None else "",
            fr_number(r["delta_mwh_pci"], 1) if r["delta_mwh_pci"] is not None else "",
            r["author_login"],
            r["justification"],
        ]
        for r in rows
    ]
    print(_table(headers, table, right={0, 5, 6}))
    return 0


# --- closing months and seasons --------------------------------------------------------------


def _register_closing(ss) -> None:
    def period(parser, why: bool = False):
        parser.add_argument("--contract", required=True, help="code du contrat")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--month", help="un mois de la saison, AAAA-MM")
        which.add_argument("--season", help="une saison de chauffe, AAAA-AAAA")
        if why:
            parser.add_argument("--why", required=True, help="motif (inscrit à l'audit)")
        parser.add_argument("--user", help="identifiant qui signe (défaut : $CARNET_USER)")
        parser.add_argument("--json", action="store_true", help="sortie JSON")

    c = ss.add_parser("close", help="arrête un mois ou une saison : ses chiffres sont figés")
    period(c)
    c.set_defaults(handler=_close)
    r = ss.add_parser("reopen", help="rouvre un mois ou une saison arrêté (motif obligatoire)")
    period(r, why=True)
    r.set_defaults(handler=_reopen)
    p = ss.add_parser("pending", help="régularisations en attente des périodes arrêtées")
    p.add_argument("--contract", required=True, help="code du contrat")
    p.add_argument("--json", action="store_true", help="sortie JSON")
    p.set_defaults(handler=_pending)
    b = ss.add_parser("book", help="compte la régularisation d'un mois arrêté dans un mois ouvert")
    b.add_argument("--contract", required=True, help="code du contrat")
    b.add_argument("--month", required=True, help="le mois arrêté, AAAA-MM")
    b.add_argument("--into", required=True, help="le mois ouvert où la compter, AAAA-MM")
    b.add_argument("--why", required=True, help="motif (inscrit à l'audit)")
    b.add_argument("--user", help="identifiant qui signe (défaut : $CARNET_USER)")
    b.add_argument("--json", action="store_true", help="sortie JSON")
    b.set_defaults(handler=_book)


def _signer(args) -> str:
    return args.user or os.environ.get("CARNET_USER") or getpass.getuser()


def _closing_call(func, *a, **kw):
    from carnet.closing import ClosingError, NotAllowed

    try:
        return func(*a, **kw)
    except NotAllowed as exc:
        raise CliError(str(exc), 3) from exc
    except (ClosingError, LookupError, ValueError) as exc:
        raise CliError(str(exc)) from exc


def _close(args) -> int:
    from carnet import db
    from carnet.periods import close_period
    from contract.periods import RULES

    ref = _closing_call(
        close_period, _engine(), args.contract, month=args.month, season=args.season,
        actor=_signer(args), rules=RULES,
    )  # fmt: skip
    from carnet.models import ClosedPeriod

    with db.session_scope(_engine()) as s:
        row = s.get(ClosedPeriod, ref.id)
        inputs, fingerprint = dict(row.inputs or {}), row.fingerprint
    data = {
        "id": ref.id,
        "contract": ref.contract_code,
        "period_kind": ref.period_kind,
        "period": ref.period,
        "closed_at": ref.closed_at.isoformat(),
        "closed_by": ref.closed_by,
        "marker": ref.marker,
        "fingerprint": fingerprint,
        "inputs": inputs,
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(
        f"{ref.label} {ref.marker}, chiffres figés (empreinte {fingerprint[:12]}…, "
        f"{fr_number(inputs.get('readings', 0), 0)} relevés, "
        f"{fr_number(inputs.get('daily_rollups', 0), 0)} cumuls journaliers, "
        f"{inputs.get('days', 0)} jours)"
    )
    return 0


def _reopen(args) -> int:
    from carnet.periods import reopen_period
    from contract.periods import RULES

    out = _closing_call(
        reopen_period, _engine(), args.contract, month=args.month, season=args.season,
        why=args.why, actor=_signer(args), rules=RULES,
    )  # fmt: skip
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    what = args.month or args.season
    print(
        f"{args.contract} {what} rouvert : {out['applied']} relevé(s) en attente appliqué(s)"
        + (f", {out['still_held']} encore en attente (autre période arrêtée)" if out["still_held"]
           else "")
        + f", {out['adjustments']} ajustement(s) en vigueur"
    )  # fmt: skip
    return 0


def _delta_json(rec: dict) -> dict:
    from contract.regularisation import describe_delta

    out = {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
    out["summary"] = describe_delta(rec)
    return out


def _moves(delta: dict) -> bool:
    """A building's line is worth showing: its summary is not « +0,00 MWh PCI » alone (no cent
    moves and the MWh round to nothing), judged on the figures rather than on their text."""
    mwh = delta.get("delta_actual_mwh_pci") or 0.0
    cents = delta.get("delta_bonus_cents") or delta.get("delta_penalty_cents")
    return bool(cents) or not (0.0 <= mwh < 0.005)


def _pending(args) -> int:
    from carnet.periods import pending_regularisations
    from contract.periods import RULES

    found = _closing_call(pending_regularisations, _engine(), args.contract, rules=RULES)
    data = [
        {
            "closed_period_id": p.ref.id,
            "contract": p.ref.contract_code,
            "period_kind": p.ref.period_kind,
            "period": p.ref.period,
            "label": p.ref.label,
            "marker": p.ref.marker,
            "held_rows": p.held_rows,
            "batch_ids": p.batch_ids,
            "adjustment_ids": p.adjustment_ids,
            "inputs_unchanged": p.inputs_unchanged,
            "origin": p.origin(),
            "summary": p.summary,
            "buildings": [
                _delta_json(r) for r in p.delta.to_dict("records") if r["building_code"] != "TOTAL"
            ],
            "total": _delta_json(p.total),
        }
        for p in found
    ]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if not data:
        print(f"aucune régularisation en attente pour {args.contract}")
        return 0
    headers = ["Période", "Arrêtée", "Relevés", "Lots", "Ajustements", "Bâtiment", "Effet"]
    rows = []
    for p in data:
        first = True
        for b in [*p["buildings"], p["total"] | {"building_code": "TOTAL"}]:
            if b["building_code"] != "TOTAL" and not _moves(b):
                continue  # a building the pending rows do not move
            rows.append(
                [
                    p["label"] if first else "",
                    p["marker"] if first else "",
                    str(p["held_rows"]) if first else "",
                    ", ".join(str(x) for x in p["batch_ids"]) if first else "",
                    ", ".join(str(x) for x in p["adjustment_ids"]) if first else "",
                    b["building_code"],
                    b["summary"],
                ]
            )
            first = False
    print(_table(headers, rows, right={2}))
    print(
        "\nRouvrir : carnet settle reopen --contract CODE --month AAAA-MM --why TEXTE ; ou compter "
        "la différence : carnet settle book --contract CODE --month AAAA-MM --into AAAA-MM "
        "--why TEXTE"
    )
    return 0


def _book(args) -> int:
    from carnet.closing import period_label
    from carnet.periods import book_regularisation
    from contract.periods import RULES

    regs = _closing_call(
        book_regularisation, _engine(), args.contract, month=args.month, into=args.into,
        why=args.why, actor=_signer(args), rules=RULES,
    )  # fmt: skip
    if args.json:
        print(json.dumps(regs, ensure_ascii=False, indent=2))
        return 0
    for r in regs:
        d = r["details"]
        month = period_label("month", r["booked_month"])
        print(f"régularisation n° {r['id']} comptée en {month} : {d['summary']} — {d['origin']}")
    return 0
