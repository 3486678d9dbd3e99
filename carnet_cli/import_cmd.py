"""`carnet import PATH...` and `carnet batches`: files in, and what became of every row.

Exit status of `carnet import`: 0 when every value was imported, 1 when values were rejected
or held (or a strict file was refused), 2 when a file could not be read at all, 3 when the
same file (same SHA-256) is being imported by another live process (nothing done: try again
once it has finished). Stopped by SIGTERM, an import writes nothing, marks its batch
`interrompu` and exits 143 (130 for Ctrl-C).

`carnet batches revert N --why TEXTE [--user LOGIN]` undoes batch N exactly (manager only;
exit 1 when refused, with the reason).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from contextlib import contextmanager

from sqlalchemy import select

from carnet import batches as carnet_batches
from carnet import db
from carnet.models import ImportBatch, User
from carnet_cli.main import CliError
from ingest.batch_report import BatchReport
from ingest.formats import FORMATS
from ingest.formats.generic import parse_columns
from ingest.importer import batch_rejected, import_file, list_batches

SHOWN_REJECTS = 10


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="importe des fichiers de relevés (CSV, XLSX GRDF) ; un lot par fichier",
        description="Importe des fichiers (format détecté, --format pour l'imposer). "
        "Code de sortie : 0 tout importé, 1 lignes rejetées ou retenues, 2 fichier illisible, "
        "3 même fichier déjà en cours d'import par un autre processus.",
    )
    p.add_argument("paths", nargs="*", metavar="FICHIER")
    p.add_argument("--format", choices=sorted(FORMATS), help="impose le format")
    p.add_argument("--strict", action="store_true", help="tout ou rien par fichier")
    p.add_argument(
        "--columns",
        metavar="RÔLES",
        help="colonnes d'un fichier generic-long, par rôle : \"channel=Capteur,"
        'timestamp=Quand,value=Mesure[,quality=…][,unit=…][,offset=…]" (en-têtes comparés '
        "sans casse, accents ni unités entre crochets ou parenthèses)",
    )
    p.add_argument("--user", help="identifiant enregistré dans le lot")
    p.add_argument("--json", action="store_true", help="rapport JSON (un objet par fichier)")
    p.add_argument(
        "--rejected", type=int, metavar="LOT", help="liste les lignes rejetées du lot LOT"
    )
    p.set_defaults(handler=_import)
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


def _progress(name: str):
    if not sys.stderr.isatty():
        return None
    state = {"last": -1}

    def show(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct == state["last"]:
            return
        state["last"] = pct
        bar = "#" * (pct // 4)
        sys.stderr.write(f"\r{name[-40:]:40} [{bar:25}] {pct:3d} %")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


@contextmanager
def _sigterm_stops_cleanly():
    """SIGTERM raises SystemExit(143) in the import, which rolls its transaction back and
    marks its batch interrupted before the process exits (the default would just die)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _import(args) -> int:
    if args.rejected is not None:
        return _show_rejected(args.rejected, args.json)
    if not args.paths:
        raise CliError("indiquez au moins un fichier (ou --rejected LOT)", 2)
    columns = None
    if args.columns is not None:
        if args.format not in (None, "generic-long"):
            raise CliError(
                f"--columns ne s'applique qu'au format generic-long (pas à {args.format})", 2
            )
        try:
            columns = parse_columns(args.columns)
        except ValueError as exc:
            raise CliError(str(exc), 2) from exc
    engine = db.get_engine()
    reports = []
    with _sigterm_stops_cleanly():
        for path in args.paths:
            report = import_file(
                engine,
                path,
                fmt=args.format,
                strict=args.strict,
                user=args.user,
                progress=_progress(str(path)),
                columns=columns,
            )
            reports.append(report)
    if args.json:
        print(json.dumps([_json(r) for r in reports], ensure_ascii=False, indent=2))
    else:
        print(summary_table(reports))
        for r in reports:
            _details(r)
    return max(r.exit_status for r in reports)


def _json(r: BatchReport) -> dict:
    return r.as_dict() | {"rejected": r.rejected[: SHOWN_REJECTS * 10]}


HEADERS = [
    "fichier",
    "format",
    "lot",
    "lues",
    "nouvelles",
    "màj",
    "inchangées",
    "rejetées",
    "quarantaine",
    "état",
    "durée",
]


def summary_table(reports: list[BatchReport]) -> str:
    rows = [
        [
            r.path,
            r.format or "?",
            str(r.batch_id or ""),
            str(r.rows_read),
            str(r.rows_inserted),
            str(r.rows_updated),
            str(r.rows_unchanged),
            str(r.rows_rejected),
            str(r.rows_quarantined),
            carnet_batches.status_fr(r.status),
            f"{r.seconds:.1f} s".replace(".", ","),
        ]
        for r in reports
    ]
    return _table(HEADERS, rows)


def _table(headers: list[str], rows: list[list[str]], left=(0, 1, 9)) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i in left else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _details(r: BatchReport) -> None:
    if r.batch_id is None:  # in progress elsewhere: no batch of its own
        print(f"\n{r.path} : {r.message}")
        return
    print(f"\n{r.path} (lot n° {r.batch_id}) : {r.message}")
    for note in r.notes[:20]:
        print(f"  note : {note}")
    if r.rejected:
        print(f"  lignes rejetées ({r.rows_rejected} valeur(s)) :")
        for rej in r.rejected[:SHOWN_REJECTS]:
            print(f"    ligne {rej['line_no']} : {rej['reason']}")
            if rej.get("raw"):
                print(f"      « {rej['raw'][:120]} »")
        if len(r.rejected) > SHOWN_REJECTS:
            print(f"    … toutes les lignes : carnet import --rejected {r.batch_id}")


def _show_rejected(batch_id: int, as_json: bool) -> int:
    engine = db.get_engine()
    batches = list_batches(engine, limit=1_000_000)
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
        _table(
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
        return _show_rejected(args.rejected, args.json)
    engine = db.get_engine()
    dead = carnet_batches.mark_interrupted(engine)  # a batch whose process died: not "en cours"
    frame = list_batches(engine, limit=args.limit)
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
        _table(
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
