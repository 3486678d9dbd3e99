"""Data of the imports page: an upload decoded to a file, and for the manager's review the
held readings and import batches, as shown.

The page holds layout and callbacks; this module reads and decides through `carnet`
(`carnet.quarantine`, `carnet.batches`), so that a decision taken on the page and one taken
with `carnet quarantine ...` / `carnet batches revert` go through the same checks and audit.
Everything returned here is already formatted in French (a few hundred table cells at most).
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from pathlib import Path, PurePath

import pandas as pd
from sqlalchemy import Engine, func, select

from carnet import batches, quarantine
from carnet.models import ImportBatch, QuarantinedReading
from dashboards.fmt import NBSP, fr_datetime, fr_number, fr_unit
from ingest import plausibility

REVIEW_LIMIT = 500  # held readings listed on the page (the CLI lists them all)
HISTORY_LIMIT = 50

# the batch status codes of `import_batch.status` as users read them (en cours, ok, partiel,
# échec, illisible, interrompu, annulé), and those of a batch that may hold readings
BATCH_STATUS_FR = batches.STATUS_FR
REVERTIBLE = frozenset(batches.REVERTIBLE)

DECISIONS = ("accept", "reject", "replace")

_BATCH_COLUMNS = (
    "id",
    "source",
    "format",
    "status",
    "user_login",
    "started_at",
    "finished_at",
    "rows_read",
    "rows_inserted",
    "rows_updated",
    "rows_unchanged",
    "rows_rejected",
    "rows_quarantined",
    "message",
    "reverted_at",
    "reverted_by",
    "revert_reason",
)


class ReviewInputError(ValueError):
    """A decision the page refuses before asking `carnet` (a missing motif, an unreadable
    index); the message is in French."""


# ---------------------------------------------------------------- quarantine


def held_count(engine: Engine) -> int:
    """How many readings wait for a decision (the badge at the top of the page)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(QuarantinedReading)
                .where(QuarantinedReading.status == "held")
            ).scalar_one()
        )


def _decimals(value: float) -> int:
    """As many decimals as the stored value has, up to 3 (an index of 1 280 is not 1,28)."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, min(3, -int(exponent))) if isinstance(exponent, int) else 0


def fr_value(value, unit: str | None) -> str:
    """`50008.5, "m3"` -> `50 008,5 m³`; missing -> `—`."""
    if value is None or pd.isna(value):
        return "—"
    label = fr_unit(unit)
    text = fr_number(value, _decimals(value))
    return f"{text}{NBSP}{label}" if label else text


def held_rows(engine: Engine, limit: int = REVIEW_LIMIT) -> list[dict]:
    """The held readings, newest first (as `carnet.quarantine.list_held`), as the review
    table shows them."""
    frame = quarantine.list_held(engine, status="held", limit=limit)
    rows = []
    for r in frame.itertuples(index=False):
        rows.append(
            {
                "id": int(r.id),
                "batch_id": None if pd.isna(r.batch_id) else int(r.batch_id),
                "point": r.channel_code,
                "building": r.building_code if isinstance(r.building_code, str) else "—",
                "date": fr_datetime(r.at),
                "value": fr_value(r.value, r.unit),
                "file": PurePath(str(r.file)).name if isinstance(r.file, str) else "—",
                "file_full": r.file if isinstance(r.file, str) else "",
                "line": "—" if pd.isna(r.line_no) else str(int(r.line_no)),
                "raw": r.raw if isinstance(r.raw, str) else "",
                "reason": r.reason,
            }
        )
    return rows


def held_row(engine: Engine, quarantine_id: int) -> dict | None:
    """One held reading of the review table (None once decided, or unknown)."""
    for row in held_rows(engine):
        if row["id"] == int(quarantine_id):
            return row
    return None


_INDEX_RE = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def parse_index(text, label: str) -> float:
    """A meter index typed by a person: `12 345,6` (decimal comma, spaces as thousands) or
    `12345.6`. Refused rather than guessed: `1.280` (1,28 or 1 280 ?) and `1.234,5`."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise ReviewInputError(f"indiquez {label}")
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", raw).replace("\u2212", "-")
    if "," in cleaned and "." in cleaned:
        raise ReviewInputError(
            f"{label} « {raw} » : écrivez le nombre sans point de milliers (ex. 12 345,6)"
        )
    if re.fullmatch(r"-?\d{1,3}\.\d{3}", cleaned):
        whole, frac = cleaned.split(".")
        as_decimal = fr_number(float(cleaned), _decimals(float(cleaned)))
        as_thousands = fr_number(int(whole + frac))
        raise ReviewInputError(
            f"{label} « {raw} » ambigu : {as_decimal} ou {as_thousands} ? "
            "Écrivez-le avec une virgule décimale (ex. 1 280 ou 1,28)"
        )
    if not _INDEX_RE.match(cleaned):
        raise ReviewInputError(f"{label} « {raw} » illisible (ex. 12 345,6)")
    return float(cleaned.replace(",", "."))


def _motif(why) -> str:
    text = (why or "").strip()
    if not text:
        raise ReviewInputError("indiquez le motif de la décision")
    return text


def check_decision(action: str, why, old_final=None, new_start=None) -> None:
    """What the page checks before asking for confirmation (the same as `decide`)."""
    if action not in DECISIONS:
        raise ReviewInputError("décision inconnue")
    _motif(why)
    if action == "replace":
        parse_index(old_final, "l'ancien index final")
        parse_index(new_start, "le nouvel index de départ")


def decide(
    engine: Engine,
    action: str,
    quarantine_id: int,
    *,
    actor: str,
    why,
    old_final=None,
    new_start=None,
) -> str:
    """Accept, reject or declare a meter replacement for one held reading; returns the French
    message of `carnet.quarantine`. Raises `ReviewInputError` (page checks) or
    `carnet.quarantine.QuarantineError` (the record refuses), both with a French message."""
    check_decision(action, why, old_final, new_start)
    motif = _motif(why)
    qid = int(quarantine_id)
    replace = action == "replace"
    messages = plausibility.decide(
        engine,
        action,
        qid,
        actor=actor,
        why=motif,
        old_final_value=parse_index(old_final, "l'ancien index final") if replace else None,
        new_start_value=parse_index(new_start, "le nouvel index de départ") if replace else None,
    )
    return " ".join(messages)


# ---------------------------------------------------------------- batches


def batch_history(
    engine: Engine, limit: int = HISTORY_LIMIT, user: str | None = None
) -> pd.DataFrame:
    """File batches, most recent first (a contractor's own only when `user` is given), with
    what was held and whether and why the batch was reverted."""
    batches.mark_interrupted(engine)  # a batch whose process died is not shown "en cours"
    columns = [getattr(ImportBatch, c) for c in _BATCH_COLUMNS]
    query = select(*columns).where(ImportBatch.origin == "csv")
    if user is not None:
        query = query.where(ImportBatch.user_login == user)
    query = query.order_by(ImportBatch.id.desc()).limit(int(limit))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(_BATCH_COLUMNS))
    # pandas turns the None of a text column that also holds strings into NaN, a truthy float
    text_columns = ["source", "format", "status", "user_login", "message", "reverted_by",
                    "revert_reason"]  # fmt: skip
    frame[text_columns] = (
        frame[text_columns].astype(object).where(frame[text_columns].notna(), None)
    )
    for col in ("started_at", "finished_at", "reverted_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
    return frame


def batch_status_fr(status: str | None) -> str:
    return batches.status_fr(status) or "—"


def batch_revertible(status: str | None) -> bool:
    return status in REVERTIBLE


def revert(engine: Engine, batch_id: int, *, actor: str, why) -> str:
    """Revert one batch through `carnet.batches.revert_batch`; returns its French message.
    Raises `ReviewInputError` (no motif) or `carnet.batches.BatchRevertRefused` (the reason:
    a closed period touched, a later batch built on it)."""
    return batches.revert_batch(engine, int(batch_id), actor=actor, why=_motif(why))


def batch_label(engine: Engine, batch_id: int) -> str | None:
    """`Lot n° 12 · releves.csv (partiel)`, or None for an unknown or non-file batch."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportBatch.id, ImportBatch.source, ImportBatch.status).where(
                ImportBatch.id == int(batch_id), ImportBatch.origin == "csv"
            )
        ).first()
    if row is None:
        return None
    return f"Lot n° {row.id} · {PurePath(str(row.source)).name} ({batch_status_fr(row.status)})"


def decoded_size(content) -> int:
    """Bytes of an upload (`data:...;base64,XXXX`) once decoded, without decoding it."""
    data = str(content or "").partition(",")[2].rstrip()
    return len(data) * 3 // 4 - data[-2:].count("=")


def write_base64(content: str, path: Path, step: int = 1 << 22) -> None:
    """Decode an upload straight to `path`, a slice at a time (no second copy in memory):
    the file then goes through the same bounded reader as `carnet import`."""
    head, sep, data = content.partition(",")
    if not sep or ";base64" not in head:
        raise ValueError("not a base64 data URL")
    with open(path, "wb") as out:
        for i in range(0, len(data), step):  # step is a multiple of 4: slices decode alone
            out.write(base64.b64decode(data[i : i + step], validate=False))


# ---------------------------------------------------------------- column mapping (issue 13)

# what a user may pick on the page, as `ingest.profiles.ColumnProfile` holds it
MAP_ROLES = ("channel", "timestamp", "value", "quality", "unit")
MAP_ROLE_LABELS_FR = {
    "channel": "Point de mesure",
    "timestamp": "Date et heure",
    "value": "Valeur",
    "quality": "Qualité (facultatif)",
    "unit": "Unité (facultatif)",
}
DATE_FORMATS = {  # strptime format -> how a reader sees it
    "": "Détection automatique",
    "%d/%m/%Y %H:%M": "31/01/2025 08:00",
    "%d/%m/%Y %H:%M:%S": "31/01/2025 08:00:00",
    "%d/%m/%y %H:%M": "31/01/25 08:00",
    "%Y-%m-%d %H:%M": "2025-01-31 08:00",
    "%Y-%m-%d %H:%M:%S": "2025-01-31 08:00:00",
    "%d.%m.%Y %H:%M": "31.01.2025 08:00",
}
PREVIEW_ROWS = 10
PAGE_PROFILE = "(page Imports)"  # the name of a mapping not saved yet


class MappingError(ValueError):
    """A mapping the page cannot use (a required column missing...); the message is French."""


def _routing(engine: Engine):
    from ingest.routing import Routing

    with engine.connect() as conn:
        return Routing(conn)


def found_columns(path: Path) -> list[str]:
    """The columns a file shows (its widest head row), as written; [] when unreadable."""
    from ingest.formats.generic import header_fields
    from ingest.sniff import UnreadableFile, sniff

    try:
        return header_fields(sniff(path))
    except (UnreadableFile, OSError, ValueError):
        return []


def needs_mapping(engine: Engine, path: Path, fmt: str | None) -> list[str] | None:
    """The columns to map when the file's format is not recognised (its header is nobody's:
    no known format, no saved profile) but it has columns to choose from; else None."""
    from ingest.format_detection import open_parser
    from ingest.sniff import UnreadableFile, sniff

    try:
        sn = sniff(path)
    except (UnreadableFile, OSError):
        return None
    try:
        open_parser(sn, _routing(engine), fmt or None)
        return None
    except (UnreadableFile, ValueError):
        columns = found_columns(path)
        return columns if len(columns) >= 2 else None


def mapping_profile(choice: dict, code: str = PAGE_PROFILE):
    """The page's choices as an `ingest.profiles.ColumnProfile`: the very object the CLI's
    `--profile` reads a file with (`MappingError` when a required column is missing)."""
    from ingest.profiles import ColumnProfile

    columns = {
        role: str(choice[role])
        for role in MAP_ROLES
        if isinstance(choice.get(role), str) and choice[role]
    }
    channel = (choice.get("default_channel") or "").strip() or None
    missing = [
        MAP_ROLE_LABELS_FR[r]
        for r in ("timestamp", "value") + (() if channel else ("channel",))
        if r not in columns
    ]
    if missing:
        raise MappingError(
            "choisissez la colonne : "
            + ", ".join(missing)
            + (
                ""
                if channel or "channel" in columns
                else " (ou un point de mesure pour tout le fichier)"
            )
        )
    if len(set(columns.values())) != len(columns):
        raise MappingError("une même colonne ne peut tenir deux rôles")
    date_format = choice.get("date_format") or None
    if date_format is not None and date_format not in DATE_FORMATS:
        raise MappingError("format de date inconnu")
    decimal = choice.get("decimal") if choice.get("decimal") in (",", ".") else None
    timezone = "utc" if choice.get("timezone") == "utc" else "local"
    return ColumnProfile(
        code=code,
        columns=columns,
        date_format=date_format,
        timezone=timezone,
        decimal=decimal,
        channel=None if "channel" in columns else channel,
    )


def preview(engine: Engine, path: Path, profile, rows: int = PREVIEW_ROWS, allowed=None) -> dict:
    """The first `rows` lines of the file as the import will read them with `profile`: the
    same sniffing, parser and chunk reader as `carnet import --profile` (no second parser),
    nothing written. {"readings": [{line, point, date, value}], "rejected": [{line, reason}],
    "notes": [...]}; `MappingError` when the file cannot be read so."""
    from ingest.format_detection import open_parser
    from ingest.sniff import UnreadableFile, iter_tables, sniff

    routing = _routing(engine)
    try:
        parser, sn = open_parser(sniff(path), routing, None, profile)
    except (UnreadableFile, OSError, ValueError) as exc:
        raise MappingError(str(exc)) from exc
    table = next(iter_tables(sn, parser.header_line, rows), None)
    if table is None:
        return {"readings": [], "rejected": [], "notes": ["aucune ligne après l'en-tête"]}
    parsed = parser.parse(table)
    readings_frame = parsed.readings
    outside = []
    if allowed is not None:  # a contractor: what the import will refuse, said here already
        mine = readings_frame["channel_id"].isin(list(allowed))
        outside = [
            {"line": int(n), "reason": "point de mesure hors de votre contrat"}
            for n in readings_frame.loc[~mine, "line_no"].head(rows)
        ]
        readings_frame = readings_frame[mine]
    codes = dict(zip(routing.channels["id"], routing.channels["code"], strict=True))
    units = dict(zip(routing.channels["id"], routing.channels["unit"], strict=True))
    readings = [
        {
            "line": int(r.line_no),
            "point": codes.get(int(r.channel_id), "?"),
            "date": fr_datetime(int(r.ts)),
            "value": fr_value(float(r.value), units.get(int(r.channel_id))),
        }
        for r in readings_frame.head(rows).itertuples(index=False)  # ten rows at most
    ]
    rejected = outside + [
        {"line": int(r.line_no), "reason": str(r.reason)}
        for r in parsed.rejects.head(rows).itertuples(index=False)
    ]
    return {"readings": readings, "rejected": rejected, "notes": list(parsed.notes)}


def save_profile(engine: Engine, code: str, profile, actor: str) -> str:
    """Store the mapping as the import profile `code` exactly as the portfolio file's
    `import_profiles:` does (`carnet.portfolio.load_portfolio`: the same validation, the same
    audit line); returns the French message. `MappingError` with the loader's problems."""
    from carnet.db import session_scope
    from carnet.portfolio import load_portfolio
    from carnet.portfolio_parse import PortfolioError

    name = (code or "").strip()
    if not name:
        raise MappingError("indiquez le nom du profil")
    doc = {"code": name, "columns": dict(profile.columns), "timezone": profile.timezone}
    for key in ("date_format", "decimal", "channel"):
        if getattr(profile, key):
            doc[key] = getattr(profile, key)
    try:
        with session_scope(engine) as s:
            load_portfolio(s, {"import_profiles": [doc]}, actor=actor, obligations=False)
    except PortfolioError as exc:
        raise MappingError("profil refusé : " + " ; ".join(exc.problems)) from exc
    return (
        f"Profil d'import « {name} » enregistré : les fichiers de même en-tête seront lus "
        "avec lui (page Imports et carnet import)."
    )


# ---------------------------------------------------------------- a file waiting for its mapping

PENDING_DIR = "imports-a-lire"  # under CARNET_HOME: uploads waiting for their columns
PENDING_KEEP_S = 24 * 3600  # an abandoned one is removed at the next upload after a day
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _pending_root(login: str) -> Path:
    """One folder per user: a token is only ever looked up among the user's own files."""
    import hashlib

    from carnet.config import carnet_home

    return carnet_home() / PENDING_DIR / hashlib.sha256(login.encode()).hexdigest()[:24]


def keep_pending(path: Path, login: str) -> str:
    """Keep an uploaded file on the server while its columns are chosen (the browser sends it
    once, not with every preview); returns its token. Day-old ones are swept first."""
    import secrets
    import shutil
    import time

    root = _pending_root(login)
    cutoff = time.time() - PENDING_KEEP_S
    if root.parent.is_dir():
        for user_dir in root.parent.iterdir():
            for old in user_dir.iterdir() if user_dir.is_dir() else []:
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
    token = secrets.token_urlsafe(24)
    target = root / token
    target.mkdir(parents=True)
    shutil.move(str(path), target / path.name)
    return token


def pending_file(token, login: str) -> Path:
    """The user's waiting file of `token`; `MappingError` when gone (or not the user's)."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise MappingError("déposez de nouveau le fichier")
    found = list((_pending_root(login) / token).glob("*"))
    if len(found) != 1 or not found[0].is_file():
        raise MappingError("déposez de nouveau le fichier (il n'est plus sur le serveur)")
    return found[0]


def drop_pending(token, login: str) -> None:
    import shutil

    if isinstance(token, str) and _TOKEN.match(token):
        shutil.rmtree(_pending_root(login) / token, ignore_errors=True)
