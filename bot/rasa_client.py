"""Rasa's REST channel, as the gateway uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class TurnState:
    language: str | None
    latest_message: dict[str, Any] | None


class AssistantUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer in time."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
            replies = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise AssistantUnavailable(str(error)) from error
        if not isinstance(replies, list):
            raise AssistantUnavailable("unexpected answer from Rasa")
        return replies

    async def language_of(self, sender: str) -> str | None:
        """The conversation's `language` slot after the turn."""
        return (await self.after_turn(sender)).language

    async def after_turn(self, sender: str) -> TurnState:
        """The `language` slot and the parse result of the latest message (for the unresolved log)."""
        try:
            response = await self._client.get(
                f"{self.base_url}/conversations/{sender}/tracker", params={"include_events": "NONE"}
            )
            response.raise_for_status()
            tracker = response.json()
        except (httpx.HTTPError, ValueError):
            return TurnState(None, None)
        latest = tracker.get("latest_message")
        return TurnState((tracker.get("slots") or {}).get("language"), latest if isinstance(latest, dict) else None)

    async def close(self) -> None:
        await self._client.aclose()
