"""The token of Rasa's HTTP API (`rasa run --auth-token`), shared by the Rasa server
(scripts/serve.py), its REST channel (bot/rasa_channel.py) and the gateway, which sends
it as `?token=` with every request (bot/rasa_client.py).

Production sets RASA_TOKEN (docker-compose.yml requires it); in development a random
token is kept in `.rasa_token` in the project (git-ignored), so that `make run` needs
no configuration and every process started from the project agrees on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.local_secret import configured_or_kept
from bot.paths import PROJECT_ROOT

ENV_VARIABLE = "RASA_TOKEN"
TOKEN_FILE = PROJECT_ROOT / ".rasa_token"


def resolve_rasa_token(configured: str | None = None, environ: Mapping[str, str] | None = None,
                       path: Path = TOKEN_FILE) -> str:
    """The configured token (setting or RASA_TOKEN), else the one kept in `path`."""
    return configured_or_kept(configured, ENV_VARIABLE, path, environ)
