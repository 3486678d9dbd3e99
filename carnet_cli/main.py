"""Entry point of the `carnet` console script.

Each command group lives in its own module exposing `register(subparsers)`; a command's
handler returns the process exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command modules, in the order `carnet --help` lists them
COMMAND_MODULES = [
    "carnet_cli.db_cmd",
    "carnet_cli.booking_cmd",
    "carnet_cli.portfolio_cmd",
    "carnet_cli.import_cmd",
    "carnet_cli.quarantine_cmd",
    "carnet_cli.readings_cmd",
    "carnet_cli.user_cmd",
    "carnet_cli.serve_cmd",
    "carnet_cli.log_cmd",
    "carnet_cli.poll_cmd",
    "carnet_cli.contract_cmd",
    "carnet_cli.finance_cmd",
    "carnet_cli.demo_cmd",
    "carnet_cli.backup_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carnet",
        description="Carnet : carnet de santé des bâtiments et suivi du contrat de chauffage.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
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
