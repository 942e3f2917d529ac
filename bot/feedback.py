"""Feedback on the assistant: 👍/👎 under answers to service topics, and an
optional 1-5 rating when the user says goodbye (work package 6).

The router marks which replies ask for it; the channels show the buttons (our
widget, Telegram) and send the user's choice back here. Each message takes one
answer per kind; a 👎 logs the question and the answer given (masked) in the
unresolved log.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from anyio import to_thread

from bot.console.topics import topic_titles
from bot.store.repository import ConversationStore
from bot.texts import text as localized

if TYPE_CHECKING:
    from bot.insights.log import InsightsLog
    from bot.router import Reply

ANSWER, RATING = "answer", "rating"
GOODBYE = "goodbye"


@lru_cache(maxsize=1)
def topic_intents() -> frozenset[str]:
    return frozenset(topic_titles("en"))


def mark_feedback(replies: list[Reply], intent: str | None) -> None:
    """The last text reply to a topic question asks 👍/👎; to a goodbye, a rating."""
    texts = [r for r in replies if r.text]
    if not texts or not intent:
        return
    if intent in topic_intents():
        texts[-1].asks_feedback = True
    elif intent == GOODBYE:
        texts[-1].asks_rating = True


def valid_value(kind: str, value: object) -> int | None:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if kind == ANSWER and number in (-1, 1):
        return number
    if kind == RATING and 1 <= number <= 5:
        return number
    return None


class FeedbackService:
    def __init__(self, store: ConversationStore, insights: InsightsLog | None = None) -> None:
        self.store = store
        self.insights = insights

    async def give(self, channel: str, external_id: str, message_id: object, kind: str, value: object) -> Reply | None:
        """The user's 👍/👎 (kind answer, value ±1) or rating (1-5) on one of the
        assistant's messages; the thank-you to show, or None if refused."""
        from bot.router import Reply

        number = valid_value(kind, value)
        if number is None or not isinstance(message_id, int):
            return None
        conversation = await to_thread.run_sync(self.store.find, channel, external_id)
        message = await to_thread.run_sync(self.store.message, message_id)
        if conversation is None or message is None or message.conversation_id != conversation.id:
            return None
        payload = message.payload or {}
        if not payload.get("asks_feedback" if kind == ANSWER else "asks_rating"):
            return None
        if not await to_thread.run_sync(self.store.claim_feedback, message_id, kind):
            return None
        language = message.language or conversation.language or "fi"
        if self.insights is not None:
            question = await to_thread.run_sync(self.store.user_text_before, conversation.id, message_id) \
                if kind == ANSWER else None
            await to_thread.run_sync(lambda: self.insights.record_feedback(
                conversation.id, channel=channel, language=language, kind=kind, value=number,
                topic=payload.get("intent") if kind == ANSWER else None,
                question=question if number < 0 else None,
                answer=(payload.get("answer") or message.text) if number < 0 else None))
        key = "feedback.rating_thanks" if kind == RATING else \
            "feedback.thanks" if number > 0 else "feedback.not_helpful_reply"
        reply = Reply(text=localized(language, key), language=language)
        reply.message_id = await to_thread.run_sync(
            lambda: self.store.add_message(conversation.id, "out", "system", reply.text, {"feedback": kind},
                                           language, status="sent"))
        return reply
