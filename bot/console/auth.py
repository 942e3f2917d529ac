"""Console accounts and sessions.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106 low-memory).
A session is a random token in an HttpOnly, SameSite=Strict cookie; the
database keeps only its SHA-256 and the session's CSRF token, so signing out
(or deleting the row) ends it everywhere. Failed sign-ins are counted per
username and per client address; after `max_failures` within the window the
sign-in is refused (429) until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select

from bot.store.db import Database
from bot.store.models import Adviser, AdviserSession, SignInFailure, as_utc, utcnow

ROLES = ("adviser", "admin", "analyst")
UI_LANGUAGES = ("fi", "en")
hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that both cases take as long."""
    return hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    return hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    adviser: Adviser
    csrf_token: str
    token: str | None = None  # only right after signing in, for the cookie


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


class Accounts:
    def __init__(self, database: Database, *, session_hours: float = 10, max_failures: int = 5,
                 window_minutes: float = 15) -> None:
        self.db = database
        self.session_lifetime = timedelta(hours=session_hours)
        self.max_failures = max_failures
        self.window = timedelta(minutes=window_minutes)

    def recent_failures(self, username: str, client: str, now: datetime | None = None) -> int:
        since = (now or utcnow()) - self.window
        with self.db.session() as session:
            return session.execute(
                select(func.count()).select_from(SignInFailure).where(
                    SignInFailure.created_at >= since,
                    or_(SignInFailure.username == username, SignInFailure.client == client),
                )
            ).scalar_one()

    def _retry_after(self, username: str, client: str, now: datetime) -> int:
        with self.db.session() as session:
            oldest = session.execute(
                select(func.min(SignInFailure.created_at)).where(
                    SignInFailure.created_at >= now - self.window,
                    or_(SignInFailure.username == username, SignInFailure.client == client),
                )
            ).scalar_one()
        return max(1, int((as_utc(oldest) + self.window - now).total_seconds()) + 1) if oldest else 1

    def sign_in(self, username: str, password: str, client: str) -> SignedIn | None:
        """A new session, or None for a wrong username or password. Raises Throttled."""
        username = username.strip()[:64]
        now = utcnow()
        if self.recent_failures(username, client, now) >= self.max_failures:
            raise Throttled(self._retry_after(username, client, now))
        with self.db.session() as session:
            adviser = session.execute(select(Adviser).where(Adviser.username == username)).scalar_one_or_none()
        try:
            hasher.verify(adviser.password_hash if adviser else _dummy_hash(), password)
            verified = adviser is not None and adviser.active
        except (VerificationError, InvalidHashError):
            verified = False
        if not verified:
            with self.db.session() as session:
                session.add(SignInFailure(username=username, client=client[:64], created_at=now))
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.add(AdviserSession(token_hash=_token_hash(token), adviser_id=adviser.id, csrf_token=csrf,
                                       created_at=now, expires_at=now + self.session_lifetime))
            stored = session.get(Adviser, adviser.id)
            if hasher.check_needs_rehash(stored.password_hash):
                stored.password_hash = hasher.hash(password)
            session.execute(delete(SignInFailure).where(SignInFailure.username == username))
        return SignedIn(adviser, csrf, token)

    def session_of(self, token: str | None) -> SignedIn | None:
        if not token or len(token) > 128:
            return None
        with self.db.session() as session:
            row = session.get(AdviserSession, _token_hash(token))
            if row is None:
                return None
            if as_utc(row.expires_at) <= utcnow():
                session.delete(row)
                return None
            adviser = session.get(Adviser, row.adviser_id)
            if adviser is None or not adviser.active:
                return None
            return SignedIn(adviser, row.csrf_token)

    def sign_out(self, token: str | None) -> None:
        if token:
            with self.db.session() as session:
                session.execute(delete(AdviserSession).where(AdviserSession.token_hash == _token_hash(token)))

    @staticmethod
    def csrf_ok(signed_in: SignedIn, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(signed_in.csrf_token, presented)
