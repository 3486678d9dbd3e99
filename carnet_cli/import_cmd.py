"""`carnet import PATH...`: files in, and what became of every row (a batch per file: `carnet batches`).

Exit status of `carnet import`: 0 when every value was imported, 1 when values were rejected
or held (or a strict file was refused), 2 when a file could not be read at all, 3 when the
same file (same SHA-256) is being imported by another live process (nothing done: try again
once it has finished). Stopped by SIGTERM, an import writes nothing, marks its batch
`interrompu` and exits 143 (130 for Ctrl-C).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import contextmanager

from carnet import batches as carnet_batches
from carnet import db
from carnet_cli.main import CliError
from carnet_cli.text_table import table
from ingest import profiles
from ingest.batch_report import BatchReport
from ingest.formats import FORMATS
from ingest.formats.generic import parse_columns
from ingest.importer import import_file
from ingest.routing import Routing

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
    p.add_argument(
        "--profile",
        metavar="NOM",
        help="lit les fichiers avec le profil d'import NOM (import_profiles: du fichier de "
        "patrimoine : colonnes, format de date, fuseau, virgule décimale, point par défaut) ; "
        "sans cette option, un profil dont les colonnes sont dans l'en-tête est choisi",
    )
    p.add_argument("--user", help="identifiant enregistré dans le lot")
    p.add_argument("--json", action="store_true", help="rapport JSON (un objet par fichier)")
    p.add_argument(
        "--rejected", type=int, metavar="LOT", help="liste les lignes rejetées du lot LOT"
    )
    p.set_defaults(handler=_import)


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
    if args.rejected is not None:  # the same as `carnet batches --rejected LOT`
        from carnet_cli.batches_cmd import show_rejected

        return show_rejected(args.rejected, args.json)
    if not args.paths:
        raise CliError("indiquez au moins un fichier (ou --rejected LOT)", 2)
    if args.profile is not None and (
        args.columns is not None or args.format not in (None, "profile")
    ):
        raise CliError("--profile ne se combine ni avec --columns ni avec --format", 2)
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
    if args.profile is not None:
        with engine.connect() as conn:
            try:
                columns = profiles.named(Routing(conn), args.profile)
            except ValueError as exc:
                raise CliError(str(exc), 2) from exc
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
    return table(HEADERS, rows, left=(0, 1, 9))


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
