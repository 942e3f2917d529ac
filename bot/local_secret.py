"""Secrets that must be the same for several processes (the gateway, Rasa, the action
server) without anyone having to set them in development: the configured value (a
setting or an environment variable) or else a random one kept in a private file in
the project (git-ignored), created by whichever process needs it first."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)


def configured_or_kept(configured: str | None, variable: str, path: Path,
                       environ: Mapping[str, str] | None = None) -> str:
    """`configured`, else the environment variable, else the secret kept in `path`
    (64 hex characters, created on first use, readable only by its owner)."""
    environ = os.environ if environ is None else environ
    secret = configured or environ.get(variable)
    if secret:
        return secret
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    log.warning("%s is not set: using a random key kept in %s", variable, path)
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
