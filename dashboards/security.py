"""The web app's defences that are not about roles: where a sign-in may send the browser, how
fast passwords may be guessed, and the headers every response carries (CSP with a per-request
nonce for Dash's inline scripts, no framing, HSTS behind HTTPS).

Kept apart from `app.py` so that each rule reads on its own; `create_app` wires them in."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable

import flask

# ---------------------------------------------------------------- where a sign-in may go

_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")  # browsers drop tabs/newlines, read \ as /
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")
MAX_NEXT_LENGTH = 2000


def safe_next(target: str | None, refused_prefixes: tuple[str, ...] = ()) -> str:
    """`target` if it is a path of this site, else "/".

    A path starts with one "/" and has no scheme or host. It is checked as given and after each
    round of percent-decoding (`%2F%2F`, `%5C`, `%09`, double encoding), because a browser or
    a later redirect may decode it: no control character or backslash, no "//" anywhere, no
    "." or ".." segment. Sign-in and sign-out pages (`refused_prefixes`) go to "/" too."""
    if not isinstance(target, str) or not target or len(target) > MAX_NEXT_LENGTH:
        return "/"
    if not target.startswith("/") or target.startswith(refused_prefixes):
        return "/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    probe = target
    for _ in range(4):
        if _UNSAFE_CHARS.search(probe) or "//" in probe:
            return "/"
        if _DOT_SEGMENT.search(urllib.parse.urlsplit(probe).path):
            return "/"
        decoded = urllib.parse.unquote(probe)
        if decoded == probe:
            return target
        probe = decoded
    return "/"  # still encoded after four rounds: nobody writes that by hand


# ---------------------------------------------------------------- the sign-in limiter


class SignInLimiter:
    """Slows password guessing without locking the rightful user out.

    Failures are counted per login (one account tried from many addresses) and per client
    address (many accounts tried from one address). Past its free failures (`max_failures` for
    a login, `address_failures` for an address), a key waits `first_delay_s * 2**k` seconds
    after its last failure (k: failures past the free ones), capped at `login_cap_s` /
    `address_cap_s`. An attempt during the wait is refused with the seconds left, before any
    password check, and does not count. A key is forgotten `forget_s` after its last failure; a
    success forgets its login's failures. At most `max_keys` keys are kept (the oldest are
    dropped first): a flood of logins costs bounded memory."""

    def __init__(
        self,
        max_failures: int = 5,
        address_failures: int = 10,
        first_delay_s: float = 5.0,
        login_cap_s: float = 60.0,
        address_cap_s: float = 300.0,
        forget_s: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.address_failures = address_failures
        self.first_delay_s = first_delay_s
        self.login_cap_s = login_cap_s
        self.address_cap_s = address_cap_s
        self.forget_s = forget_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}  # key -> [count, last failure]
        self._lock = threading.Lock()

    def _rules(self, login: str, address: str):
        yield ("login", login.casefold()), self.max_failures, self.login_cap_s
        yield ("address", address), self.address_failures, self.address_cap_s

    def _wait(self, key, free: int, cap: float, now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        count, last = entry
        if now - last >= self.forget_s:
            del self._failures[key]
            return 0.0
        if count < free:
            return 0.0
        delay = min(cap, self.first_delay_s * 2 ** min(count - free, 30))
        return max(0.0, last + delay - now)

    def wait_s(self, login: str, address: str) -> float:
        """Seconds this attempt must still wait (0: it may be checked now)."""
        now = self.clock()
        with self._lock:
            return max(
                self._wait(key, free, cap, now) for key, free, cap in self._rules(login, address)
            )

    def retry_after_s(self, login: str, address: str) -> int:
        """`wait_s` rounded up to whole seconds, for the message and `Retry-After`."""
        return math.ceil(self.wait_s(login, address))

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key, _free, _cap in self._rules(login, address):
                entry = self._failures.pop(key, None)  # re-inserted last: dicts keep order
                count = 0 if entry is None or now - entry[1] >= self.forget_s else entry[0]
                self._failures[key] = [count + 1, now]
            if len(self._failures) > self.max_keys:
                self._prune(now)

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(("login", login.casefold()), None)

    def tracked(self) -> int:
        """How many logins and addresses are remembered."""
        return len(self._failures)

    def _prune(self, now: float) -> None:
        for key in [k for k, (_c, last) in self._failures.items() if now - last >= self.forget_s]:
            del self._failures[key]
        excess = len(self._failures) - int(self.max_keys * 0.9)
        if excess > 0:  # least recently failed first (insertion order = order of last failure)
            for key in list(self._failures)[:excess]:
                del self._failures[key]


# ---------------------------------------------------------------- response headers

NONCE_KEY = "carnet_csp_nonce"
# the printable QR sheet's "Imprimer" button (`onclick="window.print()"`): allowed by its hash
INLINE_HANDLERS = ("window.print()",)
HSTS = "max-age=31536000"  # one year, this host only (the town's other sites may not be HTTPS)


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def csp_nonce() -> str:
    """This request's nonce (made on first use): Dash's inline scripts carry it."""
    nonce = flask.g.get(NONCE_KEY)
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        setattr(flask.g, NONCE_KEY, nonce)
    return nonce


def content_security_policy(nonce: str) -> str:
    """Scripts: our origin and this response's nonce only (no inline script without it, no
    eval). Styles may be inline: Dash components and Plotly set them at run time."""
    handlers = " ".join(_sha256(h) for h in INLINE_HANDLERS)
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}' 'unsafe-hashes' {handlers}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


_SCRIPT_TAG = re.compile(r"<script\b(?![^>]*\bnonce=)")


def add_nonce(html: str, nonce: str) -> str:
    """Every `<script` tag of `html` (ours: Dash's index) with `nonce="..."`."""
    return _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', html)


def security_headers(secure: bool) -> Callable:
    """An `after_request` hook: CSP (a view's own, e.g. the sandboxed attachments, is kept),
    no framing, no MIME sniffing, no referrer to other sites, HSTS when served over HTTPS."""

    def add_headers(response: flask.Response) -> flask.Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return add_headers
