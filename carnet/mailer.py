"""Sending through a real SMTP server: `CARNET_SMTP_URL=smtp://user:pass@host:port`.

STARTTLS is used whenever the server offers it, and credentials are only given after it (or
to a server that offers AUTH in clear on a trusted network, e.g. a local relay). Without the
variable nothing is sent: notices wait in the outbox.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import unquote, urlsplit

SMTP_URL_ENV = "CARNET_SMTP_URL"
SMTP_FROM_ENV = "CARNET_SMTP_FROM"
SMTP_CA_FILE_ENV = "CARNET_SMTP_CA_FILE"  # a town's own authority, for its relay's certificate
DEFAULT_FROM = "carnet@localhost"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    implicit_tls: bool  # smtps://: TLS from the first byte
    sender: str
    ca_file: str | None = None  # else the system's authorities

    def describe(self) -> str:
        """Where mail goes, without the password (for logs and pages)."""
        who = f"{self.user}@" if self.user else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{who}{self.host}:{self.port}"


def smtp_settings(url: str | None = None) -> SmtpSettings | None:
    """The settings of `url` (default `CARNET_SMTP_URL`), None when none is set."""
    url = url if url is not None else os.environ.get(SMTP_URL_ENV, "")
    if not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{SMTP_URL_ENV} attendu sous la forme smtp://utilisateur:mot@hôte:port")
    implicit = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        sender=os.environ.get(SMTP_FROM_ENV) or DEFAULT_FROM,
        ca_file=os.environ.get(SMTP_CA_FILE_ENV) or None,
    )


def compose(
    sender: str, to: str, name: str, subject: str, text: str, html: str, message_id: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr(("Carnet", sender))
    msg["To"] = formataddr((name, to))
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


class Mailer:
    """One SMTP connection, opened on the first message and reopened after a failure."""

    def __init__(self, settings: SmtpSettings, timeout: float = 20.0):
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        if s.implicit_tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if not s.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user and smtp.has_extn("auth"):
                smtp.login(s.user, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(msg)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
