"""`carnet import PATH...` and `carnet batches`: files in, and what became of every row.

Exit status of `carnet import`: 0 when every value was imported, 1 when values were rejected
(or a strict file was refused), 2 when a file could not be read at all.
"""

from __future__ import annotations

import json
import sys

from carnet import db
from carnet_cli.main import CliError
from ingest.formats import FORMATS
from ingest.importer import BatchReport, batch_rejected, import_file, list_batches

SHOWN_REJECTS = 10


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="importe des fichiers de relevés (CSV, XLSX GRDF) ; un lot par fichier",
        description="Importe des fichiers (format détecté, --format pour l'imposer). "
        "Code de sortie : 0 tout importé, 1 lignes rejetées, 2 fichier illisible.",
    )
    p.add_argument("paths", nargs="*", metavar="FICHIER")
    p.add_argument("--format", choices=sorted(FORMATS), help="impose le format")
    p.add_argument("--strict", action="store_true", help="tout ou rien par fichier")
    p.add_argument("--user", help="identifiant enregistré dans le lot")
    p.add_argument("--json", action="store_true", help="rapport JSON (un objet par fichier)")
    p.add_argument(
        "--rejected", type=int, metavar="LOT", help="liste les lignes rejetées du lot LOT"
    )
    p.set_defaults(handler=_import)
    b = sub.add_parser("batches", help="historique des lots d'import et lignes rejetées")
    b.add_argument("--limit", type=int, default=30)
    b.add_argument("--json", action="store_true")
    b.add_argument("--rejected", type=int, metavar="LOT", help="lignes rejetées du lot LOT")
    b.set_defaults(handler=_batches)


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


def _import(args) -> int:
    if args.rejected is not None:
        return _show_rejected(args.rejected, args.json)
    if not args.paths:
        raise CliError("indiquez au moins un fichier (ou --rejected LOT)", 2)
    engine = db.get_engine()
    reports = []
    for path in args.paths:
        report = import_file(
            engine,
            path,
            fmt=args.format,
            strict=args.strict,
            user=args.user,
            progress=_progress(str(path)),
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
            r.status,
            f"{r.seconds:.1f} s".replace(".", ","),
        ]
        for r in reports
    ]
    return _table(HEADERS, rows)


def _table(headers: list[str], rows: list[list[str]], left=(0, 1, 8)) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i in left else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _details(r: BatchReport) -> None:
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
    frame = list_batches(engine, limit=args.limit)
    if args.json:
        frame = frame.copy()
        for col in ("started_at", "finished_at"):
            frame[col] = frame[col].astype(str)
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
            str(r.status),
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
