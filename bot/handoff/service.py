"""The handoff state machine.

    bot -> waiting -> with_adviser -> closed (back to the assistant)
    waiting -> user_left | timeout;  with_adviser -> user_left | adviser_timeout
    with_adviser -> waiting (transfer to the queue, an admin's requeue, the adviser disabled)
    outside_hours | no_adviser | timeout | adviser_timeout -> contact_requested | declined

The assistant's action only asks for a person; this service decides what
happens (queue, outside hours, nobody online), and every outcome is told to the
user by the assistant itself (`/EXTERNAL_<event>` payloads, see
data/rules_handoff.yml), so the user hears it in their own language. While the
user waits or talks with an adviser, their messages go to the adviser, never to
Rasa. Everything is in the database, so a restart loses nothing. The sweep
(every `sweep_seconds`) ends waits that took too long, chats whose adviser
stopped answering (`adviser_inactivity_minutes`), and requeues the chats of
disabled advisers, so no user is left waiting for nobody.

The conversation's `state` says what the next user message means: bot,
waiting, with_adviser, contact_offer, contact_details, contact_consent.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from anyio import to_thread
from babel.core import UnknownLocaleError
from babel.dates import format_skeleton, format_time

from bot.handoff.config import HandoffConfig
from bot.handoff.contact import read_contact
from bot.handoff.store import BOT, OFFERING, HandoffStore, HandoffView
from bot.language.catalog import load_catalog
from bot.store.models import Adviser, Conversation, utcnow
from bot.store.repository import ConversationStore

log = logging.getLogger(__name__)

STOP = "/stop"
CONTACT_REQUEST = "/contact_request"
CONTACT_DECLINE = "/contact_decline"
CONTACT_CONSENT = "/contact_consent"
WAITING, WITH_ADVISER = "waiting", "with_adviser"
CONTACT_OFFER, CONTACT_DETAILS, CONTACT_CONSENT_STATE = "contact_offer", "contact_details", "contact_consent"


class Voice(Protocol):
    """How the service talks to users (implemented by the Router)."""

    async def event_replies(self, conversation_id: str, event: str, entities: dict[str, Any]) -> list:
        """The assistant's localized replies to `/EXTERNAL_<event>`, stored."""

    async def deliver(self, conversation_id: str, replies: list) -> None:
        """Send replies to the user's channel outside a user turn."""

    async def adviser_said(self, conversation_id: str, text: str, adviser_name: str) -> None:
        """Store and send an adviser's message."""


Publisher = Callable[[str, dict[str, Any]], Awaitable[None]]


def format_opening(moment: datetime, language: str) -> str:
    """"Tue, December 1 9:00 AM", "ti 1. joulukuuta 9.00": the date and time in the user's language."""
    try:
        day = format_skeleton("MMMMEEEEd", moment, locale=language)
        return f"{day} {format_time(moment, 'short', locale=language)}"
    except (ValueError, LookupError, UnknownLocaleError):
        return f"{format_skeleton('MMMMEEEEd', moment, locale='en')} {format_time(moment, 'short', locale='en')}"


def consent_language(text: str) -> str | None:
    if not text.startswith(CONTACT_CONSENT + "{"):
        return None
    try:
        code = json.loads(text[len(CONTACT_CONSENT):]).get("language")
    except (ValueError, AttributeError):
        return None
    return code if load_catalog().is_supported(code) else None


class HandoffService:
    def __init__(self, store: HandoffStore, conversations: ConversationStore, config: HandoffConfig,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.conversations = conversations
        self.config = config
        self.clock = clock
        self.voice: Voice | None = None
        # The work-package-6 log (bot/insights/log.py), told what became of each request.
        self.insights: Any = None
        self._publishers: list[Publisher] = []

    def subscribe(self, publisher: Publisher) -> None:
        """`publisher(kind, data)` hears every change advisers should see (the console)."""
        self._publishers.append(publisher)

    async def publish(self, kind: str, **data: Any) -> None:
        for publisher in self._publishers:
            try:
                await publisher(kind, data)
            except Exception:  # noqa: BLE001 - a console that went away must not break a user's turn
                log.exception("publishing %s to the console failed", kind)

    async def _db(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        return await to_thread.run_sync(lambda: function(*args, **kwargs))

    async def _log_outcome(self, conversation_id: str, outcome: str, topic: str | None = None) -> None:
        if self.insights is not None:
            await self._db(self.insights.record_outcome, conversation_id, outcome, topic)

    # --- the user asks for a person ---------------------------------------

    async def request(self, conversation: Conversation, *, reason: str, topic: str | None, language: str) -> list:
        """Called when the assistant asked for a person: queue the user, or offer a contact request."""
        current = await self._db(self.store.current, conversation.id)
        if current and current.status in (WAITING, WITH_ADVISER):
            return []  # already handed over
        now = self.clock()
        online = await self._db(self.store.online_advisers, self.config.adviser_online_seconds, now)
        if not self.config.hours.is_open(now):
            opening = self.config.hours.next_opening(now)
            status = "outside_hours" if opening else "no_adviser"
            if not await self._db(self.store.open_handoff, conversation.id, status=status, state=CONTACT_OFFER,
                                  reason=reason, topic=topic, language=language, channel=conversation.channel):
                return []  # a parallel request opened one first
            await self.publish("handoffs")
            if opening:
                return await self._say(conversation.id, "outside_hours",
                                       next_open=format_opening(opening, language))
            return await self._say(conversation.id, "no_adviser")
        if not online:
            if not await self._db(self.store.open_handoff, conversation.id, status="no_adviser", state=CONTACT_OFFER,
                                  reason=reason, topic=topic, language=language, channel=conversation.channel):
                return []
            await self.publish("handoffs")
            return await self._say(conversation.id, "no_adviser")
        handoff = await self._db(self.store.open_handoff, conversation.id, status=WAITING, state=WAITING,
                                 reason=reason, topic=topic, language=language, channel=conversation.channel)
        if handoff is None:
            return []
        position = await self._position_of(handoff.id)
        await self._db(self.store.change, handoff.id, expect_status=(WAITING,), told_position=position)
        replies = await self._say(conversation.id, "handoff_queued", **await self._queue_entities(position))
        await self.publish("queue")
        return replies

    # --- the user writes while handed over ---------------------------------

    async def user_message(self, conversation: Conversation, text: str, message_id: int) -> list | None:
        """A message while the conversation is not with the assistant. Returns the
        replies, or None when the assistant should answer it after all."""
        handoff = await self._db(self.store.current, conversation.id)
        if handoff is None:
            await self._db(self.store.set_state, conversation.id, BOT)
            return None
        state = conversation.state
        if state in (WAITING, WITH_ADVISER):
            if text == STOP:
                return await self._user_leaves(handoff)
            await self._db(self.conversations.set_message_status, message_id, "to_adviser")
            await self.publish("message", conversation_id=conversation.id, handoff_id=handoff.id)
            return []
        if text == CONTACT_DECLINE or (state == CONTACT_OFFER and text != CONTACT_REQUEST):
            declined = await self._db(self.store.change, handoff.id, expect_status=OFFERING, status="declined",
                                      ended_at=self.clock(), pending_contact=None, state=BOT)
            await self.publish("handoffs")
            if text != CONTACT_DECLINE:
                return None  # the user went on with a question: the assistant answers it
            return await self._say(conversation.id, "contact_declined") if declined else []
        if state == CONTACT_OFFER:
            await self._db(self.store.set_state, conversation.id, CONTACT_DETAILS)
            return await self._say(conversation.id, "contact_ask")
        if state == CONTACT_CONSENT_STATE and (language := consent_language(text)):
            return await self._save_contact_request(conversation, handoff, language)
        contact = read_contact(text)
        if contact is None:
            if state == CONTACT_CONSENT_STATE:
                return await self._say(conversation.id, "contact_consent",
                                       retention_days=str(self.config.contact_request_days))
            return await self._say(conversation.id, "contact_invalid")
        await self._db(self.store.change, handoff.id, expect_status=OFFERING, state=CONTACT_CONSENT_STATE,
                       pending_contact=json.dumps({"kind": contact.kind, "value": contact.value}))
        return await self._say(conversation.id, "contact_consent",
                               retention_days=str(self.config.contact_request_days))

    async def _save_contact_request(self, conversation: Conversation, handoff: HandoffView, language: str) -> list:
        pending = await self._db(self.store.pending_contact, handoff.id)
        if not pending:
            await self._db(self.store.set_state, conversation.id, CONTACT_DETAILS)
            return await self._say(conversation.id, "contact_ask")
        saved = await self._db(self.store.change, handoff.id, expect_status=OFFERING, status="contact_requested",
                               ended_at=self.clock(), pending_contact=None, state=BOT)
        if not saved:
            return []
        await self._db(self.store.add_contact_request, conversation.id, handoff.id, channel=conversation.channel,
                       language=language, contact_type=pending["kind"], contact=pending["value"],
                       topic=handoff.topic)
        if self.insights is not None:
            await self._db(self.insights.record, conversation.id, channel=conversation.channel,
                           reason="contact_request", topic=handoff.topic, language=handoff.language)
        await self.publish("contacts")
        return await self._say(conversation.id, "contact_saved")

    async def end_for_user(self, conversation_id: str) -> None:
        """The user ended the whole conversation (the widget's "end and forget"): a chat or a
        place in the queue ends as if they had left; a contact request not yet given is dropped
        together with any details typed for it."""
        handoff = await self._db(self.store.current, conversation_id)
        if handoff is None:
            return
        if handoff.status in (WAITING, WITH_ADVISER):
            await self._user_leaves(handoff)
            return
        declined = await self._db(self.store.change, handoff.id, expect_status=OFFERING, status="declined",
                                  ended_at=self.clock(), pending_contact=None, state=BOT)
        if declined:
            await self.publish("handoffs")

    async def _user_leaves(self, handoff: HandoffView) -> list:
        left = await self._db(self.store.change, handoff.id, expect_status=(WAITING, WITH_ADVISER),
                              status="user_left", ended_at=self.clock(), state=BOT)
        if not left:
            return []
        await self._event(handoff.conversation_id, "user_left")
        await self._log_outcome(handoff.conversation_id, "user_left")
        await self.publish("queue")
        await self.publish("message", conversation_id=handoff.conversation_id, handoff_id=handoff.id)
        await self.refresh_positions()
        return await self._say(handoff.conversation_id, "user_ended")

    # --- advisers ------------------------------------------------------------

    async def claim(self, handoff_id: int, adviser: Adviser) -> bool:
        """Take a waiting user. Of two advisers claiming at once exactly one wins."""
        claimed = await self._db(self.store.claim, handoff_id, adviser.id, self.clock())
        if not claimed:
            return False
        handoff = await self._db(self.store.get, handoff_id)
        await self._event(handoff.conversation_id, "adviser_joined", adviser.display_name)
        await self._announce(handoff.conversation_id, "adviser_joined", adviser_name=adviser.display_name)
        await self.publish("queue")
        await self.refresh_positions()
        return True

    async def adviser_message(self, handoff_id: int, adviser: Adviser, text: str) -> bool:
        handoff = await self._db(self.store.get, handoff_id)
        if handoff is None or handoff.status != WITH_ADVISER or handoff.adviser_id != adviser.id:
            return False
        if not await self._db(self.store.change, handoff_id, expect_status=(WITH_ADVISER,), expect_adviser=adviser.id,
                              adviser_active_at=self.clock()):
            return False
        await self.voice.adviser_said(handoff.conversation_id, text, adviser.display_name)
        await self.publish("message", conversation_id=handoff.conversation_id, handoff_id=handoff_id)
        return True

    async def transfer(self, handoff_id: int, adviser: Adviser, to: Adviser | None) -> bool:
        """To another adviser, or (to=None) back to the queue."""
        if to is None:
            return await self._requeue(handoff_id, adviser.id, "requeued", adviser.display_name)
        return await self._move_to(handoff_id, adviser.id, to, "transferred")

    async def take_over(self, handoff_id: int, admin: Adviser) -> bool:
        """An admin takes another adviser's chat (e.g. one who left without closing it)."""
        handoff = await self._db(self.store.get, handoff_id)
        if handoff is None or handoff.status != WITH_ADVISER or handoff.adviser_id == admin.id:
            return False
        return await self._move_to(handoff_id, handoff.adviser_id, admin, "taken_over")

    async def requeue(self, handoff_id: int, admin: Adviser) -> bool:
        """An admin puts another adviser's chat back in the queue."""
        handoff = await self._db(self.store.get, handoff_id)
        if handoff is None or handoff.status != WITH_ADVISER:
            return False
        return await self._requeue(handoff_id, handoff.adviser_id, "requeued", admin.display_name)

    async def _move_to(self, handoff_id: int, from_id: int | None, to: Adviser, event: str) -> bool:
        moved = to.active and to.id != from_id and await self._db(
            self.store.change, handoff_id, expect_status=(WITH_ADVISER,), expect_adviser=from_id, adviser_id=to.id,
            adviser_active_at=self.clock())
        if not moved:
            return False
        handoff = await self._db(self.store.get, handoff_id)
        await self._event(handoff.conversation_id, event, to.display_name)
        await self._announce(handoff.conversation_id, "adviser_transferred", adviser_name=to.display_name)
        await self.publish("queue")
        await self.publish("message", conversation_id=handoff.conversation_id, handoff_id=handoff_id)
        return True

    async def _requeue(self, handoff_id: int, from_id: int | None, event: str, by_name: str | None) -> bool:
        """Back to the queue from the adviser `from_id` (who must still have it)."""
        moved = await self._db(self.store.change, handoff_id, expect_status=(WITH_ADVISER,), expect_adviser=from_id,
                               status=WAITING, adviser_id=None, told_position=None, state=WAITING)
        if not moved:
            return False
        handoff = await self._db(self.store.get, handoff_id)
        await self._event(handoff.conversation_id, event, by_name)
        position = await self._position_of(handoff_id)
        await self._db(self.store.change, handoff_id, expect_status=(WAITING,), told_position=position)
        await self._announce(handoff.conversation_id, "handoff_requeued", **await self._queue_entities(position))
        await self.refresh_positions()
        await self.publish("queue")
        await self.publish("message", conversation_id=handoff.conversation_id, handoff_id=handoff_id)
        return True

    async def close(self, handoff_id: int, adviser: Adviser, outcome_topic: str) -> bool:
        closed = await self._db(self.store.change, handoff_id, expect_status=(WITH_ADVISER,),
                                expect_adviser=adviser.id, status="closed", ended_at=self.clock(),
                                outcome_topic=outcome_topic, state=BOT)
        if not closed:
            return False
        handoff = await self._db(self.store.get, handoff_id)
        await self._event(handoff.conversation_id, "closed", adviser.display_name)
        await self._log_outcome(handoff.conversation_id, "answered_by_adviser", outcome_topic)
        await self._announce(handoff.conversation_id, "handoff_closed")
        await self.publish("queue")
        return True

    # --- the queue -----------------------------------------------------------

    async def refresh_positions(self) -> None:
        """Tell every waiting user their new place when it changed."""
        queue = await self._db(self.store.waiting)
        for index, handoff in enumerate(queue):
            position = index + 1
            if handoff.told_position == position:
                continue
            changed = await self._db(self.store.change, handoff.id, expect_status=(WAITING,),
                                     told_position=position)
            if changed:
                await self._announce(handoff.conversation_id, "queue_moved", **await self._queue_entities(position))

    async def sweep(self) -> None:
        """Nobody is left waiting for nobody: see _sweep_queue and _sweep_chats."""
        await self._sweep_queue()
        await self._sweep_chats()

    async def _sweep_chats(self) -> None:
        """Chats of disabled advisers go back to the queue; chats whose adviser stopped
        answering end, and the user is offered a contact request."""
        for handoff, name in await self._db(self.store.chats_of_inactive_advisers):
            await self._requeue(handoff.id, handoff.adviser_id, "adviser_disabled", name)
        cutoff = self.clock() - timedelta(minutes=self.config.adviser_inactivity_minutes)
        for handoff in await self._db(self.store.idle_chats, cutoff):
            ended = await self._db(self.store.change, handoff.id, expect_status=(WITH_ADVISER,),
                                   expect_adviser=handoff.adviser_id, status="adviser_timeout",
                                   ended_at=self.clock(), state=CONTACT_OFFER)
            if ended:
                await self._event(handoff.conversation_id, "adviser_timeout")
                await self._log_outcome(handoff.conversation_id, "timeout")
                await self._announce(handoff.conversation_id, "adviser_timeout")
                await self.publish("queue")
                await self.publish("message", conversation_id=handoff.conversation_id, handoff_id=handoff.id)

    async def _sweep_queue(self) -> None:
        """Users who waited too long are offered a contact request instead."""
        cutoff = self.clock() - timedelta(minutes=self.config.waiting_timeout_minutes)
        expired = await self._db(self.store.waiting_since, cutoff)
        for handoff in expired:
            moved = await self._db(self.store.change, handoff.id, expect_status=(WAITING,), status="timeout",
                                   ended_at=self.clock(), state=CONTACT_OFFER)
            if moved:
                await self._event(handoff.conversation_id, "timeout")
                await self._log_outcome(handoff.conversation_id, "timeout")
                await self._announce(handoff.conversation_id, "wait_timeout")
        if expired:
            await self.publish("queue")
            await self.refresh_positions()

    async def _position_of(self, handoff_id: int) -> int:
        queue = await self._db(self.store.waiting)
        ids = [h.id for h in queue]
        return ids.index(handoff_id) + 1 if handoff_id in ids else len(ids) + 1

    async def _queue_entities(self, position: int) -> dict[str, str]:
        online = await self._db(self.store.online_advisers, self.config.adviser_online_seconds, self.clock())
        minutes = math.ceil(position * self.config.average_chat_minutes / max(1, len(online)))
        return {"queue_position": str(position), "wait_minutes": str(max(1, minutes))}

    # --- speaking -------------------------------------------------------------

    async def _say(self, conversation_id: str, event: str, **entities: str) -> list:
        return await self.voice.event_replies(conversation_id, event, entities)

    async def _announce(self, conversation_id: str, event: str, **entities: str) -> None:
        replies = await self._say(conversation_id, event, **entities)
        await self.voice.deliver(conversation_id, replies)

    async def _event(self, conversation_id: str, event: str, adviser_name: str | None = None) -> None:
        """A line in the transcript the adviser sees (joined, left, closed, ...)."""
        payload = {"event": event, **({"adviser": adviser_name} if adviser_name else {})}
        await self._db(self.conversations.add_message, conversation_id, "out", "system", None, payload,
                       status="event")
