"""Entry point of the `carnet` console script.

Each command group lives in its own module exposing `register(subparsers)`; a command's
handler returns the process exit status.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

# command -> (module that registers it, its one-line help), in the order `carnet --help` lists
# them. `carnet --help` is written from this table alone; `carnet CMD ...` imports only CMD's module,
# whose `register(subparsers)` adds exactly the names listed here for it (tests/test_cli_startup.py).
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("carnet_cli.db_cmd", "base de données : migrations"),
    "booking": ("carnet_cli.booking_cmd", "réservations de salles et notes de chauffage"),
    "ical": ("carnet_cli.booking_cmd", "flux iCal du planning de chauffage"),
    "comfort": ("carnet_cli.booking_cmd", "confort délivré pendant les réservations, par mois"),
    "portfolio": (
        "carnet_cli.portfolio_cmd",
        "fichier de patrimoine : bâtiments, points, contrats",
    ),
    "import": (
        "carnet_cli.import_cmd",
        "importe des fichiers de relevés (CSV, XLSX GRDF) ; un lot par fichier",
    ),
    "batches": (
        "carnet_cli.batches_cmd",
        "historique des lots d'import et lignes rejetées ; annulation d'un lot",
    ),
    "quarantine": ("carnet_cli.quarantine_cmd", "relevés en quarantaine : liste et décisions"),
    "meter": ("carnet_cli.quarantine_cmd", "compteurs : déclarer un changement de compteur"),
    "readings": (
        "carnet_cli.readings_cmd",
        "relevés d'un point de mesure, ou ses chiffres par jour / mois (heure de Paris)",
    ),
    "user": ("carnet_cli.user_cmd", "utilisateurs et rôles"),
    "notify": ("carnet_cli.notify_cmd", "avis par e-mail : détection, envoi, file d'envoi"),
    "serve": ("carnet_cli.serve_cmd", "sert les tableaux de bord (waitress)"),
    "log": (
        "carnet_cli.log_cmd",
        "carnet de santé : journal des interventions et observations",
    ),
    "obligations": ("carnet_cli.log_cmd", "obligations réglementaires (échéances, retards)"),
    "work": ("carnet_cli.work_cmd", "ordres de travail des bâtiments d'un contrat"),
    "rex": ("carnet_cli.rex_cmd", "retours d'expérience sur les incidents"),
    "works": ("carnet_cli.works_cmd", "programme de travaux et économies mesurées"),
    "display": ("carnet_cli.display_cmd", "écrans des usagers d'un bâtiment (/affichage)"),
    "poll": ("carnet_cli.poll_cmd", "relève Modbus des chaudières et compteurs"),
    "modbus": ("carnet_cli.poll_cmd", "diagnostic Modbus"),
    "settle": (
        "carnet_cli.contract_cmd",
        "décompte de l'intéressement d'un contrat (saison ou mois)",
    ),
    "baseline": ("carnet_cli.contract_cmd", "modèle de référence IPMVP (option C) et économies"),
    "adjust": (
        "carnet_cli.contract_cmd",
        "ajustement non périodique de la référence d'un bâtiment",
    ),
    "adjustments": ("carnet_cli.contract_cmd", "liste les ajustements d'un contrat"),
    "export": ("carnet_cli.finance_cmd", "exports pour les autres services"),
    "report": ("carnet_cli.report_cmd", "rapport mensuel du groupe de travail (PDF)"),
    "demo": (
        "carnet_cli.demo_cmd",
        "construit la commune de démonstration si la base est vide, puis la sert",
    ),
    "backup": (
        "carnet_cli.backup_cmd",
        "sauvegarde en un fichier : base, pièces jointes, clé secrète, manifeste",
    ),
    "restore": ("carnet_cli.backup_cmd", "restaure une sauvegarde dans CARNET_HOME et sa base"),
}

# command modules, in the order `carnet --help` lists their commands
COMMAND_MODULES = list(dict.fromkeys(module for module, _help in COMMANDS.values()))


def _command_named(argv: list[str]) -> str | None:
    """The command `argv` asks for: its first argument that is not an option (`carnet` itself
    takes no option but -h)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `carnet` parser. With `argv`, only the module of the command it names is imported
    (the other commands are listed from `COMMANDS`, with their help); without, every module is."""
    parser = argparse.ArgumentParser(
        prog="carnet",
        description="Carnet : carnet de santé des bâtiments et suivi du contrat de chauffage.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")
    if argv is None:
        wanted = set(COMMAND_MODULES)
    else:
        command = _command_named(argv)
        wanted = {COMMANDS[command][0]} if command in COMMANDS else set()
    registered: set[str] = set()
    for name, (module, help_) in COMMANDS.items():
        if module not in wanted:
            sub.add_parser(name, help=help_)
        elif module not in registered:
            # a module's commands are consecutive in the table: it adds them all here, in order
            importlib.import_module(module).register(sub)
            registered.add(module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `carnet ARGV` (`sys.argv` when None, the process's own command line)."""
    process = argv is None
    if process:
        argv = sys.argv[1:]
        # The command's module and what it imports (pandas, SQLAlchemy, the models) are there to
        # stay: the collector would only walk them again and again while they load, and once
        # more at exit. Frozen, they are out of its way; what the command allocates next is
        # collected as usual. Not when called with an argv (tests): frozen garbage would add up.
        gc.disable()
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
    finally:
        if process:
            gc.freeze()
            gc.enable()
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `carnet ... | head`: the reader has gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except CliError as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return exc.status


class CliError(Exception):
    """A user-facing error: printed without a traceback, with an exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


if __name__ == "__main__":
    sys.exit(main())
