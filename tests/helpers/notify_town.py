"""A town for the notification tests: the small town of `tests/seed.py` (MAIRIE in
TEST-CONTRAT) plus a second contract on ECOLE-PASTEUR, a bookable room in each, and a user per
role with an e-mail, two contractors among them (one per contract). And a real SMTP server on
loopback (aiosmtpd) that can refuse mail or go away."""

from __future__ import annotations

import email
import subprocess
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from carnet import roles
from carnet.db import session_scope
from carnet.models import User
from carnet.portfolio import load_portfolio
from carnet.users import set_user
from carnet_cli.ports import free_port
from tests.helpers.seed import seed_town

EXTRA = {
    "buildings": [
        {
            "code": "MAIRIE",
            "name": "Hôtel de ville",
            "rooms": [{"code": "MAIRIE-CONSEIL", "name": "Salle du conseil", "bookable": True}],
        },
        {
            "code": "ECOLE-PASTEUR",
            "name": "École Pasteur",
            "rooms": [{"code": "PASTEUR-PREAU", "name": "Préau", "bookable": True}],
        },
    ],
    "contracts": [
        {
            "code": "AUTRE-CONTRAT",
            "contractor": "Chauffe Artois",
            "starts_on": "2024-07-01",
            "price_eur_per_mwh_pci": 88.4,
            "buildings": [
                {
                    "building": "ECOLE-PASTEUR",
                    "channel": "PASTEUR-GAZ",
                    "nb_mwh_pci": 200,
                    "dju_ref": 2450,
                }
            ],
        }
    ],
}

# login -> (role, contract, e-mail)
PEOPLE = {
    "gestionnaire": (roles.MANAGER, None, "gestion@ville.test"),
    "exploitant": (roles.CONTRACTOR, "TEST-CONTRAT", "exploitant@thermique.test"),
    "autre-exploitant": (roles.CONTRACTOR, "AUTRE-CONTRAT", "contact@artois.test"),
    "finances": (roles.FINANCE, None, "finances@ville.test"),
    "programmation": (roles.PROGRAMMER, None, "culture@ville.test"),
    "agent": (roles.AGENT, None, "agent@ville.test"),
}
EMAIL_OF = {login: mail for login, (_r, _c, mail) in PEOPLE.items()}


def seed_notify_town(engine: Engine) -> dict[str, int]:
    """The town and its people; login -> user id."""
    seed_town(engine)
    with session_scope(engine) as s:
        load_portfolio(s, EXTRA, actor="test")
    with session_scope(engine) as s:
        for login, (role, contract, mail) in PEOPLE.items():
            set_user(s, login, role, contract_code=contract, email=mail, actor="test")
        return dict(s.execute(select(User.login, User.id)).all())


@dataclass
class Sink:
    """The aiosmtpd handler: keeps what it accepted; refuses with 451 while `refusing`."""

    messages: list[Message] = field(default_factory=list)
    refusing: bool = False
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 Service temporairement indisponible, réessayez plus tard"
        with self.lock:
            msg = email.message_from_bytes(envelope.content, policy=policy.default)
            msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(msg)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]


class SmtpServer:
    """A real SMTP server on a loopback port, that can be stopped and started again there."""

    def __init__(self, **smtp_options):
        self.sink = Sink()
        self.port = free_port()
        self.controller: Controller | None = None
        self.options = smtp_options  # aiosmtpd.smtp.SMTP's: tls_context, authenticator...

    @property
    def url(self) -> str:
        return f"smtp://carnet:secret@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def text_of(msg: Message) -> str:
    """The plain-text part, decoded."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return part.get_content()
    raise AssertionError("no text/plain part")


def html_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part.get_content()
    raise AssertionError("no text/html part")


def self_signed_certificate(directory) -> tuple[str, str]:
    """(certificate, key) for 127.0.0.1, made by the openssl command."""
    cert, key = str(directory / "smtp-cert.pem"), str(directory / "smtp-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
