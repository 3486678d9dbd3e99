"""Closed months and seasons, composed for the CLI and the pages: engine in, figures out.

Closing stores the figures as they stand (the very payload of `carnet settle --json`, the lines
of `carnet export finance`) with the fingerprint of their inputs; from then on `closed_view`
serves them instead of a new computation. Later data waits (`carnet.closing`); its effect, the
pending regularisation, is computed here in memory: the record's frames with what waits laid
over them, settled by the same engine, minus what was signed and what was already booked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet import closing
from carnet.closing import ClosedRef, ClosingError, closed_marker, of_label, period_label
from carnet.store import daily_rollups
from carnet.timeutil import TZ_NAME, local_day_bounds
from contract import load
from contract.degree_days import station_daily_dju
from contract.finance import finance_month_frame, regularisation_lines, season_of_month
from contract.regularisation import (
    describe_delta,
    finance_records,
    is_zero,
    minus_booked,
    overlay_readings,
    replace_rollups,
    settlement_delta,
    settlement_payload,
    with_closed_months,
    with_signed_previous,
)
from contract.settlement import settle, settlement_period
from contract.terms import (
    SEASON_END,
    SEASON_START,
    ContractTerms,
    parse_season,
    previous_season,
    season_bounds,
    season_months,
)

__all__ = ["ClosingError", "Period", "close_period", "closed_view", "pending_regularisations"]


@dataclass(frozen=True)
class Period:
    """A month (`2025-11`) or a season (`2025-2026`) of a contract, with its local days."""

    kind: str
    period: str
    season: str
    first_day: dt.date
    last_day: dt.date

    @property
    def month(self) -> str | None:
        return self.period if self.kind == "month" else None

    @property
    def label(self) -> str:
        return period_label(self.kind, self.period)


def today() -> dt.date:
    return pd.Timestamp.now(tz=TZ_NAME).date()


def resolve(terms: ContractTerms, month: str | None = None, season: str | None = None) -> Period:
    """The period named by `--month` or `--season` (French message when unreadable)."""
    if (month is None) == (season is None):
        raise ClosingError("indiquez soit --month AAAA-MM, soit --season AAAA-AAAA")
    if month is not None:
        try:
            p = pd.Period(month, "M")
        except (ValueError, TypeError) as exc:
            raise ClosingError(f"mois illisible « {month} » (attendu AAAA-MM)") from exc
        month = str(p)
        season = season_of_month(month, terms.season_start)
        try:
            first, last = settlement_period(terms, season, month)
        except ValueError as exc:
            raise ClosingError(str(exc)) from exc
        return Period("month", month, season, first, last)
    try:
        parse_season(season)
    except ValueError as exc:
        raise ClosingError(str(exc)) from exc
    first, last = season_bounds(season, terms.season_start, terms.season_end)
    return Period("season", season, season, first, last)


# --- figures as they stand --------------------------------------------------------------------


def month_comfort(engine: Engine, contract_code: str, month: str) -> list[dict]:
    """The month's usage performance of the contract's buildings (DESIGN.md, "Usage
    performance"), part of the contract report: same figures as `carnet comfort`."""
    from contract.comfort_load import load_contract_comfort

    def num(value, ndigits=4):
        if value is None:
            return None
        value = float(value)
        return round(value, ndigits) if np.isfinite(value) else None

    frame = load_contract_comfort(engine, contract_code, month).buildings
    out = []
    for rec in frame.to_dict("records"):
        share_ok, share_out = num(rec.get("share_ok")), num(rec.get("share_outside"))
        out.append(
            {
                "building_code": rec["building"],
                "bookings": int(rec.get("bookings") or 0),
                "share_ok_pct": None if share_ok is None else round(100 * share_ok, 1),
                "late_bookings": int(rec.get("late_bookings") or 0),
                "max_shortfall_c": num(rec.get("max_shortfall_c"), 2),
                "energy_kwh": num(rec.get("energy_kwh"), 1),
                "energy_outside_kwh": num(rec.get("energy_outside_kwh"), 1),
                "share_outside_pct": None if share_out is None else round(100 * share_out, 1),
            }
        )
    return out


def live_finance(engine: Engine, report, contract_id: int) -> pd.DataFrame:
    """The export lines of a one-month settlement, with the regularisations booked in it."""
    frame = finance_month_frame(report)
    with engine.connect() as conn:
        regs = closing.regularisations_in(conn, contract_id, report.month)
    if len(regs):
        frame = pd.concat(
            [frame, regularisation_lines(regs, report.contract_code, report.month)],
            ignore_index=True,
        )
    return frame


def figures(
    engine: Engine,
    terms: ContractTerms,
    per: Period,
    contract_id: int,
    inputs=None,
    with_comfort: bool = True,
    as_of: dt.date | None = None,
) -> dict:
    """Everything a close stores: the settle payload of the period, the month payloads it
    covers (with the month's comfort, as `carnet settle --month --json` prints it) and the
    finance export lines of each month."""
    _, rollups, dju, adjustments = inputs or load.load_settlement_inputs(
        engine, terms.code, per.season
    )
    as_of = as_of or today() - dt.timedelta(days=1)
    months = [per.period] if per.kind == "month" else [str(m) for m in _months(terms, per)]
    month_payloads, finance = {}, {}
    for m in months:  # eight months at most
        report = settle(terms, per.season, rollups, dju, adjustments, month=m, as_of=as_of)
        payload = settlement_payload(report)
        if with_comfort:
            payload["comfort"] = month_comfort(engine, terms.code, m)
        month_payloads[m] = payload
        finance[m] = finance_records(live_finance(engine, report, contract_id))
    if per.kind == "month":
        head = month_payloads[per.period]
    else:
        report = settle(terms, per.season, rollups, dju, adjustments, month=None, as_of=as_of)
        head = settlement_payload(
            with_signed_previous(report, signed_previous(engine, terms.code, per.season), terms)
        )
    return {"version": 1, "settle": head, "months": month_payloads, "finance": finance}


def _months(terms: ContractTerms, per: Period) -> list[pd.Period]:
    return list(season_months(per.season, terms.season_start, terms.season_end))


# --- what is closed ---------------------------------------------------------------------------


@dataclass
class ClosedView:
    """Signed figures of a period: the settle payload, the finance lines of a month."""

    ref: ClosedRef
    payload: dict
    finance: dict | None = None
    view_kind: str = "season"  # what is shown: a month (maybe of a closed season) or a season

    @property
    def marker(self) -> str:
        """« arrêté le 05/12/2025 par gestionnaire » for a month (« … (saison 2025-2026) »
        when its season was closed), « arrêtée le … » for a season."""
        r = self.ref
        if self.view_kind == "month":
            text = closed_marker(r.closed_at, r.closed_by)
            return text + (f" (saison {r.period})" if r.period_kind == "season" else "")
        return r.marker

    def closed_json(self) -> dict:
        r = self.ref
        return {
            "id": r.id,
            "period_kind": r.period_kind,
            "period": r.period,
            "closed_at": r.closed_at.isoformat(),
            "closed_by": r.closed_by,
            "marker": self.marker,
        }


def _contract_id(session, code: str) -> int:
    return closing.contract_by_code(session, code).id


def closed_view(
    engine: Engine,
    contract_code: str,
    season: str,
    month: str | None = None,
    as_of: dt.date | None = None,
) -> ClosedView | None:
    """The signed figures of the month (its own close, else its season's) or of the season,
    or None when open. An `as_of` before the period's end asks for a partial view: not the
    signed one."""
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        if month is not None:
            month = str(pd.Period(month, "M"))
            if season_of_month(month, contract.season_start or SEASON_START) != season:
                return None  # not a month of that season: the settlement says so
            row = closing.month_closed_by(s, contract.id, month, season)
        else:
            row = closing.find_closed(s, contract.id, "season", season)
        if row is None or (as_of is not None and as_of < row.last_day):
            return None
        ref = closing.ref_of(row, contract.code)
        figures_ = row.figures
    if month is not None:
        payload = figures_["months"].get(month)
        if payload is None:
            return None
        return ClosedView(ref, payload, figures_["finance"].get(month), "month")
    return ClosedView(ref, figures_["settle"])


def closed_months(engine: Engine, contract_code: str, season: str) -> dict[str, ClosedView]:
    """The closed months of a season (its own close or the season's), by month."""
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        terms_start = contract.season_start or SEASON_START
        terms_end = contract.season_end or SEASON_END
        rows = closing.closed_rows(s, contract.id)
        out: dict[str, ClosedView] = {}
        months = [str(m) for m in season_months(season, terms_start, terms_end)]
        for row in sorted(rows, key=lambda r: r.period_kind != "month"):  # months first
            covered = [row.period] if row.period_kind == "month" else months
            if row.period_kind == "season" and row.period != season:
                continue
            for m in covered:
                if m in months and m not in out and m in row.figures["months"]:
                    out[m] = ClosedView(
                        closing.ref_of(row, contract.code),
                        row.figures["months"][m],
                        row.figures["finance"].get(m),
                        "month",
                    )
    return out


def season_payload_with_closed_months(engine, contract_code, season, payload) -> dict:
    """A live season payload whose closed months show their signed rows and markers."""
    months = closed_months(engine, contract_code, season)
    if not months:
        return payload
    out = with_closed_months(payload, {m: v.payload for m, v in months.items()})
    out["closed_months"] = {m: v.marker for m, v in sorted(months.items())}
    return out


def signed_previous(engine: Engine, contract_code: str, season: str) -> dict | None:
    """The signed figures of the season before `season`, when it is closed."""
    view = closed_view(engine, contract_code, previous_season(season))
    return None if view is None else view.payload


def settle_live(engine: Engine, contract_code: str, season: str, month=None, as_of=None):
    """`contract.settle_contract`, with the previous season's signed deviation behind the
    two-season NB-revision alert (a closed season stays what was signed)."""
    from contract.reports import settle_contract

    report = settle_contract(engine, contract_code, season, month, as_of)
    if month is None and report.season_complete:
        terms = load.load_contract_terms(engine, contract_code)
        report = with_signed_previous(report, signed_previous(engine, contract_code, season), terms)
    return report


# --- closing ----------------------------------------------------------------------------------


def close_period(
    engine: Engine,
    contract_code: str,
    *,
    month: str | None = None,
    season: str | None = None,
    actor: str,
) -> ClosedRef:
    """Close a complete month or season: store its figures and fingerprint, signed, audited.

    Refused (ClosingError, French) for a period not yet complete, one already closed, a month
    of a closed season, or when readings arrive while the figures are being computed."""
    terms = load.load_contract_terms(engine, contract_code)
    per = resolve(terms, month, season)
    if per.last_day >= today():
        what = "le mois" if per.kind == "month" else "la saison"
        raise ClosingError(
            f"{contract_code} {per.label} n'est pas terminé{'e' if per.kind == 'season' else ''}"
            f" (dernier jour le {per.last_day:%d/%m/%Y}) : on n'arrête que {what} une fois"
            " complet" + ("e" if per.kind == "season" else "")
        )
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        closing.check_actor(s, actor)
        if per.kind == "month":
            outer = closing.find_closed(s, contract.id, "season", per.season)
            if outer is not None:
                raise ClosingError(
                    f"{contract_code} {per.label} fait partie de la saison {per.season}, "
                    f"{closed_marker(outer.closed_at, outer.closed_by, True)} : il est déjà arrêté"
                )
        contract_id = contract.id
    with engine.connect() as conn:
        before, _ = closing.fingerprint(conn, contract_id, per.first_day, per.last_day)
    payload = figures(engine, terms, per, contract_id)
    with Session(engine) as s, s.begin():
        contract = closing.contract_by_code(s, contract_code)
        after, inputs = closing.fingerprint(
            s.connection(), contract_id, per.first_day, per.last_day
        )
        if after != before:
            raise ClosingError(
                f"des données de {contract_code} {per.label} ont changé pendant l'arrêt :"
                " recommencez"
            )
        row = closing.store_closed(
            s, contract, per.kind, per.period, per.first_day, per.last_day, payload, after,
            inputs, actor,
        )  # fmt: skip
        return closing.ref_of(row, contract_code)


def reopen_period(
    engine: Engine,
    contract_code: str,
    *,
    month: str | None = None,
    season: str | None = None,
    why: str,
    actor: str,
) -> dict:
    """Reopen a closed period (audited, `why` required): the readings that waited for it are
    written (rollups refreshed), its pending adjustments come into force. Returns counts."""
    terms = load.load_contract_terms(engine, contract_code)
    per = resolve(terms, month, season)
    with Session(engine) as s, s.begin():
        contract = closing.contract_by_code(s, contract_code)
        row = closing.find_closed(s, contract.id, per.kind, per.period)
        if row is None:
            raise ClosingError(f"{contract_code} {per.label} n'est pas arrêté : rien à rouvrir")
        if per.kind == "month":
            outer = closing.find_closed(s, contract.id, "season", per.season)
            if outer is not None:
                raise ClosingError(
                    f"la saison {per.season} qui contient {per.label} est arrêtée"
                    f" ({closed_marker(outer.closed_at, outer.closed_by, True)}) :"
                    " rouvrez d'abord la saison"
                )
        closing.mark_reopened(s, row, actor, why)
        note = f"appliqué à la réouverture de {contract_code} {per.label} : {why.strip()}"
        held = closing.held_rows(s.connection(), closed_period_ids=[row.id])
        applied, still = closing.apply_held(s, held, actor, note)
        activated = 0
        for adj in closing.pending_adjustments(s.connection(), contract.id).itertuples():
            to = None if pd.isna(adj.effective_to) else pd.Timestamp(adj.effective_to).date()
            frm = pd.Timestamp(adj.effective_from).date()
            if not closing.adjustment_touches(s, contract.id, frm, to):
                activated += closing.activate_adjustments(s, [int(adj.id)], actor, note)
        return {"closed_period_id": row.id, "applied": applied, "still_held": still,
                "adjustments": activated}  # fmt: skip


# --- pending regularisations ------------------------------------------------------------------


@dataclass
class Pending:
    """What waits for one closed period and the figures it would change."""

    ref: ClosedRef
    held_rows: int
    batch_ids: list[int]
    adjustment_ids: list[int]
    delta: pd.DataFrame = field(repr=False)  # per building and TOTAL (settlement_delta)
    inputs_unchanged: bool | None = None  # the record still has the fingerprint signed

    @property
    def total(self) -> dict:
        return self.delta[self.delta["building_code"] == "TOTAL"].iloc[0].to_dict()

    @property
    def summary(self) -> str:
        return describe_delta(self.total)

    def origin(self) -> str:
        """« régularisation de novembre 2025 (lot n° 12) »."""
        what = []
        if self.batch_ids:
            n = "lots n°" if len(self.batch_ids) > 1 else "lot n°"
            what.append(f"{n} {', '.join(str(b) for b in self.batch_ids)}")
        if self.adjustment_ids:
            n = "ajustements n°" if len(self.adjustment_ids) > 1 else "ajustement n°"
            what.append(f"{n} {', '.join(str(a) for a in self.adjustment_ids)}")
        label = period_label(self.ref.period_kind, self.ref.period)
        return f"régularisation {of_label(label)}" + (f" ({' ; '.join(what)})" if what else "")


def _station_dju(engine, terms, station_id, first, last, fresh, days, held) -> pd.DataFrame:
    """`contract.load.load_station_dju` with the held weather rows laid over the record."""
    chans = load.station_channels(engine, station_id)
    wanted = [c for c in (chans.get(k) for k in ("tn", "tx", "hourly")) if c]
    roll = replace_rollups(
        load.load_rollups(engine, wanted, first, last), fresh,
        {c: d for c, d in days.items() if c in wanted},
    )  # fmt: skip
    index = pd.date_range(first, last, freq="D", name="day")

    def series(key):
        if key not in chans:
            return pd.Series(np.nan, index=index)
        return roll[roll["channel_id"] == chans[key]].set_index("day")["value"].reindex(index)

    tn_tx = pd.DataFrame({"tn_c": series("tn"), "tx_c": series("tx")}, index=index)
    hourly = None
    past = index <= pd.Timestamp.now(tz=TZ_NAME).tz_localize(None).normalize()
    incomplete = tn_tx[past].isna().any(axis=1).any()
    method = terms.dju_method
    if "hourly" in chans and (method == "hourly" or incomplete):
        ts_from, ts_to = local_day_bounds(first, last)
        raw = load.load_readings(engine, chans["hourly"], ts_from - 86400, ts_to + 86400)
        mine = held[(held["channel_id"] == chans["hourly"]) & (held["ts"] >= ts_from - 86400)]
        mine = mine[mine["ts"] < ts_to + 86400]
        raw = overlay_readings(raw.assign(channel_id=chans["hourly"]), mine)
        raw = raw[raw["value"].notna()]
        if method == "hourly":
            raw = raw[(raw["ts"] >= ts_from) & (raw["ts"] < ts_to)]
        hourly = pd.Series(raw["value"].to_numpy(), index=raw["ts"].to_numpy(), name="temp_c")
    dju = station_daily_dju(tn_tx, hourly, method, terms.dju_base_c)
    dju = dju[(dju.index >= pd.Timestamp(first)) & (dju.index <= pd.Timestamp(last))]
    out = dju.reset_index()
    out.insert(0, "station_id", int(station_id))
    return out


def inputs_with_pending(engine: Engine, terms: ContractTerms, season: str, contract_id: int):
    """The settlement inputs of a season with every waiting reading and adjustment of the
    contract applied, in memory: the record is not touched."""
    terms_, rollups, dju, adjustments = load.load_settlement_inputs(engine, terms.code, season)
    with engine.connect() as conn:
        pairs = closing.contract_channels(conn, [contract_id])
        held = closing.latest_per_key(closing.held_rows(conn, channel_ids=pairs["channel_id"]))
        pending_adj = closing.pending_adjustments(conn, contract_id)
        if len(held):
            stored, meta, resets, factors, days = closing.overlay_inputs(conn, held)
    if len(pending_adj):
        adjustments = pd.concat(
            [adjustments, pending_adj[list(adjustments.columns)]], ignore_index=True
        ) if len(adjustments) else pending_adj[list(adjustments.columns)]  # fmt: skip
    if not len(held):
        return terms_, rollups, dju, adjustments
    fresh = daily_rollups(overlay_readings(stored, held), meta, resets, factors)
    rollups = replace_rollups(rollups, fresh, days)
    load_first, _ = season_bounds(previous_season(season), terms.season_start, terms.season_end)
    _, load_last = season_bounds(season, terms.season_start, terms.season_end)
    stations = sorted({bt.station_id for bt in terms.buildings if bt.station_id is not None})
    for sid in stations:  # one or two stations per contract
        station_chans = set(load.station_channels(engine, sid).values())
        if not station_chans & set(days):
            continue
        part = _station_dju(engine, terms, sid, load_first, load_last, fresh, days, held)
        dju = pd.concat([dju[dju["station_id"] != sid], part], ignore_index=True)
    return terms_, rollups, dju, adjustments


def pending_for(engine: Engine, contract_code: str, row_id: int | None = None) -> list[Pending]:
    """Pending regularisations of a contract's closed periods (or of one): what waits and the
    figures it would change, net of what was already booked. A period appears when rows or
    adjustments wait for it or when its figures would move."""
    terms = load.load_contract_terms(engine, contract_code)
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        rows = [r for r in closing.closed_rows(s, contract.id) if row_id in (None, r.id)]
        refs = [closing.ref_of(r, contract.code) for r in rows]
        stored = {r.id: r.figures for r in rows}
        prints = {r.id: r.fingerprint for r in rows}
        codes = {bt.building_id: bt.building_code for bt in terms.buildings}
        adj_touch = {}
        for adj in closing.pending_adjustments(s.connection(), contract.id).itertuples():
            to = None if pd.isna(adj.effective_to) else pd.Timestamp(adj.effective_to).date()
            for ref in closing.adjustment_touches(
                s, contract.id, pd.Timestamp(adj.effective_from).date(), to
            ):
                adj_touch.setdefault(ref.id, []).append(int(adj.id))
        held = closing.held_rows(s.connection(), closed_period_ids=[r.id for r in refs] or [-1])
        booked = {r.id: closing.booked_for(s.connection(), r.id) for r in refs}
    out = []
    inputs_by_season: dict[str, tuple] = {}
    for ref in refs:  # a contract has a few closed periods
        per = resolve(terms, **({"month": ref.period} if ref.period_kind == "month"
                                else {"season": ref.period}))  # fmt: skip
        if per.season not in inputs_by_season:
            inputs_by_season[per.season] = inputs_with_pending(
                engine, terms, per.season, contract.id
            )
        _, rollups, dju, adjustments = inputs_by_season[per.season]
        report = settle(terms, per.season, rollups, dju, adjustments, month=per.month,
                        as_of=per.last_day)  # fmt: skip
        delta = settlement_delta(stored[ref.id]["settle"], settlement_payload(report))
        delta = minus_booked(delta, booked[ref.id], codes)
        mine = held[held["closed_period_id"] == ref.id]
        batches = sorted({int(b) for b in mine["batch_id"].dropna()})
        pending = Pending(ref, len(mine), batches, sorted(adj_touch.get(ref.id, [])), delta)
        if len(mine) or pending.adjustment_ids or not is_zero(pending.total):
            with engine.connect() as conn:
                now, _ = closing.fingerprint(conn, contract.id, ref.first_day, ref.last_day)
            pending.inputs_unchanged = now == prints[ref.id]
            out.append(pending)
    return out


def pending_regularisations(engine: Engine, contract_code: str) -> list[Pending]:
    return pending_for(engine, contract_code)


# --- booking a regularisation -----------------------------------------------------------------


def book_regularisation(
    engine: Engine, contract_code: str, *, month: str, into: str, why: str, actor: str
) -> list[dict]:
    """Book a closed month's pending difference in an open later month: one regularisation
    line per building that moves (integer cents), shown by that month's finance export with
    its origin. The waiting readings are then written to the record and marked `applied`
    (the closed month keeps its signed figures: they are stored, not recomputed); its pending
    adjustments come into force."""
    if not why or not why.strip():
        raise ClosingError("régularisation refusée : dites pourquoi (--why)")
    terms = load.load_contract_terms(engine, contract_code)
    per = resolve(terms, month=month)
    target = resolve(terms, month=into)
    if target.period <= per.period:
        raise ClosingError(
            f"la régularisation {of_label(per.label)} se compte dans un mois ultérieur"
            f" (pas {target.label})"
        )
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        closing.check_actor(s, actor)
        row = closing.find_closed(s, contract.id, "month", per.period)
        if row is None:
            raise ClosingError(f"{contract_code} {per.label} n'est pas arrêté : rien à régulariser")
        outer = closing.find_closed(s, contract.id, "season", per.season)
        if outer is not None:  # its season's figures were signed too: reopen the season first
            raise ClosingError(
                f"la saison {per.season} qui contient {per.label} est arrêtée"
                f" ({closed_marker(outer.closed_at, outer.closed_by, True)}) : rouvrez-la"
                " d'abord"
            )
        busy = closing.month_closed_by(s, contract.id, target.period, target.season)
        if busy is not None:
            raise ClosingError(
                f"{target.label} est arrêté ({closed_marker(busy.closed_at, busy.closed_by)}) :"
                " choisissez un mois ouvert"
            )
        row_id = row.id
    found = pending_for(engine, contract_code, row_id)
    if not found:
        raise ClosingError(f"rien à régulariser pour {contract_code} {per.label}")
    pending = found[0]
    ids = {bt.building_code: bt.building_id for bt in terms.buildings}
    lines = []
    for rec in pending.delta.to_dict("records"):
        if rec["building_code"] == "TOTAL" or is_zero(rec):
            continue
        lines.append(
            {
                "building_id": ids[rec["building_code"]],
                "booked_month": target.period,
                "delta_mwh_pci": rec["delta_actual_mwh_pci"] or 0.0,
                "delta_cents": int(rec["delta_net_cents"]),
                "details": {
                    "origin": pending.origin(),
                    "period": per.period,
                    "delta_target_mwh_pci": rec["delta_target_mwh_pci"],
                    "delta_gap_mwh": rec["delta_gap_mwh"],
                    "delta_bonus_cents": int(rec["delta_bonus_cents"]),
                    "delta_penalty_cents": int(rec["delta_penalty_cents"]),
                    "batch_ids": pending.batch_ids,
                    "adjustment_ids": pending.adjustment_ids,
                    "summary": describe_delta(rec),
                },
            }
        )
    with Session(engine) as s, s.begin():
        regs = closing.store_regularisations(s, terms_id(s, contract_code), row_id, lines, why,
                                             actor)  # fmt: skip
        numbers = ", ".join(str(r.id) for r in regs) or "aucune ligne"
        note = f"régularisation {of_label(per.label)} comptée en {target.label} (n° {numbers})"
        held = closing.held_rows(s.connection(), closed_period_ids=[row_id])
        closing.apply_held(s, held, actor, note, force=True)
        closing.activate_adjustments(s, pending.adjustment_ids, actor, note)
        return [
            {"id": r.id, "building_id": r.building_id, "booked_month": r.booked_month,
             "delta_mwh_pci": r.delta_mwh_pci, "delta_cents": r.delta_cents,
             "details": r.details}
            for r in regs
        ]  # fmt: skip


def terms_id(session, contract_code: str) -> int:
    return closing.contract_by_code(session, contract_code).id


def contract_id_of(engine: Engine, contract_code: str) -> int:
    with Session(engine) as s:
        return terms_id(s, contract_code)
