"""Closing, reopening and regularising a contract's months and seasons: the record's side.

Closing stores the figures as they stand with the fingerprint of their inputs; readings that
would change a closed period wait (`carnet.closing`) until it is reopened or their difference
is booked in an open month. Every figure is the engine's: each workflow is handed `rules`
(`contract.periods.RULES`: the contract's terms and calendar, the period's figures, the delta
of what waits), loads what they read, and stores what they return.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carnet import closing, frames
from carnet.closing import ClosedRef, ClosingError, closed_marker, of_label, period_label
from carnet.frames_comfort import comfort_frames, contract_building_ids
from carnet.frames_settlement import settlement_frames
from carnet.price_indices import index_frame


def _resolve(rules, terms, month=None, season=None):
    """The engine's period, its French refusal as a ClosingError."""
    try:
        return rules.resolve(terms, month, season)
    except ValueError as exc:
        raise ClosingError(str(exc)) from exc


def _period(engine: Engine, rules, contract_code: str, month, season):
    terms = rules.terms(frames.contract_terms(engine, contract_code))
    return terms, _resolve(rules, terms, month, season)


def _figures(engine: Engine, rules, terms, per, contract_id: int, indices: pd.DataFrame) -> dict:
    """What a close stores, computed by the engine on what it reads: the season's settlement
    inputs, each month's comfort frames (the contract's buildings), booked regularisations and
    the price indices (`indices`, read with the fingerprint)."""
    data = settlement_frames(engine, rules.figures_plan(terms, per))
    buildings = contract_building_ids(engine, terms.code)
    comfort = {}
    for m in per.months:  # eight months at most
        first, last = rules.month_bounds(m)
        comfort[m] = comfort_frames(engine, first, last, buildings, rules.comfort_lookback_s)
    with engine.connect() as conn:
        regs = {m: closing.regularisations_in(conn, contract_id, m) for m in per.months}
    return rules.figures(terms, per, data, comfort, regs, indices)


# --- closing ----------------------------------------------------------------------------------


def close_period(
    engine: Engine,
    contract_code: str,
    *,
    month: str | None = None,
    season: str | None = None,
    actor: str,
    rules,
) -> ClosedRef:
    """Close a complete month or season: store its figures and fingerprint, signed, audited.

    Refused (ClosingError, French) for a period not yet complete, one already closed, a month
    of a closed season, or when readings (or price index values) arrive while the figures are
    being computed. `rules` is the engine (`contract.periods.RULES`): it names the period and
    computes its figures, the index values its price revision read among them."""
    terms, per = _period(engine, rules, contract_code, month, season)
    label = period_label(per.kind, per.period)
    if per.last_day >= rules.today():
        what = "le mois" if per.kind == "month" else "la saison"
        raise ClosingError(
            f"{contract_code} {label} n'est pas terminé{'e' if per.kind == 'season' else ''}"
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
                    f"{contract_code} {label} fait partie de la saison {per.season}, "
                    f"{closed_marker(outer.closed_at, outer.closed_by, True)} : il est déjà arrêté"
                )
        contract_id = contract.id
    with engine.connect() as conn:
        before, _ = closing.fingerprint(conn, contract_id, per.first_day, per.last_day)
        indices = index_frame(conn)
    payload = _figures(engine, rules, terms, per, contract_id, indices)
    with Session(engine) as s, s.begin():
        contract = closing.contract_by_code(s, contract_code)
        after, inputs = closing.fingerprint(
            s.connection(), contract_id, per.first_day, per.last_day
        )
        if after != before or not index_frame(s.connection()).equals(indices):
            raise ClosingError(
                f"des données de {contract_code} {label} ont changé pendant l'arrêt : recommencez"
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
    rules,
) -> dict:
    """Reopen a closed period (audited, `why` required): the readings that waited for it are
    written (rollups refreshed), its pending adjustments come into force. Returns counts."""
    _, per = _period(engine, rules, contract_code, month, season)
    label = period_label(per.kind, per.period)
    with Session(engine) as s, s.begin():
        contract = closing.contract_by_code(s, contract_code)
        row = closing.find_closed(s, contract.id, per.kind, per.period)
        if row is None:
            raise ClosingError(f"{contract_code} {label} n'est pas arrêté : rien à rouvrir")
        if per.kind == "month":
            outer = closing.find_closed(s, contract.id, "season", per.season)
            if outer is not None:
                raise ClosingError(
                    f"la saison {per.season} qui contient {label} est arrêtée"
                    f" ({closed_marker(outer.closed_at, outer.closed_by, True)}) :"
                    " rouvrez d'abord la saison"
                )
        closing.mark_reopened(s, row, actor, why)
        note = f"appliqué à la réouverture de {contract_code} {label} : {why.strip()}"
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
    summary: str = ""  # the TOTAL's effect, in French
    inputs_unchanged: bool | None = None  # the record still has the fingerprint signed

    @property
    def total(self) -> dict:
        return self.delta[self.delta["building_code"] == "TOTAL"].iloc[0].to_dict()

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


def pending_regularisations(
    engine: Engine, contract_code: str, *, rules, row_id: int | None = None
) -> list[Pending]:
    """Pending regularisations of a contract's closed periods (or of one): what waits and the
    figures it would change, net of what was already booked. A period appears when rows or
    adjustments wait for it or when its figures would move (`rules`: the engine, as for
    `close_period`)."""
    terms = rules.terms(frames.contract_terms(engine, contract_code))
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        rows = [r for r in closing.closed_rows(s, contract.id) if row_id in (None, r.id)]
        refs = [closing.ref_of(r, contract.code) for r in rows]
        stored = {r.id: r.figures for r in rows}
        prints = {r.id: r.fingerprint for r in rows}
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
    inputs_by_season: dict = {}
    for ref in refs:  # a contract has a few closed periods
        per = _resolve(rules, terms, **({"month": ref.period} if ref.period_kind == "month"
                                        else {"season": ref.period}))  # fmt: skip
        if per.season not in inputs_by_season:
            inputs_by_season[per.season] = settlement_frames(
                engine, rules.pending_plan(terms, per.season)
            )
        delta = rules.pending_delta(
            terms, per, inputs_by_season[per.season], stored[ref.id]["settle"], booked[ref.id]
        )
        mine = held[held["closed_period_id"] == ref.id]
        batches = sorted({int(b) for b in mine["batch_id"].dropna()})
        total = delta[delta["building_code"] == "TOTAL"].iloc[0].to_dict()
        pending = Pending(ref, len(mine), batches, sorted(adj_touch.get(ref.id, [])), delta,
                          rules.describe_delta(total))  # fmt: skip
        if len(mine) or pending.adjustment_ids or not rules.is_zero(pending.total):
            with engine.connect() as conn:
                now, _ = closing.fingerprint(conn, contract.id, ref.first_day, ref.last_day)
            pending.inputs_unchanged = now == prints[ref.id]
            out.append(pending)
    return out


# --- booking a regularisation -----------------------------------------------------------------


def book_regularisation(
    engine: Engine, contract_code: str, *, month: str, into: str, why: str, actor: str, rules
) -> list[dict]:
    """Book a closed month's pending difference in an open later month: one regularisation
    line per building that moves (integer cents), shown by that month's finance export with
    its origin. The waiting readings are then written to the record and marked `applied`
    (the closed month keeps its signed figures: they are stored, not recomputed); its pending
    adjustments come into force."""
    if not why or not why.strip():
        raise ClosingError("régularisation refusée : dites pourquoi (--why)")
    terms = rules.terms(frames.contract_terms(engine, contract_code))
    per = _resolve(rules, terms, month=month)
    target = _resolve(rules, terms, month=into)
    label, target_label = period_label("month", per.period), period_label("month", target.period)
    if target.period <= per.period:
        raise ClosingError(
            f"la régularisation {of_label(label)} se compte dans un mois ultérieur"
            f" (pas {target_label})"
        )
    with Session(engine) as s:
        contract = closing.contract_by_code(s, contract_code)
        closing.check_actor(s, actor)
        row = closing.find_closed(s, contract.id, "month", per.period)
        if row is None:
            raise ClosingError(f"{contract_code} {label} n'est pas arrêté : rien à régulariser")
        outer = closing.find_closed(s, contract.id, "season", per.season)
        if outer is not None:  # its season's figures were signed too: reopen the season first
            raise ClosingError(
                f"la saison {per.season} qui contient {label} est arrêtée"
                f" ({closed_marker(outer.closed_at, outer.closed_by, True)}) : rouvrez-la"
                " d'abord"
            )
        busy = closing.month_closed_by(s, contract.id, target.period, target.season)
        if busy is not None:
            raise ClosingError(
                f"{target_label} est arrêté ({closed_marker(busy.closed_at, busy.closed_by)}) :"
                " choisissez un mois ouvert"
            )
        row_id = row.id
    found = pending_regularisations(engine, contract_code, rules=rules, row_id=row_id)
    if not found:
        raise ClosingError(f"rien à régulariser pour {contract_code} {label}")
    pending = found[0]
    ids = {bt.building_code: bt.building_id for bt in terms.buildings}
    lines = []
    for rec in pending.delta.to_dict("records"):
        if rec["building_code"] == "TOTAL" or rules.is_zero(rec):
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
                    "summary": rules.describe_delta(rec),
                },
            }
        )
    with Session(engine) as s, s.begin():
        contract_id = closing.contract_by_code(s, contract_code).id
        regs = closing.store_regularisations(s, contract_id, row_id, lines, why, actor)
        numbers = ", ".join(str(r.id) for r in regs) or "aucune ligne"
        note = f"régularisation {of_label(label)} comptée en {target_label} (n° {numbers})"
        held = closing.held_rows(s.connection(), closed_period_ids=[row_id])
        closing.apply_held(s, held, actor, note, force=True)
        closing.activate_adjustments(s, pending.adjustment_ids, actor, note)
        return [
            {"id": r.id, "building_id": r.building_id, "booked_month": r.booked_month,
             "delta_mwh_pci": r.delta_mwh_pci, "delta_cents": r.delta_cents,
             "details": r.details}
            for r in regs
        ]  # fmt: skip
