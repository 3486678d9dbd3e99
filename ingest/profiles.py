"""The town's saved import profiles (portfolio `import_profiles:`, table `import_profile`): how
to read a long file whose columns, dates or decimal mark are its own.

A profile is chosen by name (`carnet import --profile NOM`) or found by the file's header: the
first profile (by name) all of whose named columns appear in one head row. Its columns are
matched as `--columns` ones are (`ingest.sniff.norm`: case, accents and bracketed units do not
matter)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest.routing import Routing
from ingest.sniff import Sniffed, norm


@dataclass(frozen=True)
class ColumnProfile:
    code: str
    columns: dict[str, str]  # role -> header label (`ingest.formats.generic.ROLES`)
    date_format: str | None = None  # strptime; None: the usual formats
    timezone: str = "local"  # local (Europe/Paris) or utc
    decimal: str | None = None  # "," or "."; None: the file's, as detected
    channel: str | None = None  # channel code of a file without a channel column


def _text(value) -> str | None:
    """A text cell of the table (pandas gives NaN for NULL)."""
    return value if isinstance(value, str) and value else None


def _profile(row) -> ColumnProfile:
    columns = row.columns if isinstance(row.columns, dict) else json.loads(row.columns)
    return ColumnProfile(
        code=str(row.code),
        columns={str(k): str(v) for k, v in columns.items()},
        date_format=_text(row.date_format),
        timezone="utc" if str(row.timezone).lower() == "utc" else "local",
        decimal=_text(row.decimal),
        channel=_text(row.channel),
    )


def profiles(routing: Routing) -> list[ColumnProfile]:
    return [_profile(row) for row in routing.profiles.itertuples(index=False)]


def named(routing: Routing, code: str) -> ColumnProfile:
    """The profile called `code`; ValueError (in French) naming the known ones otherwise."""
    for profile in profiles(routing):
        if profile.code.casefold() == str(code).strip().casefold():
            return profile
    known = ", ".join(p.code for p in profiles(routing)) or "aucun"
    raise ValueError(
        f"profil d'import « {code} » inconnu (profils déclarés dans import_profiles: : {known})"
    )


def matching(sn: Sniffed, routing: Routing) -> ColumnProfile | None:
    """The first profile whose every named column is in one of the file's head rows."""
    for profile in profiles(routing):
        wanted = {norm(label) for label in profile.columns.values()}
        if any(wanted <= set(labels) for labels in sn.head_labels()):
            return profile
    return None


def detect(sn: Sniffed, routing: Routing) -> bool:
    return len(routing.profiles) > 0 and matching(sn, routing) is not None
