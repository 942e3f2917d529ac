"""Rasa's turn channel (bot/rasa_channel.py), as the gateway uses it, over one or several Rasa instances.

Several instances share one tracker store (PostgreSQL) and one lock store
(Redis), so any of them can serve any conversation. Each conversation still
sticks to one instance (rendezvous hashing: the instance with the highest
hash of `instance + conversation id`), so that adding or removing an instance
moves only the conversations of that instance. When the preferred instance
cannot be connected to, the next one in the conversation's own order takes
the message, and the unreachable instance goes to the back of every order for
`retry_after` seconds. Only connection failures move a message: after a read
timeout Rasa may have processed it already, and sending it again elsewhere
would answer it twice.

Every request carries Rasa's API token (`?token=`, the only way Rasa's API and
bot/rasa_channel.py take it); error texts never include it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot import metrics

FALLBACK_INTENT = "nlu_fallback"
# bot/rasa_channel.py's TurnInput: the replies, the parse result and the language in one answer.
TURN_WEBHOOK = "/webhooks/turn/webhook"


class AssistantUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer in time."""


# Failures that happen before the request reached Rasa: safe to send elsewhere.
UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _score(instance: str, conversation: str) -> int:
    digest = hashlib.sha256(f"{instance}\0{conversation}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rendezvous_order(instances: Sequence[str], conversation: str) -> list[str]:
    """The instances in the conversation's order of preference (stable across
    processes and restarts: no salted `hash()`)."""
    return sorted(instances, key=lambda instance: _score(instance, conversation), reverse=True)


@dataclass(frozen=True)
class TurnInfo:
    """The conversation after a turn (from the turn channel's answer)."""

    language: str | None = None
    # Rasa's parse result of the last message (intent, intent_ranking, entities, language).
    latest_message: dict[str, Any] | None = None

    @property
    def intent(self) -> str | None:
        return ((self.latest_message or {}).get("intent") or {}).get("name")

    @property
    def fallback(self) -> bool:
        """The assistant did not understand the last message."""
        return self.intent == FALLBACK_INTENT


class RasaClient:
    def __init__(self, base_url: str | Sequence[str], timeout: float, retry_after: float = 10.0,
                 token: str | None = None) -> None:
        urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
        self.instances = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.instances:
            raise ValueError("no Rasa URL")
        self.retry_after = retry_after
        self._down_until: dict[str, float] = {}
        self.token = token
        self._client = httpx.AsyncClient(timeout=timeout, params={"token": token} if token else None)

    def _without_token(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    @property
    def base_url(self) -> str:
        return self.instances[0]

    def order_for(self, sender: str) -> list[str]:
        """Where this conversation's messages go, in order: reachable instances
        first (by the conversation's own preference), recently unreachable ones last."""
        now = time.monotonic()
        preferred = rendezvous_order(self.instances, sender)
        return sorted(preferred, key=lambda instance: self._down_until.get(instance, 0.0) > now)

    async def _request(self, sender: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        last_error: Exception | None = None
        for instance in self.order_for(sender):
            started = time.monotonic()
            try:
                response = await self._client.request(method, instance + path, **kwargs)
            except UNREACHABLE as error:
                self._down_until[instance] = time.monotonic() + self.retry_after
                metrics.count_rasa_unreachable(instance)
                last_error = error
                continue
            self._down_until.pop(instance, None)
            metrics.observe_rasa_request(instance, time.monotonic() - started)
            return response
        raise httpx.ConnectError(self._without_token(f"no Rasa instance reachable ({last_error})"))

    async def turn(self, sender: str, text: str, metadata: dict[str, Any]) -> tuple[list[dict[str, Any]], TurnInfo]:
        """One user message: Rasa's replies and the turn's parse result and `language` slot,
        in one request (bot/rasa_channel.py's turn channel)."""
        try:
            response = await self._request(
                sender, "POST", TURN_WEBHOOK, json={"sender": sender, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise AssistantUnavailable(self._without_token(str(error))) from error
        replies = answer.get("messages") if isinstance(answer, dict) else None
        if not isinstance(replies, list):
            raise AssistantUnavailable("unexpected answer from Rasa")
        latest, language = answer.get("latest_message"), answer.get("language")
        return replies, TurnInfo(language if isinstance(language, str) else None,
                                 latest if isinstance(latest, dict) else None)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Rasa's replies to one message (the turn's other outcome unused)."""
        return (await self.turn(sender, text, metadata))[0]

    async def close(self) -> None:
        await self._client.aclose()
