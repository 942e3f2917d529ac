"""Reading and writing conversations and messages (synchronous; the async
gateway calls these through a worker thread)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.client_presence import ClientTimes, client_times, mark_client
from bot.store.db import Database
from bot.store.models import Conversation, FeedbackClaim, Message, as_utc, utcnow

# How many button payloads a conversation remembers as "offered".
OFFERED_PAYLOADS_KEPT = 80


class ConversationStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    def get_or_create(self, channel: str, external_id: str) -> Conversation:
        with self.db.session() as session:
            found = self._find(session, channel, external_id)
            if found:
                return found
        try:
            with self.db.session() as session:
                conversation = Conversation(channel=channel, external_id=external_id, offered_payloads=[])
                session.add(conversation)
                session.flush()
                return conversation
        except IntegrityError:  # created concurrently by another worker
            with self.db.session() as session:
                return self._find(session, channel, external_id)

    def receive(
        self, channel: str, external_id: str, message: Callable[[Conversation], dict[str, Any] | None]
    ) -> tuple[Conversation, int | None]:
        """A user message's first transaction: the conversation (created if new) and the message
        `message(conversation)` describes (add_message's keywords; None: nothing stored), committed
        before the turn goes on. Returns the conversation and the message's id."""
        try:
            with self.db.session() as session:
                conversation = self._find(session, channel, external_id)
                if conversation is None:
                    conversation = Conversation(channel=channel, external_id=external_id, offered_payloads=[])
                    session.add(conversation)
                    session.flush()
                return conversation, self._add_message(session, conversation.id, message(conversation))
        except IntegrityError:  # created concurrently by another worker: it exists now
            with self.db.session() as session:
                conversation = self._find(session, channel, external_id)
                return conversation, self._add_message(session, conversation.id, message(conversation))

    @staticmethod
    def _message(conversation_id: str, fields: dict[str, Any]) -> Message:
        """A new message row: add_message's keywords, "received" unless they say otherwise."""
        return Message(conversation_id=conversation_id, **{"status": "received", **fields})

    @classmethod
    def _add_message(cls, session: Session, conversation_id: str, fields: dict[str, Any] | None) -> int | None:
        if fields is None:
            return None
        row = cls._message(conversation_id, fields)
        session.add(row)
        session.flush()
        return row.id

    def record_replies(
        self, conversation_id: str, replies: list[dict[str, Any]], *, mark: tuple[int, str] | None = None,
        language: str | None = None, offered: list[str] | None = None,
    ) -> list[int]:
        """The end of a turn in one transaction: the replies (add_message's keywords, each, sent),
        the user message's status (`mark`: id, status), the conversation's language and offered
        buttons. Returns the replies' ids."""
        with self.db.session() as session:
            # One flush for every reply, and the mark as one UPDATE (no SELECT of the message first):
            # this transaction ends every turn (docs/performance.md, "The gateway's CPU").
            rows = [self._message(conversation_id, {"status": "sent", **reply}) for reply in replies]
            session.add_all(rows)
            if mark is not None:
                session.execute(update(Message).where(Message.id == mark[0]).values(status=mark[1])
                                .execution_options(synchronize_session=False))
            if language or offered is not None:
                self._update(session.get(Conversation, conversation_id), language, offered)
            session.flush()
            return [row.id for row in rows]

    def get(self, conversation_id: str) -> Conversation | None:
        with self.db.session() as session:
            return session.get(Conversation, conversation_id)

    def find(self, channel: str, external_id: str) -> Conversation | None:
        with self.db.session() as session:
            return self._find(session, channel, external_id)

    @staticmethod
    def _find(session: Session, channel: str, external_id: str) -> Conversation | None:
        return session.execute(
            select(Conversation).where(Conversation.channel == channel, Conversation.external_id == external_id)
        ).scalar_one_or_none()

    def add_message(
        self,
        conversation_id: str,
        direction: str,
        sender: str,
        text: str | None,
        payload: dict[str, Any] | None = None,
        language: str | None = None,
        status: str = "received",
    ) -> int:
        with self.db.session() as session:
            message = Message(
                conversation_id=conversation_id, direction=direction, sender=sender, text=text,
                payload=payload, language=language, status=status,
            )
            session.add(message)
            session.flush()
            return message.id

    def set_message_status(self, message_id: int, status: str) -> None:
        with self.db.session() as session:
            session.get(Message, message_id).status = status

    def update_conversation(
        self, conversation_id: str, *, language: str | None = None, offered: list[str] | None = None
    ) -> None:
        with self.db.session() as session:
            self._update(session.get(Conversation, conversation_id), language, offered)

    @staticmethod
    def _update(conversation: Conversation, language: str | None, offered: list[str] | None) -> None:
        if language:
            conversation.language = language
        if offered is not None:
            kept = [p for p in conversation.offered_payloads or [] if p not in offered] + offered
            conversation.offered_payloads = kept[-OFFERED_PAYLOADS_KEPT:]

    def last_activity(self, conversation_id: str) -> datetime:
        """The later of the conversation's last change and its last message."""
        with self.db.session() as session:
            conversation = session.get(Conversation, conversation_id)
            last_message = session.execute(
                select(func.max(Message.created_at)).where(Message.conversation_id == conversation_id)
            ).scalar_one_or_none()
            moments = [as_utc(m) for m in (conversation.updated_at, last_message) if m is not None]
            return max(moments)

    def end_conversation(self, conversation_id: str) -> None:
        with self.db.session() as session:
            session.get(Conversation, conversation_id).ended_at = utcnow()

    def strand_received(self, older_than: timedelta) -> list[tuple[int, str]]:
        """User messages left 'received' for longer than `older_than` (their turn died with a
        process) are marked failed; [(message id, conversation id)] of those this call marked.
        Each is a conditional UPDATE, so of several gateways sweeping at once one marks each."""
        cutoff = utcnow() - older_than
        marked: list[tuple[int, str]] = []
        with self.db.session() as session:
            rows = session.execute(
                select(Message.id, Message.conversation_id).where(
                    Message.status == "received", Message.direction == "in", Message.created_at < cutoff)
                .order_by(Message.id)
            ).all()
            for message_id, conversation_id in rows:
                result = session.execute(
                    update(Message).where(Message.id == message_id, Message.status == "received")
                    .values(status="failed").execution_options(synchronize_session=False))
                if result.rowcount == 1:
                    marked.append((message_id, conversation_id))
        return marked

    def history(self, conversation_id: str, limit: int = 200) -> list[Message]:
        with self.db.session() as session:
            rows = session.execute(
                select(Message).where(Message.conversation_id == conversation_id)
                .order_by(Message.id.desc()).limit(limit)
            ).scalars().all()
            return list(reversed(rows))

    def message(self, message_id: int) -> Message | None:
        with self.db.session() as session:
            return session.get(Message, message_id)

    def claim_feedback(self, message_id: int, kind: str) -> bool:
        """Mark a message's 👍/👎 or rating as given; False if it already was. The
        primary key of feedback_claims decides between parallel clicks; the
        `feedback_given` marker in the payload only tells the widget's history."""
        try:
            with self.db.session() as session:
                session.add(FeedbackClaim(message_id=message_id, kind=kind))
                session.flush()
                message = session.get(Message, message_id)
                payload = dict(message.payload or {})
                payload["feedback_given"] = sorted(set(payload.get("feedback_given") or []) | {kind})
                message.payload = payload
                return True
        except IntegrityError:
            return False

    def user_text_before(self, conversation_id: str, message_id: int) -> str | None:
        """The user's message that the message `message_id` answered."""
        with self.db.session() as session:
            return session.execute(
                select(Message.text).where(Message.conversation_id == conversation_id, Message.id < message_id,
                                           Message.direction == "in").order_by(Message.id.desc()).limit(1)
            ).scalar_one_or_none()

    def mark_client(self, channel: str, external_id: str, event: str) -> None:
        """The user's chat `connected`, `disconnected` (web chat) or `blocked` the bot (Telegram)."""
        mark_client(self.db, channel, external_id, event)

    def client_times(self, conversation_ids: list[str]) -> dict[str, ClientTimes]:
        """Connection times and when the user last wrote, per conversation (bot/store/client_presence.py)."""
        return client_times(self.db, conversation_ids)
