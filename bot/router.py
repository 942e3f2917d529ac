"""User message -> store -> Rasa (with metadata) -> store replies -> channel.

The boundary rules live here, once for every channel: text is cleaned of
control characters, empty and over-long messages get a clear answer, each
conversation is rate-limited, and a text starting with "/" reaches Rasa as an
intent only when it is the payload of a button the assistant offered in that
conversation (nobody can type `/EXTERNAL_...`). Every user message is stored
before it is processed and every reply before it is sent; when Rasa does not
answer, the user hears so in their language and the message stays stored.

While a conversation is handed over (its state is not "bot"), its messages go
to the handoff service (bot/handoff/) instead of Rasa; a `{"handoff": ...}`
request in the assistant's replies starts a handoff. The router is also the
service's voice: it asks Rasa for the localized text of a handoff event
(`/EXTERNAL_<event>`) and delivers it, or an adviser's message, to the user's
channel outside a user turn (channels register a deliverer in `outbox`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread

from bot import metrics
from bot.feedback import mark_feedback
from bot.handoff.service import CONTACT_CONSENT, CONTACT_DECLINE, CONTACT_REQUEST, STOP, HandoffService
from bot.insights.choices import chosen_topic, previous_question
from bot.insights.log import InsightsLog, top_intents
from bot.language.catalog import load_catalog
from bot.language.decision import META_HINTS, normalise_tag, valid_hints
from bot.rasa_client import AssistantUnavailable, RasaClient
from bot.settings import Settings
from bot.store.repository import ConversationStore
from bot.texts import text as localized

log = logging.getLogger(__name__)
BOT_STATE = "bot"
GATEWAY_COMMANDS = (STOP, CONTACT_REQUEST, CONTACT_DECLINE, CONTACT_CONSENT)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@dataclass
class Reply:
    text: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] | None = None
    image: str | None = None
    language: str | None = None
    # bot or adviser (an adviser's message carries the adviser's name)
    sender: str = "bot"
    sender_name: str | None = None
    # The stored message's id, and whether the channel asks 👍/👎 on it (an answer
    # to a service topic) or a 1-5 rating (the end of a conversation).
    message_id: int | None = None
    asks_feedback: bool = False
    asks_rating: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.text is not None:
            data["text"] = self.text
        if self.buttons:
            data["buttons"] = self.buttons
        if self.custom is not None:
            data["custom"] = self.custom
        if self.image:
            data["image"] = self.image
        return data


@dataclass
class Turn:
    conversation_id: str
    language: str
    replies: list[Reply]
    # The assistant did not understand the message (for the metrics).
    fallback: bool = False


def clean(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    return CONTROL_CHARACTERS.sub("", text).strip()


class RateLimiter:
    """At most `limit` messages per `window` seconds per conversation (in memory)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True


class Router:
    def __init__(self, settings: Settings, store: ConversationStore, rasa: RasaClient) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.catalog = load_catalog()
        self.limiter = RateLimiter(settings.rate_limit_messages, settings.rate_limit_seconds)
        # channel name -> deliver(external_id, replies): messages outside a user turn
        self.outbox: dict[str, Callable[[str, list[Reply]], Awaitable[None]]] = {}
        self.handoff: HandoffService | None = None
        self.insights: InsightsLog | None = None

    def attach_insights(self, insights: InsightsLog) -> None:
        """The work-package-6 log: unresolved turns, handoff requests and their outcomes."""
        self.insights = insights
        if self.handoff is not None:
            self.handoff.insights = insights

    def attach_handoff(self, service: HandoffService) -> None:
        self.handoff = service
        service.voice = self

    async def conversation(self, channel: str, external_id: str):  # noqa: ANN201
        return await to_thread.run_sync(self.store.get_or_create, channel, external_id)

    async def handle(
        self,
        channel: str,
        external_id: str,
        raw_text: Any,
        *,
        language_hint: str | None = None,
        language_choice: str | None = None,
        channel_payload: str | None = None,
        language_hints: Any = None,
    ) -> Turn:
        """One user message. `channel_payload` is a payload of the channel's own
        menu or command (Telegram's /help), let through like an offered button;
        `language_hints` the browser's languages in order (validated here)."""
        started = time.monotonic()
        turn = await self._handle(channel, external_id, raw_text, language_hint, language_choice, channel_payload,
                                  valid_hints(language_hints))
        metrics.observe_turn(channel, turn.language, time.monotonic() - started, turn.fallback)
        return turn

    async def _handle(
        self, channel: str, external_id: str, raw_text: Any, language_hint: str | None, language_choice: str | None,
        channel_payload: str | None, language_hints: list[str] | None = None,
    ) -> Turn:
        conversation = await self.conversation(channel, external_id)
        hint = next((c for c in map(normalise_tag, [*(language_hints or []), language_hint])
                     if self.catalog.is_supported(c)), None) or normalise_tag(language_hint)
        choice = normalise_tag(language_choice)
        language = self._current_language(conversation.language, choice, hint)
        text = clean(raw_text)
        message_id = await to_thread.run_sync(
            lambda: self.store.add_message(conversation.id, "in", "user", text, language=language)
        )

        problem = self._refusal(conversation.id, text)
        if problem:
            return await self._say_locally(conversation.id, message_id, language, problem)

        if conversation.state != BOT_STATE and self.handoff is not None:
            handed = await self.handoff.user_message(conversation, text, message_id)
            if handed is not None:
                if handed:
                    await to_thread.run_sync(self.store.set_message_status, message_id, "answered")
                return Turn(conversation.id, language, handed)

        allowed = self._allowed_payloads(conversation.offered_payloads, choice) | {channel_payload}
        if text.startswith("/") and text not in allowed:
            text = text.lstrip("/").strip() or text  # typed, not a button: plain text for NLU

        metadata = {
            "channel": channel,
            "conversation_language": conversation.language,
            "language_hint": hint,
            META_HINTS: language_hints,
            "language_choice": choice,
        }
        metadata = {k: v for k, v in metadata.items() if v}
        try:
            raw_replies = await self.rasa.send(conversation.id, text, metadata)
        except AssistantUnavailable:
            metrics.count_unavailable(channel)
            return await self._say_locally(conversation.id, message_id, language, ("gateway.unavailable", {}),
                                           status="failed")
        state = await self.rasa.last_turn(conversation.id)
        language = state.language or language
        parse = state.latest_message or {}
        intent = (parse.get("intent") or {}).get("name")
        replies = [self._reply(raw, language) for raw in raw_replies]
        mark_feedback(replies, intent)
        offered = [b["payload"] for r in replies for b in r.buttons if b.get("payload")]
        await to_thread.run_sync(
            lambda: self._store_replies(conversation.id, message_id, replies, language, offered, intent))
        request = next((r.custom["handoff"] for r in replies if isinstance(r.custom, dict) and "handoff" in r.custom),
                       None)
        shown = [r for r in replies if not (isinstance(r.custom, dict) and "handoff" in r.custom)]
        if self.insights is not None and parse:
            await to_thread.run_sync(lambda: self.insights.record_turn(
                conversation.id, channel=channel, parse_data=parse, text=None if text.startswith("/") else text))
        if self.insights is not None and (chosen := chosen_topic(text)):
            await to_thread.run_sync(lambda: self.insights.record_choice(
                conversation.id, channel=channel, topic=chosen, language=language,
                question=previous_question(self.store, conversation.id, message_id)))
        if isinstance(request, dict) and self.handoff is not None:
            conversation.language = language
            reason = str(request.get("reason") or "user_request")
            topic = request.get("topic") if isinstance(request.get("topic"), str) else None
            if self.insights is not None:
                await to_thread.run_sync(lambda: self.insights.record(
                    conversation.id, channel=channel, reason="handoff_request", trigger=reason, topic=topic,
                    language=language, text=None if text.startswith("/") else text, intents=top_intents(parse)))
            shown += await self.handoff.request(conversation, reason=reason, topic=topic, language=language)
        return Turn(conversation.id, language, shown, fallback=state.fallback)

    # --- the handoff service's voice ----------------------------------------

    async def event_replies(self, conversation_id: str, event: str, entities: dict[str, Any]) -> list[Reply]:
        """What the assistant says about a handoff event, in the conversation's language (stored)."""
        conversation = await to_thread.run_sync(self.store.get, conversation_id)
        language = conversation.language or self.catalog.default
        text = f"/EXTERNAL_{event}" + (json.dumps(entities, ensure_ascii=False) if entities else "")
        metadata = {"channel": conversation.channel, "conversation_language": language}
        try:
            raw_replies = await self.rasa.send(conversation_id, text, metadata)
        except AssistantUnavailable:
            log.warning("Rasa did not answer the handoff event %s", event)
            raw_replies = [{"text": localized(language, "gateway.unavailable")}]
        replies = [self._reply(raw, language) for raw in raw_replies]
        offered = [b["payload"] for r in replies for b in r.buttons if b.get("payload")]

        def store() -> None:
            self._store_bot_replies(conversation_id, replies, language)
            self.store.update_conversation(conversation_id, offered=offered)

        await to_thread.run_sync(store)
        return replies

    async def deliver(self, conversation_id: str, replies: list[Reply]) -> None:
        conversation = await to_thread.run_sync(self.store.get, conversation_id)
        deliverer = self.outbox.get(conversation.channel) if conversation else None
        if deliverer is None:
            log.warning("no way to reach conversation %s on %s", conversation_id,
                        conversation.channel if conversation else "?")
            return
        await deliverer(conversation.external_id, replies)

    async def adviser_said(self, conversation_id: str, text: str, adviser_name: str) -> None:
        conversation = await to_thread.run_sync(self.store.get, conversation_id)
        language = conversation.language or self.catalog.default
        await to_thread.run_sync(lambda: self.store.add_message(
            conversation_id, "out", "adviser", text, {"adviser": adviser_name}, language, status="sent"))
        await self.deliver(conversation_id, [Reply(text=text, language=language, sender="adviser",
                                                   sender_name=adviser_name)])

    def _allowed_payloads(self, offered: list[str] | None, choice: str | None) -> set[str]:
        """Payloads of buttons the assistant offered, and the channel's own language menu."""
        # The handoff's own buttons (/stop, /contact_...) mean something only during a handoff.
        allowed = {p for p in offered or [] if not p.startswith(GATEWAY_COMMANDS)}
        if self.catalog.is_supported(choice):
            allowed.add(f'/change_language{{"language":"{choice}"}}')
            allowed.add(f'/change_language{{"language": "{choice}"}}')
        return allowed

    def _current_language(self, conversation_language: str | None, choice: str | None, hint: str | None) -> str:
        for code in (choice, conversation_language, hint):
            if self.catalog.is_supported(code):
                return code
        return self.catalog.default

    def _refusal(self, conversation_id: str, text: str) -> tuple[str, dict] | None:
        if not text:
            return ("gateway.empty", {})
        if len(text) > self.settings.max_message_chars:
            return ("gateway.too_long", {"max_chars": self.settings.max_message_chars})
        if not self.limiter.allow(conversation_id):
            return ("gateway.rate_limited", {})
        return None

    async def _say_locally(
        self, conversation_id: str, message_id: int, language: str, what: tuple[str, dict], status: str = "answered"
    ) -> Turn:
        key, values = what
        reply = Reply(text=localized(language, key, **values), language=language)

        def store() -> None:
            self.store.set_message_status(message_id, status)
            self.store.add_message(conversation_id, "out", "system", reply.text, language=language, status="sent")

        await to_thread.run_sync(store)
        return Turn(conversation_id, language, [reply])

    def _store_replies(
        self, conversation_id: str, message_id: int, replies: list[Reply], language: str, offered: list[str],
        intent: str | None = None,
    ) -> None:
        self._store_bot_replies(conversation_id, replies, language, intent)
        self.store.set_message_status(message_id, "answered")
        self.store.update_conversation(conversation_id, language=language, offered=offered)

    def _store_bot_replies(
        self, conversation_id: str, replies: list[Reply], language: str, intent: str | None = None
    ) -> None:
        for reply in replies:
            payload = {k: v for k, v in reply.as_dict().items() if k != "text"}
            if reply.asks_feedback or reply.asks_rating:
                payload.update(intent=intent, asks_feedback=reply.asks_feedback, asks_rating=reply.asks_rating)
                # The whole answer (it may come in several messages), for a 👎 to log.
                payload["answer"] = "\n\n".join(r.text for r in replies if r.text)
            reply.message_id = self.store.add_message(conversation_id, "out", "bot", reply.text, payload or None,
                                                      language, status="sent")

    @staticmethod
    def _reply(raw: dict[str, Any], language: str) -> Reply:
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in raw.get("buttons") or []
        ]
        return Reply(
            text=raw.get("text"), buttons=buttons, custom=raw.get("custom"), image=raw.get("image"),
            language=language,
        )
