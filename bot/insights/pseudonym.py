"""Pseudonymous conversation keys: HMAC-SHA256 of the conversation id with a secret key.

The key groups the unresolved questions and feedback of one conversation without
naming it: the channel's user id (a Telegram chat id) is never used, and without
the secret a key cannot be tied back to a conversation, also after the conversation
itself has been deleted by retention.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from bot.local_secret import configured_or_kept
from bot.paths import PROJECT_ROOT

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
    return configured_or_kept(configured, ENV_VARIABLE, path, environ)
