"""`carnet backup FICHIER` / `carnet restore FICHIER [--force]`: one file to lose nothing.

The work is in `carnet.backup` and `carnet.restore`; here only the arguments, the French
summary and the exit codes (0 done, 1 backup written but incomplete: attachment files missing
on disk, 2 refused or failed).
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from carnet.backup import BackupError, backup, fr_int, fr_size
from carnet.restore import restore
from carnet.timeutil import fr_date
from carnet_cli.main import CliError


def register(sub) -> None:
    p = sub.add_parser(
        "backup",
        help="sauvegarde en un fichier : base, pièces jointes, clé secrète, manifeste",
    )
    p.add_argument(
        "file",
        metavar="FICHIER",
        help="fichier à écrire (un répertoire : carnet-AAAAMMJJ-HHMM.carnet dedans)",
    )
    p.add_argument("--json", action="store_true", help="affiche le manifeste en JSON")
    p.set_defaults(handler=_backup)
    r = sub.add_parser("restore", help="restaure une sauvegarde dans CARNET_HOME et sa base")
    r.add_argument("file", metavar="FICHIER", help="sauvegarde écrite par carnet backup")
    r.add_argument(
        "--force",
        action="store_true",
        help="remplace une base et un répertoire non vides (leur contenu est perdu)",
    )
    r.add_argument("--json", action="store_true", help="résultat en JSON")
    r.set_defaults(handler=_restore)


def _backup(args) -> int:
    try:
        result = backup(args.file)
    except BackupError as exc:
        raise CliError(str(exc), exc.status) from exc
    m = result.manifest
    if args.json:
        print(json.dumps({"path": str(result.path), "size_bytes": result.size_bytes,
                          "warnings": result.warnings, "manifest": m},
                         ensure_ascii=False, indent=1))  # fmt: skip
    else:
        readings = m["counts"].get("reading", 0)
        print(
            f"sauvegarde écrite : {result.path} ({fr_size(result.size_bytes)})\n"
            f"  base {m['database_kind']} (schéma {m['schema_revision']}), "
            f"{fr_int(sum(m['counts'].values()))} lignes dont {fr_int(readings)} relevés ; "
            f"{fr_int(m['attachments'])} pièce(s) jointe(s) ; clé secrète : "
            f"{'oui' if m['secret_key'] else 'non (CARNET_SECRET_KEY ou pas encore créée)'}"
        )
    for warning in result.warnings:  # on stderr: cron mails it, JSON stays clean
        print(f"attention : {warning}", file=sys.stderr)
    return 1 if result.warnings else 0


def _restore(args) -> int:
    try:
        result = restore(args.file, force=args.force)
    except BackupError as exc:
        raise CliError(str(exc), exc.status) from exc
    m = result.manifest
    if args.json:
        print(json.dumps({"manifest": m, "counts": result.counts,
                          "revision_before": result.revision_before,
                          "revision_after": result.revision_after,
                          "attachments": result.attachments, "secret_key": result.secret_key},
                         ensure_ascii=False, indent=1))  # fmt: skip
        return 0
    created = dt.datetime.fromisoformat(m["created_at"])
    migrated = (
        f", schéma migré de {result.revision_before} à {result.revision_after}"
        if result.revision_before != result.revision_after
        else f", schéma {result.revision_after}"
    )
    print(
        f"sauvegarde du {fr_date(created)} ({m['host']}) restaurée : "
        f"{fr_int(sum(result.counts.values()))} lignes vérifiées contre le manifeste "
        f"dont {fr_int(result.counts.get('reading', 0))} relevés{migrated} ; "
        f"{fr_int(result.attachments)} pièce(s) jointe(s) ; clé secrète : "
        f"{'restaurée' if result.secret_key else 'absente de la sauvegarde'}"
    )
    return 0
