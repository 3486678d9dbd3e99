"""`carnet batches`: the import batches, their rejected lines, and undoing one exactly.

`carnet batches revert N --why TEXTE [--user LOGIN]` undoes batch N exactly (manager only;
exit 1 when refused, with the reason). Apart from `carnet import`, so that listing the batches
loads neither the file readers nor the checks of an import (tests/test_cli_startup.py).
"""

from __future__ import annotations

import json
import os

from carnet import batches as carnet_batches
from carnet import db
from carnet_cli.main import CliError
from carnet_cli.text_table import table


def register(sub) -> None:
    b = sub.add_parser(
        "batches",
        help="historique des lots d'import et lignes rejetées ; annulation d'un lot",
        description="Liste les lots d'import (les lots dont le processus est mort passent à "
        "« interrompu »). « carnet batches revert N --why TEXTE » annule le lot N.",
    )
    b.add_argument("--limit", type=int, default=30)
    b.add_argument("--json", action="store_true")
    b.add_argument("--rejected", type=int, metavar="LOT", help="lignes rejetées du lot LOT")
    b.set_defaults(handler=_batches)
    bsub = b.add_subparsers(dest="batches_command", metavar="ACTION")
    r = bsub.add_parser(
        "revert",
        help="annule un lot : supprime ce qu'il a ajouté, rétablit ce qu'il a remplacé",
        description="Annule le lot N exactement (relevés ajoutés supprimés, relevés remplacés "
        "rétablis, coefficients et changements de compteur annulés, cumuls recalculés). "
        "Refusé si un lot postérieur s'appuie sur lui ou si une période arrêtée changerait. "
        "Code de sortie : 0 annulé (ou déjà annulé), 1 refusé, 2 lot inconnu.",
    )
    r.add_argument("batch_id", type=int, metavar="N")
    r.add_argument("--why", required=True, metavar="TEXTE", help="motif (obligatoire)")
    r.add_argument("--user", metavar="LOGIN", help="agir en tant que cet utilisateur")
    r.set_defaults(handler=_revert)


def show_rejected(batch_id: int, as_json: bool) -> int:
    """The rejected lines of batch `batch_id` (`carnet batches --rejected`, `carnet import
    --rejected`)."""
    from ingest.importer import batch_rejected

    engine = db.get_engine()
    batches = carnet_batches.list_batches(engine, limit=1_000_000)
    if batch_id not in set(batches["id"]):
        raise CliError(f"lot d'import n° {batch_id} inconnu", 2)
    rej = batch_rejected(engine, batch_id)
    if as_json:
        print(
            json.dumps(
                {
                    "batch_id": batch_id,
                    "rejected": rej.astype(object).where(rej.notna(), None).to_dict("records"),
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return 0
    if not len(rej):
        print(f"lot n° {batch_id} : aucune ligne rejetée")
        return 0
    print(
        table(
            ["ligne", "motif", "texte brut"],
            [
                [
                    str(r.line_no if r.line_no is not None else ""),
                    str(r.reason),
                    str(r.raw or "")[:100],
                ]
                for r in rej.itertuples(index=False)
            ],
            left=(1, 2),
        )
    )
    return 0


def _batches(args) -> int:
    if args.rejected is not None:
        return show_rejected(args.rejected, args.json)
    engine = db.get_engine()
    dead = carnet_batches.mark_interrupted(engine)  # a batch whose process died: not "en cours"
    frame = carnet_batches.list_batches(engine, limit=args.limit)
    if dead and not args.json:
        names = ", ".join(f"n° {i}" for i in dead)
        print(f"lot(s) {names} : interrompu(s), leur processus s'est arrêté avant la fin\n")
    if args.json:
        frame = frame.copy()
        frame["status_fr"] = frame["status"].map(carnet_batches.status_fr)
        for col in ("started_at", "finished_at", "reverted_at"):
            frame[col] = frame[col].astype(str).where(frame[col].notna(), None)
        print(
            json.dumps(
                frame.astype(object).where(frame.notna(), None).to_dict("records"),
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return 0
    rows = [
        [
            str(r.id),
            str(r.started_at)[:16],
            str(r.source),
            str(r.format or ""),
            carnet_batches.status_fr(r.status),
            str(r.rows_read),
            str(r.rows_inserted),
            str(r.rows_updated),
            str(r.rows_unchanged),
            str(r.rows_rejected),
            str(r.user_login or ""),
        ]
        for r in frame.itertuples(index=False)
    ]
    print(
        table(
            [
                "lot",
                "début (UTC)",
                "fichier",
                "format",
                "état",
                "lues",
                "nouvelles",
                "màj",
                "inchangées",
                "rejetées",
                "par",
            ],
            rows,
            left=(1, 2, 3, 4, 10),
        )
        if rows
        else "aucun lot d'import"
    )
    return 0


def _revert(args) -> int:
    from sqlalchemy import select

    from carnet.models import ImportBatch, User

    engine = db.get_engine()
    actor = os.environ.get("CARNET_USER") or "cli"  # the command line acts as the manager
    with engine.connect() as conn:
        if args.user:
            user = conn.execute(
                select(User.login).where(User.login == args.user, User.active.is_(True))
            ).scalar()
            if user is None:
                raise CliError(f"utilisateur inconnu ou inactif « {args.user} »", 2)
            actor = user
        known = conn.execute(select(ImportBatch.id).where(ImportBatch.id == args.batch_id))
        if known.scalar() is None:
            raise CliError(f"lot d'import n° {args.batch_id} inconnu", 2)
    try:
        message = carnet_batches.revert_batch(engine, args.batch_id, actor=actor, why=args.why)
    except carnet_batches.BatchRevertRefused as exc:
        raise CliError(str(exc), 1) from exc
    print(message)
    return 0
