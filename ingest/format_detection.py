"""Which format a sniffed file is in, and its parser: the header decides, over every separator."""

from __future__ import annotations

import dataclasses

from ingest.formats import EXPECTED, FORMAT_LABELS_FR, FORMATS, generic
from ingest.formats.base import FormatParser
from ingest.profiles import ColumnProfile
from ingest.routing import Routing
from ingest.sniff import (
    SEPARATORS,
    Sniffed,
    UnreadableFile,
    detect_decimal,
)


def _separators(sn: Sniffed) -> list[Sniffed]:
    """The sniffed file, then the same with each other separator: the header decides when the
    data lines are ambiguous (a French file's decimal commas, a few corrupt lines)."""
    if sn.is_xlsx:
        return [sn]
    others = [s for s in SEPARATORS if s != sn.sep]
    return [sn] + [
        dataclasses.replace(sn, sep=s, decimal=detect_decimal(sn.head, s)) for s in others
    ]


FORMAT_HINT = " (ou --format pour imposer un format)"
# the import page has no command line: what its user does instead of each option
PAGE_HINTS = {
    FORMAT_HINT: " (ou choisissez le format dans la liste « Format »)",
    generic.COLUMNS_HINT: "nommez-les ainsi dans la première ligne du fichier",
}


def for_the_page(message: str | None) -> str | None:
    """A report's message for the import page: the command line's options put in words, the
    formats by their names (« GRDF, relevés quotidiens : date, volume… »)."""
    if not message:
        return message
    for cli, page in PAGE_HINTS.items():
        message = message.replace(cli, page)
    for name, label in FORMAT_LABELS_FR.items():
        message = message.replace(f"{name} : ", f"{label} : ").replace(
            f"format {name}", f"format « {label} »"
        )
    return message


def detect_format(sn: Sniffed, routing: Routing) -> tuple[str, Sniffed]:
    for candidate in _separators(sn):
        for name, (detect, _factory) in FORMATS.items():
            if detect(candidate, routing):
                return name, candidate
    expected = " ; ".join(f"{name} : {what}" for name, what in EXPECTED.items())
    raise UnreadableFile(
        f"{sn.path.name} : format non reconnu ; colonnes trouvées : "
        f"{generic.found_text(generic.header_fields(sn))} ; attendues pour {expected} ; "
        f"{generic.COLUMNS_HINT}{FORMAT_HINT}"
    )


def open_parser(
    sn: Sniffed, routing: Routing, fmt: str | None, columns=None
) -> tuple[FormatParser, Sniffed]:
    """The parser of the file (format detected unless `fmt`); `columns` (a `--columns` text
    or a role -> label dict) names the columns of a generic-long file, a `ColumnProfile`
    (`carnet import --profile`) says how to read it all."""
    if isinstance(columns, ColumnProfile):
        if fmt not in (None, "profile"):
            raise UnreadableFile(f"--profile ne s'applique pas au format {fmt}")
        fmt = "profile"
    elif columns is not None:
        if fmt not in (None, "generic-long"):
            raise UnreadableFile(f"--columns ne s'applique qu'au format generic-long (pas à {fmt})")
        fmt = "generic-long"
    if fmt is None:
        fmt, sn = detect_format(sn, routing)
    if fmt not in FORMATS:
        raise UnreadableFile(f"format inconnu « {fmt} » (formats : {', '.join(FORMATS)})")
    error = None
    for candidate in _separators(sn):
        try:
            factory = FORMATS[fmt][1]
            if columns is not None:
                parser = factory(candidate, routing, columns=columns)
            else:
                parser = factory(candidate, routing)
        except ValueError as exc:
            error = error or exc
            continue
        parser.name = fmt
        return parser, candidate
    raise UnreadableFile(f"{sn.path.name} n'est pas au format {fmt} : {error}")
