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

import functools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from anyio import to_thread

from bot import metrics
from bot.feedback import mark_feedback
from bot.handoff.service import (
    CONTACT_CONSENT,
    CONTACT_CONSENT_STATE,
    CONTACT_DECLINE,
    CONTACT_DETAILS,
    CONTACT_REQUEST,
    STOP,
    HandoffService,
)
from bot.insights.choices import chosen_topic, previous_question
from bot.insights.log import InsightsLog, top_intents
from bot.language.catalog import load_catalog
from bot.language.decision import META_HINTS, normalise_tag, valid_hints
from bot.limits import Limits
from bot.privacy.masking import mask
from bot.rasa_client import AssistantUnavailable, RasaClient
from bot.settings import Settings
from bot.store.models import Conversation
from bot.store.repository import ConversationStore
from bot.texts import text as localized

log = logging.getLogger(__name__)
BOT_STATE = "bot"
# What a channel sends the assistant to hear its greeting and topic menu at the start of a
# conversation (the widget, when it opens on a new one): Rasa answers it in the hint's language.
GREETING_PAYLOAD = "/greet"
# At most this many of a client's language hints are read (the browser's languages).
MAX_LANGUAGE_HINTS = 10
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


Deferred = Callable[[], Awaitable[None]]


@dataclass
class Turn:
    conversation_id: str | None
    language: str
    replies: list[Reply]
    # The assistant did not understand the message (for the metrics).
    fallback: bool = False
    # Work that waits until the channel has sent the replies (the work-package-6 log, the metrics).
    deferred: list[Deferred] = field(default_factory=list)
    # The conversation's handoff state after the turn, when the router knows it (None: ask the store).
    state: str | None = None

    async def finish(self) -> None:
        """Run the deferred work; the channel calls this after sending the replies.
        A failure here is logged: the user already has their answer."""
        for work in self.deferred:
            try:
                await work()
            except Exception:  # noqa: BLE001 - the reply is out; nothing to tell the user
                log.exception("work after a turn failed")
        self.deferred.clear()


@dataclass
class _Progress:
    """How far a turn got, for telling the user and marking the message when it fails."""

    language: str
    choice: str | None = None
    hint: str | None = None
    # The browser's languages as sent, validated (bot.language.decision.valid_hints): Rasa weighs them all.
    hints: list[str] = field(default_factory=list)
    conversation_id: str | None = None
    message_id: int | None = None


# While a conversation is in these states the user types contact details: the message
# log keeps them masked (the real value lives only in the handoff until consent).
CONTACT_STATES = (CONTACT_DETAILS, CONTACT_CONSENT_STATE)


def clean(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    return CONTROL_CHARACTERS.sub("", text).strip()


def choose_hint(language_hint: Any, language_hints: Any = None) -> str | None:
    """The channel's language hint: the first supported one of `language_hints` (the browser's
    languages, in order of preference) and `language_hint`, else the first that names a language.
    Each is validated with `normalise_tag`, so nothing but a language code is kept."""
    tags = list(language_hints[:MAX_LANGUAGE_HINTS]) if isinstance(language_hints, list) else []
    codes = [code for code in map(normalise_tag, [*tags, language_hint]) if code]
    catalog = load_catalog()
    return next((code for code in codes if catalog.is_supported(code)), codes[0] if codes else None)


def conversation_key(channel: str, external_id: str) -> str:
    """The per-conversation limits' key: known before anything is read or written."""
    return f"{channel}:{external_id}"


class Router:
    def __init__(self, settings: Settings, store: ConversationStore, rasa: RasaClient, limits: Limits) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.limits = limits
        self.catalog = load_catalog()
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
        language_hints: list[str] | None = None,
        language_choice: str | None = None,
        channel_payload: str | None = None,
        client: str | None = None,
    ) -> Turn:
        """One user message. `channel_payload` is a payload of the channel's own
        menu or command (Telegram's /help), let through like an offered button;
        `language_hints` are the client's languages in order of preference (the
        first supported one is the hint); `client` is the client address (web
        chat), for the per-client limits. Never raises: a turn that fails answers
        "something went wrong" in the user's language and marks the message failed."""
        started = time.monotonic()
        hint, choice = choose_hint(language_hint, language_hints), normalise_tag(language_choice)
        progress = _Progress(self._current_language(None, choice, hint), choice, hint, valid_hints(language_hints))
        try:
            turn = await self._admit(channel, external_id, client, progress)
            if turn is None:
                turn = await self._handle(channel, external_id, raw_text, channel_payload, progress)
        except Exception:  # noqa: BLE001 - whatever broke, the user hears about it
            turn = await self._failed(channel, progress)
        seconds = time.monotonic() - started

        async def observe() -> None:
            metrics.observe_turn(channel, turn.language, seconds, turn.fallback)

        turn.deferred.insert(0, observe)
        return turn

    async def greet(
        self,
        channel: str,
        external_id: str,
        *,
        language_hint: str | None = None,
        language_hints: list[str] | None = None,
        client: str | None = None,
    ) -> Turn:
        """The assistant's own greeting and topic menu, asked for by the channel when a new
        conversation opens (no user message is stored: nobody said anything yet). Only at the
        start: once the conversation has messages, nothing. If the assistant cannot be reached
        the user hears nothing yet; their first message gets the usual answer."""
        hint = choose_hint(language_hint, language_hints)
        progress = _Progress(self._current_language(None, None, hint), None, hint, valid_hints(language_hints))
        try:
            turn = await self._admit(channel, external_id, client, progress)
            if turn is None:
                turn = await self._greet(channel, external_id, progress)
        except Exception:  # noqa: BLE001 - a greeting that failed is no loss to the user
            log.exception("the greeting on %s failed", channel)
            turn = Turn(progress.conversation_id, progress.language, [])
        return turn

    async def _greet(self, channel: str, external_id: str, progress: _Progress) -> Turn:
        conversation = await self.conversation(channel, external_id)
        progress.conversation_id = conversation.id
        language = self._current_language(conversation.language, None, progress.hint)
        if await to_thread.run_sync(self.store.history, conversation.id, 1):
            return Turn(conversation.id, language, [])
        metadata = {k: v for k, v in {"channel": channel, "language_hint": progress.hint,
                                      META_HINTS: progress.hints}.items() if v}
        try:
            raw_replies, state = await self.rasa.turn(conversation.id, GREETING_PAYLOAD, metadata)
        except AssistantUnavailable:
            metrics.count_unavailable(channel)
            return Turn(conversation.id, language, [])
        language = state.language or language
        replies = [self._reply(raw, language) for raw in raw_replies]
        offered = [b["payload"] for r in replies for b in r.buttons if b.get("payload")]
        await to_thread.run_sync(lambda: self._store_replies(conversation.id, replies, language, offered=offered))
        return Turn(conversation.id, language, replies, state=conversation.state)

    async def admit(self, channel: str, external_id: str, language: str) -> Turn | None:
        """For a channel's own events that count as messages (Telegram's stickers, /start,
        the language menu): None when within the conversation's limit, else the refusal."""
        return await self._admit(channel, external_id, None, _Progress(language))

    async def _admit(self, channel: str, external_id: str, client: str | None, progress: _Progress) -> Turn | None:
        """The rate limits, before anything is stored: a refused message is not written anywhere
        (so a flood cannot fill the database) and only the first few refusals are answered."""
        key = conversation_key(channel, external_id)
        allowed = (client is None or await self.limits.hit("client_messages", client)) and \
            await self.limits.hit("conversation_messages", key)
        if allowed:
            return None
        metrics.count_refused(channel, "rate_limited")
        if not await self.limits.hit("refusal_notices", key):
            return Turn(None, progress.language, [])
        conversation = await to_thread.run_sync(self.store.find, channel, external_id)
        language = self._current_language(conversation.language if conversation else None, progress.choice,
                                          progress.hint)
        return Turn(conversation.id if conversation else None, language,
                    [Reply(text=localized(language, "gateway.rate_limited"), language=language)])

    async def _handle(
        self, channel: str, external_id: str, raw_text: Any, channel_payload: str | None, progress: _Progress
    ) -> Turn:
        hint, choice = progress.hint, progress.choice
        text = clean(raw_text)
        refusal = self._refusal(text)

        def incoming(conversation: Conversation) -> dict[str, Any] | None:
            """The user's message as stored (before Rasa sees it), in the conversation's first transaction."""
            if refusal:
                return None
            stored_text = mask(text) if conversation.state in CONTACT_STATES else text
            return {"direction": "in", "sender": "user", "text": stored_text,
                    "language": self._current_language(conversation.language, choice, hint)}

        conversation, message_id = await to_thread.run_sync(self.store.receive, channel, external_id, incoming)
        progress.conversation_id = conversation.id
        language = progress.language = self._current_language(conversation.language, choice, hint)
        if refusal:
            metrics.count_refused(channel, refusal[0].removeprefix("gateway."))
            return await self._refuse(conversation.id, text, language, refusal)
        progress.message_id = message_id

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
            META_HINTS: progress.hints,
            "language_choice": choice,
        }
        metadata = {k: v for k, v in metadata.items() if v}
        try:
            raw_replies, state = await self.rasa.turn(conversation.id, text, metadata)
        except AssistantUnavailable:
            metrics.count_unavailable(channel)
            return await self._say_locally(conversation.id, message_id, language, ("gateway.unavailable", {}),
                                           status="failed")
        language = progress.language = state.language or language
        parse = state.latest_message or {}
        intent = (parse.get("intent") or {}).get("name")
        replies = [self._reply(raw, language) for raw in raw_replies]
        mark_feedback(replies, intent)
        offered = [b["payload"] for r in replies for b in r.buttons if b.get("payload")]
        await to_thread.run_sync(lambda: self._store_replies(
            conversation.id, replies, language, intent, mark=(message_id, "answered"), offered=offered))
        request = next((r.custom["handoff"] for r in replies if isinstance(r.custom, dict) and "handoff" in r.custom),
                       None)
        shown = [r for r in replies if not (isinstance(r.custom, dict) and "handoff" in r.custom)]
        turn = Turn(conversation.id, language, shown, fallback=state.fallback,
                    state=None if request is not None else conversation.state)
        said = None if text.startswith("/") else text
        if self.insights is not None and parse:
            turn.deferred.append(lambda: to_thread.run_sync(lambda: self.insights.record_turn(
                conversation.id, channel=channel, parse_data=parse, text=said)))
        if self.insights is not None and (chosen := chosen_topic(text)):
            # A "did you mean" button: the question typed before it becomes a labelled example.
            turn.deferred.append(lambda: to_thread.run_sync(lambda: self.insights.record_choice(
                conversation.id, channel=channel, topic=chosen, language=language,
                question=previous_question(self.store, conversation.id, message_id))))
        if isinstance(request, dict) and self.handoff is not None:
            conversation.language = language
            reason = str(request.get("reason") or "user_request")
            topic = request.get("topic") if isinstance(request.get("topic"), str) else None
            if self.insights is not None:
                turn.deferred.append(lambda: to_thread.run_sync(lambda: self.insights.record(
                    conversation.id, channel=channel, reason="handoff_request", trigger=reason, topic=topic,
                    language=language, text=said, intents=top_intents(parse))))
            turn.replies += await self.handoff.request(conversation, reason=reason, topic=topic, language=language)
        return turn

    async def _failed(self, channel: str, progress: _Progress) -> Turn:
        """The turn raised: log it with an id the user can quote, tell the user, mark the message."""
        error_id = secrets.token_hex(4)
        log.exception("turn failed on %s (error %s, conversation %s, message %s)", channel, error_id,
                      progress.conversation_id, progress.message_id)
        metrics.count_failed_turn(channel)
        reply = Reply(text=localized(progress.language, "gateway.failed", error_id=error_id),
                      language=progress.language)
        if progress.conversation_id is not None:
            try:
                await to_thread.run_sync(lambda: self._store_failure(progress, reply))
            except Exception:  # noqa: BLE001 - the database may be what failed; recovery marks it later
                log.warning("could not mark message %s failed (error %s)", progress.message_id, error_id)
        return Turn(progress.conversation_id, progress.language, [reply])

    def _store_failure(self, progress: _Progress, reply: Reply) -> None:
        if progress.message_id is not None:
            self.store.set_message_status(progress.message_id, "failed")
        self.store.add_message(progress.conversation_id, "out", "system", reply.text, language=reply.language,
                               status="sent")

    # --- messages a crash left behind ------------------------------------------

    @property
    def stranded_after(self) -> timedelta:
        """How old a 'received' message must be before it counts as stranded: longer than any
        turn can take on a live gateway (three Rasa requests at most, and a margin)."""
        seconds = self.settings.stranded_message_seconds
        return timedelta(seconds=3 * self.settings.rasa_timeout + 30 if seconds is None else seconds)

    async def recover_stranded(self) -> int:
        """Messages left 'received' by a process that died in their turn: marked failed, and
        their conversations told (once each) to send them again. Returns how many."""
        stranded = await to_thread.run_sync(self.store.strand_received, self.stranded_after)
        for conversation_id in dict.fromkeys(conversation for _, conversation in stranded):
            conversation = await to_thread.run_sync(self.store.get, conversation_id)
            if conversation is None:
                continue
            language = conversation.language or self.catalog.default
            reply = Reply(text=localized(language, "gateway.recovered"), language=language)
            await to_thread.run_sync(functools.partial(
                self.store.add_message, conversation_id, "out", "system", reply.text, language=language,
                status="sent"))
            try:
                await self.deliver(conversation_id, [reply])
            except Exception:  # noqa: BLE001 - the note stays in the history for the next visit
                log.warning("could not tell conversation %s about its failed message", conversation_id)
        if stranded:
            log.warning("marked %d stranded message(s) failed", len(stranded))
            metrics.count_recovered(len(stranded))
        return len(stranded)

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
        await to_thread.run_sync(lambda: self._store_replies(conversation_id, replies, language, offered=offered,
                                                             update_language=False))
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

    def _refusal(self, text: str) -> tuple[str, dict] | None:
        if not text:
            return ("gateway.empty", {})
        if len(text) > self.settings.max_message_chars:
            return ("gateway.too_long", {"max_chars": self.settings.max_message_chars})
        return None

    async def _refuse(self, conversation_id: str, text: str, language: str, refusal: tuple[str, dict]) -> Turn:
        """An empty or over-long message: the store keeps a marker with its length, never its text."""
        reason = refusal[0].removeprefix("gateway.")
        message_id = await to_thread.run_sync(lambda: self.store.add_message(
            conversation_id, "in", "user", None, {"refused": reason, "chars": len(text)}, language,
            status="refused"))
        return await self._say_locally(conversation_id, message_id, language, refusal, status="refused")

    async def _say_locally(
        self, conversation_id: str, message_id: int, language: str, what: tuple[str, dict], status: str = "answered"
    ) -> Turn:
        key, values = what
        reply = Reply(text=localized(language, key, **values), language=language)
        await to_thread.run_sync(lambda: self.store.record_replies(
            conversation_id, [{"direction": "out", "sender": "system", "text": reply.text, "language": language}],
            mark=(message_id, status)))
        return Turn(conversation_id, language, [reply])

    def _store_replies(
        self, conversation_id: str, replies: list[Reply], language: str, intent: str | None = None, *,
        mark: tuple[int, str] | None = None, offered: list[str] | None = None, update_language: bool = True,
    ) -> None:
        """The assistant's replies, the user message's status and the conversation's language and
        offered buttons, in one transaction; each reply learns its stored id."""
        rows = []
        for reply in replies:
            payload = {k: v for k, v in reply.as_dict().items() if k != "text"}
            if reply.asks_feedback or reply.asks_rating:
                payload.update(intent=intent, asks_feedback=reply.asks_feedback, asks_rating=reply.asks_rating)
                # The whole answer (it may come in several messages), for a 👎 to log.
                payload["answer"] = "\n\n".join(r.text for r in replies if r.text)
            rows.append({"direction": "out", "sender": "bot", "text": reply.text, "payload": payload or None,
                         "language": language})
        ids = self.store.record_replies(conversation_id, rows, mark=mark,
                                        language=language if update_language else None, offered=offered)
        for reply, message_id in zip(replies, ids, strict=True):
            reply.message_id = message_id

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
