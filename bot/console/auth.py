"""Console accounts, sessions, and the sign-in throttle.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106 low-memory).
A session is a random token in an HttpOnly, SameSite=Strict cookie; the
database keeps only its SHA-256 and the session's CSRF token, so signing out
(or deleting the row) ends it everywhere. A password change or a disabled
account deletes the account's other sessions.

The sign-in throttle (OWASP "Slow Down Online Guessing Attacks with Device
Cookies"), never switched off by any setting:

- failures are counted per username and, separately, per client address (the
  real client behind the trusted proxies, bot/client_address.py): after
  `max_failures` for a username, or `max_failures_per_address` from an
  address, within the window, an *untrusted* client is refused (429);
- a browser that signed in to an account before carries a device cookie (a
  random token; the database keeps its SHA-256). Sign-ins from it to that
  account skip the lock-out of untrusted clients: a guesser can lock a username
  or an address, never the adviser's own browser. Failures from a device count
  only against that device, which locks after `max_failures` of its own;
- every attempt is stored *before* its password is checked and then the
  attempts are counted, all in the database (shared by every gateway process):
  of any two parallel attempts the later counter sees the other, so parallel
  guesses cannot get past the limit. An attempt that turns out right, or is
  refused by the throttle, is deleted again; a wrong one stays as a failure.
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
from sqlalchemy import delete, func, select, update

from bot.store.db import Database
from bot.store.models import Adviser, AdviserSession, SignInDevice, SignInFailure, as_utc, utcnow

ROLES = ("adviser", "admin", "analyst")
UI_LANGUAGES = ("fi", "en")
MIN_PASSWORD_CHARS = 12  # OWASP ASVS 2.1.1
MAX_USERNAME_CHARS = 64
hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that both cases take as long."""
    return hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def end_sessions(database: Database, adviser_id: int, *, keep_token: str | None = None,
                 devices: bool = False) -> int:
    """Delete the account's sessions (all, or all but `keep_token`'s), and with
    `devices` its trusted devices too. Returns how many sessions ended."""
    with database.session() as session:
        query = delete(AdviserSession).where(AdviserSession.adviser_id == adviser_id)
        if keep_token:
            query = query.where(AdviserSession.token_hash != _token_hash(keep_token))
        ended = session.execute(query.execution_options(synchronize_session=False)).rowcount
        if devices:
            session.execute(delete(SignInDevice).where(SignInDevice.adviser_id == adviser_id)
                            .execution_options(synchronize_session=False))
        return ended


@dataclass(frozen=True)
class SignedIn:
    adviser: Adviser
    csrf_token: str
    token: str | None = None  # only right after signing in, for the cookie
    device_token: str | None = None  # a new device cookie, right after signing in


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


class Accounts:
    def __init__(self, database: Database, *, session_hours: float = 10, max_failures: int = 5,
                 window_minutes: float = 15, max_failures_per_address: int = 20,
                 device_days: float = 90) -> None:
        self.db = database
        self.session_lifetime = timedelta(hours=session_hours)
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window = timedelta(minutes=window_minutes)
        self.device_lifetime = timedelta(days=device_days)

    # --- the throttle ----------------------------------------------------------

    def trusted_device(self, username: str, device_token: str | None, now: datetime | None = None) -> str | None:
        """The token hash of `device_token` if it is a live device cookie of `username`."""
        if not device_token or len(device_token) > 128:
            return None
        digest = _token_hash(device_token)
        with self.db.session() as session:
            row = session.execute(
                select(SignInDevice.expires_at).join(Adviser, Adviser.id == SignInDevice.adviser_id)
                .where(SignInDevice.token_hash == digest, Adviser.username == username)
            ).scalar_one_or_none()
        return digest if row is not None and as_utc(row) > (now or utcnow()) else None

    def _begin_attempt(self, username: str, client: str, device: str | None, now: datetime) -> int:
        """Store the attempt (committed), then count; its row id. Raises Throttled (and
        deletes the attempt again) when a limit is reached. `device`: a trusted device's hash."""
        with self.db.session() as session:
            row = SignInFailure(username=username, client=client, device=device, created_at=now)
            session.add(row)
            session.flush()
            attempt = row.id
        since = now - self.window
        limits = ([(SignInFailure.device == device, self.max_failures)] if device else
                  [(SignInFailure.username == username, self.max_failures),
                   (SignInFailure.client == client, self.max_failures_per_address)])
        retry_after = 0
        with self.db.session() as session:
            for condition, limit in limits:
                where = [SignInFailure.created_at >= since, condition]
                if not device:
                    where.append(SignInFailure.device.is_(None))
                count, oldest = session.execute(
                    select(func.count(), func.min(SignInFailure.created_at)).where(*where)).one()
                # The attempt itself is among them: more than `limit` means `limit` failures before it.
                if count > limit:
                    wait = int((as_utc(oldest) + self.window - now).total_seconds()) + 1
                    retry_after = max(retry_after, wait, 1)
        if retry_after:
            self._forget_attempt(attempt)
            raise Throttled(retry_after)
        return attempt

    def _forget_attempt(self, attempt: int) -> None:
        with self.db.session() as session:
            session.execute(delete(SignInFailure).where(SignInFailure.id == attempt))

    # --- signing in --------------------------------------------------------------

    def _verify(self, username: str, password: str) -> Adviser | None:
        with self.db.session() as session:
            adviser = session.execute(select(Adviser).where(Adviser.username == username)).scalar_one_or_none()
        try:
            hasher.verify(adviser.password_hash if adviser else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return adviser if adviser is not None and adviser.active else None

    def sign_in(self, username: str, password: str, client: str, device_token: str | None = None) -> SignedIn | None:
        """A new session, or None for a wrong username or password. Raises Throttled.
        `device_token`: the browser's device cookie, if it has one."""
        username = username.strip()[:MAX_USERNAME_CHARS]
        client = (client or "unknown")[:64]
        now = utcnow()
        device = self.trusted_device(username, device_token, now)
        attempt = self._begin_attempt(username, client, device, now)
        adviser = self._verify(username, password)
        if adviser is None:
            return None  # the attempt stays, as a failure
        self._forget_attempt(attempt)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        new_device = None if device else secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.add(AdviserSession(token_hash=_token_hash(token), adviser_id=adviser.id, csrf_token=csrf,
                                       created_at=now, expires_at=now + self.session_lifetime))
            expires = now + self.device_lifetime
            if device:
                session.execute(update(SignInDevice).where(SignInDevice.token_hash == device)
                                .values(expires_at=expires).execution_options(synchronize_session=False))
            else:
                session.add(SignInDevice(token_hash=_token_hash(new_device), adviser_id=adviser.id,
                                         created_at=now, expires_at=expires))
            session.execute(delete(SignInDevice).where(SignInDevice.adviser_id == adviser.id,
                                                       SignInDevice.expires_at < now))
            stored = session.get(Adviser, adviser.id)
            if hasher.check_needs_rehash(stored.password_hash):
                stored.password_hash = hasher.hash(password)
        return SignedIn(adviser, csrf, token, new_device)

    def change_password(self, signed_in: SignedIn, session_token: str, current: str, new: str, client: str,
                        device_token: str | None = None) -> bool:
        """The signed-in adviser's new password: False when `current` is wrong (counted
        like a failed sign-in; raises Throttled). Ends every other session of the account.
        Raises ValueError for a new password that is too short."""
        username = signed_in.adviser.username
        hashed = hash_password(new)
        now = utcnow()
        attempt = self._begin_attempt(username, client[:64], self.trusted_device(username, device_token, now), now)
        if self._verify(username, current) is None:
            return False
        self._forget_attempt(attempt)
        with self.db.session() as session:
            session.get(Adviser, signed_in.adviser.id).password_hash = hashed
        end_sessions(self.db, signed_in.adviser.id, keep_token=session_token)
        return True

    # --- sessions ------------------------------------------------------------------

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
