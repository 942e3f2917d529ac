"""Rasa's REST channel with the API token required (config/credentials.yml).

`rasa run --auth-token` protects Rasa's own API (trackers, the model, /status), but a
channel's webhook is a route of its own that Rasa leaves open: without this, anyone
who reaches Rasa's port could still write into any conversation (any `sender`) and
read the assistant's answers. The gateway sends the token with every request anyway
(`?token=`, the way Rasa's API takes it), so the webhook asks for the same one.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa_token import resolve_rasa_token


class TokenRestInput(RestInput):
    """`/webhooks/rest/webhook`, answering 401 without the right `?token=`."""

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        # The same token as `--auth-token`: RASA_TOKEN, else the project's .rasa_token.
        return cls(resolve_rasa_token((credentials or {}).get("token") or None))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if request.method == "GET":  # the channel's health route says only {"status": "ok"}
                return None
            provided = request.args.get("token") or ""
            if hmac.compare_digest(provided.encode(), self.token.encode()):
                return None
            return response.json({"status": "failure", "reason": "NotAuthenticated"}, status=401)

        return webhook
