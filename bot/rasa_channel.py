"""Rasa's REST channel with the API token required, and the gateway's turn channel
(both registered in config/credentials.yml).

`rasa run --auth-token` protects Rasa's own API (trackers, the model, /status), but a
channel's webhook is a route of its own that Rasa leaves open: without this, anyone
who reaches Rasa's port could still write into any conversation (any `sender`) and
read the assistant's answers. The gateway sends the token with every request anyway
(`?token=`, the way Rasa's API takes it), so the webhook asks for the same one.

`TurnInput` (`/webhooks/turn/webhook`, the same request and token) answers one turn with
everything the gateway needs in one response, so the gateway makes one request per turn:

    {"messages": [...as the REST channel...],
     "latest_message": {...Rasa's parse result: intent, intent_ranking, entities, text...},
     "language": "sv"}

`latest_message` and `language` are read from the tracker Rasa holds in memory at the end
of the turn (bot/rasa_tracker_store.py keeps them by the user message's id when it saves
it); with another tracker store, from the store after the turn. Both are null when the turn
failed inside Rasa (the messages are then those sent before it failed, as with REST).
"""

from __future__ import annotations

import copy
import gc
import hmac
import uuid
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa_speedups import trim_heap
from bot.rasa_token import resolve_rasa_token
from bot.rasa_tracker_store import OUTCOMES, turn_outcome

structlogger = structlog.get_logger()


class TokenRestInput(RestInput):
    """`/webhooks/rest/webhook`, answering 401 without the right `?token=`."""

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        # The same token as `--auth-token`: RASA_TOKEN, else the project's .rasa_token.
        return cls(resolve_rasa_token((credentials or {}).get("token") or None))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        return self.protect(super().blueprint(on_new_message))

    def protect(self, webhook: Blueprint) -> Blueprint:
        """Every POST of the blueprint asks for the token."""

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if request.method == "GET":  # the channel's health route says only {"status": "ok"}
                return None
            provided = request.args.get("token") or ""
            if hmac.compare_digest(provided.encode(), self.token.encode()):
                return None
            return response.json({"status": "failure", "reason": "NotAuthenticated"}, status=401)

        return webhook


class TurnInput(TokenRestInput):
    """`/webhooks/turn/webhook`: the messages and the turn's parse result and language."""

    @classmethod
    def name(cls) -> str:
        return "turn"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender_id, input_channel=self._extract_input_channel(request),
                                  message_id=uuid.uuid4().hex, metadata=self.get_metadata(request))
            outcome: dict[str, Any] | None = None
            try:
                await on_new_message(message)
                outcome = OUTCOMES.pop(message.message_id) or await self._outcome_from_store(request, sender_id)
            except CancelledError:
                structlogger.error("turn.message.received.timeout", text=copy.deepcopy(text))
            except Exception:  # noqa: BLE001 - as Rasa's REST channel: answer with what was sent
                structlogger.exception("turn.message.received.failure", text=copy.deepcopy(text))
            return response.json({"messages": collector.messages, **(outcome or {})})

        @webhook.listener("after_server_start")
        async def freeze_loaded_objects(app: Any, loop: Any) -> None:
            # Rasa loads the model before the server starts: its objects live as long as the
            # process, and the garbage collector need not walk them again on every full collection.
            gc.collect()
            gc.freeze()
            trim_heap()  # what loading freed goes back to the system (bot/rasa_speedups.py)

        return self.protect(webhook)

    @staticmethod
    async def _outcome_from_store(request: Request, sender_id: str) -> dict[str, Any] | None:
        """Another tracker store than bot/rasa_tracker_store.py's: read the tracker back."""
        agent = getattr(request.app.ctx, "agent", None)
        tracker = await agent.tracker_store.retrieve(sender_id) if agent is not None else None
        return turn_outcome(tracker) if tracker is not None else None
