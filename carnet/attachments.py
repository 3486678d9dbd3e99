"""Photos and PDF attached to logbook entries, kept under CARNET_HOME.

The type is decided by the content (magic bytes), never by the file name, and the size is
capped, because uploads come from phones and from the open internet of a town's staff.
Files are content-addressed (`attachments/<building>/<sha256>.<ext>`): the same photo sent twice
is stored once. Reading one goes through `open_attachment`, which checks that the user may see
the building's logbook.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.access import ActorLike, CarnetPermissionError, can_view_logbook
from carnet.audit import record
from carnet.config import attachments_dir, carnet_home
from carnet.models import Attachment, Building, LogbookEntry
from carnet.roles import can, is_contractor, is_manager

MAX_BYTES = 10 * 1024 * 1024
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
ACCEPTED_FR = "photo (JPEG, PNG, WebP, HEIC) ou PDF"


class AttachmentError(ValueError):
    """Refused upload (too big, wrong type), with a French message for the user."""


@dataclass(frozen=True)
class FileType:
    ext: str
    content_type: str


def sniff(head: bytes) -> FileType:
    """The file type from its first bytes; raises AttachmentError for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("jpg", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("png", "image/png")
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("webp", "image/webp")
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return FileType("heic", "image/heic")
    if head[:1024].lstrip(b"\x00\t\r\n ").startswith(b"%PDF-"):
        return FileType("pdf", "application/pdf")
    raise AttachmentError(f"type de fichier refusé : seuls {ACCEPTED_FR} sont acceptés")


def _read_capped(data: bytes | BinaryIO, max_bytes: int) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        blob = bytes(data)
    else:
        blob = data.read(max_bytes + 1)
    if len(blob) > max_bytes:
        raise AttachmentError(
            f"fichier trop volumineux : {max_bytes // (1024 * 1024)} Mo au maximum"
        )
    if not blob:
        raise AttachmentError("fichier vide")
    return blob


def _safe_dir_name(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", code).strip(".") or "_"


def may_attach(session: Session, actor: ActorLike, entry: LogbookEntry) -> bool:
    """The manager; a contractor on its buildings; anyone on an entry they wrote themselves
    (an agent's photo on its own observation)."""
    if not can_view_logbook(session, actor, entry.building_id):
        return False
    if is_manager(actor.role):
        return True
    if is_contractor(actor.role):
        return can(actor.role, "carnet.intervention")
    return entry.author_login == actor.login


def add_attachment(
    session: Session,
    actor: ActorLike,
    entry: LogbookEntry | int,
    filename: str,
    data: bytes | BinaryIO,
    max_bytes: int = MAX_BYTES,
) -> Attachment:
    if isinstance(entry, int):
        found = session.get(LogbookEntry, entry)
        if found is None:
            raise LookupError(f"entrée {entry} inconnue")
        entry = found
    if not may_attach(session, actor, entry):
        raise CarnetPermissionError(
            f"accès refusé : {actor.login} ne peut pas joindre de fichier à l'entrée {entry.id}"
        )
    blob = _read_capped(data, max_bytes)
    kind = sniff(blob[:1024])
    digest = hashlib.sha256(blob).hexdigest()
    building = session.get(Building, entry.building_id)
    folder = attachments_dir() / _safe_dir_name(building.code)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}.{kind.ext}"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, target)
    clean_name = Path(filename or f"fichier.{kind.ext}").name[:300] or f"fichier.{kind.ext}"
    att = Attachment(
        entry_id=entry.id,
        filename=clean_name,
        content_type=kind.content_type,
        size_bytes=len(blob),
        sha256=digest,
        path=str(target.relative_to(carnet_home())),
        uploaded_by=actor.login,
    )
    session.add(att)
    session.flush()
    record(
        session,
        actor.login,
        "create",
        "attachment",
        att.id,
        None,
        {"entry_id": entry.id, "filename": clean_name, "sha256": digest, "size": len(blob)},
    )
    return att


def open_attachment(
    session: Session, actor: ActorLike, attachment_id: int
) -> tuple[Path, Attachment]:
    """The file on disk and its row, for a user allowed to see that building's logbook.

    Raises LookupError (404) or CarnetPermissionError (403)."""
    att = session.get(Attachment, attachment_id)
    if att is None:
        raise LookupError(f"pièce jointe {attachment_id} inconnue")
    entry = session.get(LogbookEntry, att.entry_id)
    if not can_view_logbook(session, actor, entry.building_id):
        raise CarnetPermissionError("accès refusé à cette pièce jointe")
    path = (carnet_home() / att.path).resolve()
    if not path.is_relative_to(attachments_dir().resolve()) or not path.exists():
        raise LookupError(f"fichier de la pièce jointe {attachment_id} introuvable")
    return path, att


def entry_attachments(session: Session, entry_ids: list[int]) -> dict[int, list[dict]]:
    """Attachments per entry, as plain data for a page."""
    if not entry_ids:
        return {}
    out: dict[int, list[dict]] = {}
    rows = session.scalars(
        select(Attachment).where(Attachment.entry_id.in_(entry_ids)).order_by(Attachment.id)
    )
    for att in rows:
        out.setdefault(att.entry_id, []).append(
            {
                "id": att.id,
                "filename": att.filename,
                "content_type": att.content_type,
                "size_bytes": att.size_bytes,
                "is_image": att.content_type.startswith("image/"),
            }
        )
    return out
