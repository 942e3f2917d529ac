"""Pseudonymous conversation keys: HMAC-SHA256 of the conversation id with a secret key.

The key groups the unresolved questions and feedback of one conversation without
naming it: the channel's user id (a Telegram chat id) is never used, and without
the secret a key cannot be tied back to a conversation, also after the conversation
itself has been deleted by retention.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from bot.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

ENV_VARIABLE = "PSEUDONYM_SECRET"
# Where a random key is kept when none is configured (development).
SECRET_FILE = PROJECT_ROOT / ".pseudonym_secret"
# 32 hex characters = 128 bits of the HMAC.
KEY_LENGTH = 32


def conversation_key(conversation_id: str, secret: bytes | str) -> str:
    """HMAC-SHA256(secret, conversation id), hex, truncated to KEY_LENGTH characters."""
    if not secret:
        raise ValueError("the pseudonym secret is empty")
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(conversation_id).encode(), hashlib.sha256).hexdigest()[:KEY_LENGTH]


def resolve_secret(configured: str | None = None, environ: dict[str, str] | None = None,
                   path: Path = SECRET_FILE) -> str:
    """The configured secret (setting or PSEUDONYM_SECRET), else a random one kept in `path`
    (created on first use, readable only by its owner)."""
    environ = os.environ if environ is None else environ
    secret = configured or environ.get(ENV_VARIABLE)
    if secret:
        return secret
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    log.warning("%s is not set: using a random key kept in %s", ENV_VARIABLE, path)
    secret = secrets.token_hex(32)
    # Written to a private temporary file first, then linked into place: another process
    # starting at the same moment either wins (and its key is read) or sees no file.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        secret = path.read_text(encoding="utf-8").strip()
    finally:
        temporary.unlink()
    return secret
