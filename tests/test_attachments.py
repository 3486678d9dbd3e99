"""Attachments: type by content, size limit, content-addressed storage, access by role."""

from __future__ import annotations

import hashlib
import io

import pytest

from carnet.access import CarnetPermissionError
from carnet.attachments import MAX_BYTES, AttachmentError, add_attachment, open_attachment, sniff
from carnet.config import carnet_home
from carnet.db import session_scope
from carnet.logbook import add_entry
from tests.helpers.carnet_town import make_town

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 16
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.mark.parametrize(
    ("blob", "ext", "ctype"),
    [
        (JPEG, "jpg", "image/jpeg"),
        (PNG, "png", "image/png"),
        (WEBP, "webp", "image/webp"),
        (HEIC, "heic", "image/heic"),
        (PDF, "pdf", "application/pdf"),
    ],
)
def test_sniff_accepts_photos_and_pdf(blob, ext, ctype):
    kind = sniff(blob)
    assert (kind.ext, kind.content_type) == (ext, ctype)


@pytest.mark.parametrize(
    "blob",
    [
        b"<html><script>alert(1)</script></html>",
        b"GIF89a" + b"\x00" * 20,
        b"PK\x03\x04" + b"\x00" * 20,  # zip / docx
        b"MZ\x90\x00",  # Windows executable
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"",
    ],
)
def test_sniff_refuses_other_content(blob):
    with pytest.raises(AttachmentError):
        sniff(blob)


def _entry(session, town, login="exploitant"):
    return add_entry(session, town["users"][login], "MAIRIE", "corrective", "Réparation")


def test_type_is_decided_by_content_not_by_name(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        entry = _entry(s, town)
        contractor = town["users"]["exploitant"]
        with pytest.raises(AttachmentError, match="type de fichier refusé"):
            add_attachment(s, contractor, entry, "photo.jpg", b"#!/bin/sh\nrm -rf /\n")
        att = add_attachment(s, contractor, entry, "rapport.jpg", PDF)  # a PDF named .jpg
        assert att.content_type == "application/pdf"
        digest = hashlib.sha256(PDF).hexdigest()
        assert att.path == f"attachments/MAIRIE/{digest}.pdf"
        assert (carnet_home() / att.path).read_bytes() == PDF
        assert att.size_bytes == len(PDF) and att.sha256 == digest
        assert att.filename == "rapport.jpg" and att.uploaded_by == "exploitant"
        # a path in the name is dropped; the same content is stored once
        again = add_attachment(s, contractor, entry, "../../etc/passwd.pdf", io.BytesIO(PDF))
        assert again.filename == "passwd.pdf" and again.path == att.path
        assert len(list((carnet_home() / "attachments" / "MAIRIE").iterdir())) == 1


def test_size_limit(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        entry = _entry(s, town)
        contractor = town["users"]["exploitant"]
        too_big = JPEG + b"\x00" * (MAX_BYTES - len(JPEG) + 1)
        assert len(too_big) == MAX_BYTES + 1
        with pytest.raises(AttachmentError, match="trop volumineux"):
            add_attachment(s, contractor, entry, "big.jpg", too_big)
        with pytest.raises(AttachmentError, match="trop volumineux"):
            add_attachment(s, contractor, entry, "big.jpg", io.BytesIO(too_big))
        just = too_big[:-1]
        assert add_attachment(s, contractor, entry, "ok.jpg", just).size_bytes == MAX_BYTES
        with pytest.raises(AttachmentError, match="vide"):
            add_attachment(s, contractor, entry, "empty.jpg", b"")


def test_who_may_attach_and_read(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        obs = add_entry(s, u["agent"], "MAIRIE", "observation", "Tache d'humidité")
        photo = add_attachment(s, u["agent"], obs, "tache.png", PNG)  # its own observation
        work = _entry(s, town)
        with pytest.raises(CarnetPermissionError):
            add_attachment(s, u["agent"], work, "x.png", PNG)  # not its entry
        with pytest.raises(CarnetPermissionError):
            add_attachment(s, u["exploitant2"], work, "x.png", PNG)  # other contract
        with pytest.raises(CarnetPermissionError):
            add_attachment(s, u["finances"], work, "x.png", PNG)
        add_attachment(s, u["gestionnaire"], work, "facture.pdf", PDF)

        for login in ("gestionnaire", "exploitant", "agent"):
            path, att = open_attachment(s, u[login], photo.id)
            assert path.read_bytes() == PNG and att.content_type == "image/png"
        for login in ("exploitant2", "finances", "programmation"):
            with pytest.raises(CarnetPermissionError):
                open_attachment(s, u[login], photo.id)
        with pytest.raises(LookupError):
            open_attachment(s, u["gestionnaire"], 999_999)
