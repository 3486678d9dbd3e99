"""The outbox: every notice is written here before anything is sent, and leaves only as sent.

Once: a notice's `dedup_key` (the event's key and the user) is unique, inserted with "on
conflict do nothing", so a second detection of the same fact adds nothing. Sent once: a run
claims due rows with one conditional UPDATE (state pending/failed -> sending, with its own
token) in a transaction of its own, so two overlapping runs never hold the same row; it then
sends and marks them sent. Nothing lost: a failed attempt keeps the row, with its error, for a
later attempt after an exponential backoff; a claim whose process died is taken back after
`LEASE`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from carnet.db import session_scope
from carnet.models import Notice, User
from carnet.notifications import Addressed, absolute
from carnet.timeutil import TZ

STATES = ("pending", "sending", "sent", "failed")
STATE_LABELS_FR = {
    "pending": "en attente",
    "sending": "en cours d'envoi",
    "sent": "envoyé",
    "failed": "échec, nouvel essai prévu",
}
BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
LEASE = dt.timedelta(minutes=30)  # a claim older than this belongs to a dead run


def backoff(attempts: int) -> dt.timedelta:
    """Wait before attempt `attempts + 1`: 1, 2, 4 ... minutes, at most 6 h."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(Notice)


def enqueue(session: Session, addressed: Iterable[Addressed], now: dt.datetime) -> int:
    """Write the notices not written yet; the number written."""
    rows = [
        {
            "dedup_key": a.dedup_key,
            "user_id": a.user.id,
            "kind": a.event.kind,
            "mode": a.mode,
            "subject": a.event.subject[:300],
            "body_text": a.body_text,
            "body_html": a.body_html,
            "link": a.event.path,
            "created_at": now,
            "due_at": a.due_at,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": a.due_at,
        }
        for a in addressed
    ]
    if not rows:
        return 0
    keys = [r["dedup_key"] for r in rows]
    before = set(session.scalars(select(Notice.dedup_key).where(Notice.dedup_key.in_(keys))))
    fresh = [r for r in rows if r["dedup_key"] not in before]
    if not fresh:
        return 0
    stmt = _insert(session).on_conflict_do_nothing(index_elements=["dedup_key"])
    result = session.connection().execute(stmt, fresh)
    count = result.rowcount
    return count if count is not None and count >= 0 else len(fresh)


@dataclass(frozen=True)
class Mail:
    """One e-mail to send: a notice, or a user's digest of several."""

    notice_ids: tuple[int, ...]
    to: str
    name: str
    subject: str
    body_text: str
    body_html: str
    message_id: str


def claim(engine: Engine, now: dt.datetime, limit: int = 200) -> tuple[str, list[Mail]]:
    """Take the due notices for this run (committed before anything is sent)."""
    token = secrets.token_hex(16)
    claimable = or_(
        Notice.state.in_(("pending", "failed")) & (Notice.next_attempt_at <= now),
        (Notice.state == "sending") & (Notice.claimed_at <= now - LEASE),
    )
    with session_scope(engine) as s:
        # one statement, a write from the start: a concurrent run waits for this one's
        # commit and then finds these rows no longer claimable (the WHERE is checked again)
        due = select(Notice.id).where(claimable).order_by(Notice.next_attempt_at, Notice.id)
        s.execute(
            update(Notice)
            .where(Notice.id.in_(due.limit(limit).scalar_subquery()), claimable)
            .values(state="sending", claim_token=token, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        rows = s.execute(
            select(Notice, User.email, User.name)
            .join(User, User.id == Notice.user_id)
            .where(Notice.claim_token == token)
            .order_by(Notice.user_id, Notice.id)
        ).all()
        return token, _mails(rows, now)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _mails(rows, now: dt.datetime) -> list[Mail]:
    """One mail per immediate notice, one digest per user for the rest."""
    mails = []
    digests: dict[int, list] = {}
    for notice, email, name in rows:
        if notice.mode == "digest":
            digests.setdefault(notice.user_id, []).append((notice, email, name))
            continue
        mails.append(
            Mail(
                (notice.id,),
                email or "",
                name,
                f"[Carnet] {notice.subject}",
                notice.body_text + _footer_text(),
                _page(notice.subject, notice.body_html),
                f"<carnet-{_key_hash(notice.dedup_key)}@carnet>",
            )
        )
    for items in digests.values():
        notices = [n for n, _, _ in items]
        day = now.astimezone(TZ).strftime("%d/%m/%Y")
        subject = f"[Carnet] Résumé du {day} : {len(notices)} avis"
        text = "\n\n".join(n.body_text for n in notices)
        html = "".join(n.body_html for n in notices)
        mails.append(
            Mail(
                tuple(n.id for n in notices),
                items[0][1] or "",
                items[0][2],
                subject,
                text + _footer_text(),
                _page(subject, html),
                f"<carnet-digest-{_key_hash(notices[0].dedup_key)}-{len(notices)}@carnet>",
            )
        )
    return mails


def _footer_text() -> str:
    return "\n\n--\nCarnet. Choisir ce que vous recevez : " + absolute("/mes-notifications") + "\n"


def _page(title: str, fragment: str) -> str:
    prefs = escape(absolute("/mes-notifications"))
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{fragment}"
        f'<hr><p>Carnet. <a href="{prefs}">Choisir ce que vous recevez</a></p></body></html>'
    )


def mark_sent(engine: Engine, token: str, mail: Mail, now: dt.datetime) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(Notice)
            .where(Notice.id.in_(mail.notice_ids), Notice.claim_token == token)
            .values(
                state="sent",
                sent_at=now,
                attempts=Notice.attempts + 1,
                claim_token=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )


def mark_failed(engine: Engine, token: str, mail: Mail, now: dt.datetime, error: str) -> None:
    """Keep the notices for a later attempt, each after its own backoff."""
    with session_scope(engine) as s:
        notices = s.scalars(
            select(Notice).where(Notice.id.in_(mail.notice_ids), Notice.claim_token == token)
        ).all()
        for n in notices:
            n.attempts = (n.attempts or 0) + 1
            n.state = "failed"
            n.claim_token = None
            n.last_error = error[:1000]
            n.next_attempt_at = now + backoff(n.attempts)


def waiting_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(Notice.state != "sent")) or 0


def list_notices(
    session: Session, user_id: int | None = None, state: str | None = None, limit: int = 500
) -> list[dict]:
    """The outbox, newest first: what `carnet notify list` and the page show."""
    stmt = (
        select(Notice, User.login)
        .join(User, User.id == Notice.user_id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        stmt = stmt.where(Notice.user_id == user_id)
    if state is not None:
        stmt = stmt.where(Notice.state == state)
    return [
        {
            "id": n.id,
            "user": login,
            "kind": n.kind,
            "mode": n.mode,
            "state": n.state,
            "attempts": n.attempts,
            "subject": n.subject,
            "created_at": n.created_at.isoformat(),
            "due_at": n.due_at.isoformat(),
            "next_attempt_at": n.next_attempt_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            "last_error": n.last_error,
            "dedup_key": n.dedup_key,
        }
        for n, login in session.execute(stmt).all()
    ]
