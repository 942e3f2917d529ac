"""SQLAlchemy models (1.4, used in the 2.0 style). Alembic migrations in migrations/."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives datetimes back without a time zone: they were stored in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def new_id() -> str:
    return uuid.uuid4().hex


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_conversation_channel_external"),)

    id = Column(String(32), primary_key=True, default=new_id)
    channel = Column(String(20), nullable=False)
    # The channel's own id: the web chat session id, the Telegram chat id.
    external_id = Column(String(128), nullable=False)
    language = Column(String(16), nullable=True)
    # bot, waiting, with_adviser, closed, ... (the handoff state machine)
    state = Column(String(20), nullable=False, default="bot")
    # Payloads of the buttons the assistant offered last: the only "/..." texts let through.
    offered_payloads = Column(JSON, nullable=False, default=list)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    # Set when the user ended it ("end and forget" in the widget): its session id no longer restores it.
    ended_at = Column(DateTime(timezone=True), nullable=True)
    # Whether the user's chat is still open, for the advisers (bot/store/client_presence.py):
    # the web chat widget's last connection (a new conversation: its first message) and
    # disconnection; Telegram: when a message to the user was refused (they blocked the bot).
    client_connected_at = Column(DateTime(timezone=True), nullable=True, default=utcnow)
    client_disconnected_at = Column(DateTime(timezone=True), nullable=True)
    client_blocked_at = Column(DateTime(timezone=True), nullable=True)

    messages = relationship("Message", back_populates="conversation", order_by="Message.id")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_status_created_at", "status", "created_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    # in: from the user; out: to the user
    direction = Column(String(3), nullable=False)
    # user, bot, adviser, system
    sender = Column(String(16), nullable=False)
    text = Column(Text, nullable=True)
    # Buttons, custom payloads, attachments of a reply.
    payload = Column(JSON, nullable=True)
    language = Column(String(16), nullable=True)
    # in: received -> answered | failed | to_adviser, or refused (empty, too long: no text kept);
    # out: sent, event (a handoff event line)
    status = Column(String(16), nullable=False, default="received")
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    conversation = relationship("Conversation", back_populates="messages")


class Adviser(Base):
    """A console account (created with `python -m bot adviser add`)."""

    __tablename__ = "advisers"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    # Shown to users when the adviser joins ("Adviser Anna joined the chat").
    display_name = Column(String(64), nullable=False)
    password_hash = Column(Text, nullable=False)
    # adviser, admin or analyst
    role = Column(String(16), nullable=False, default="adviser")
    # Languages the adviser serves in (ISO 639-1): their queue is sorted by these.
    languages = Column(JSON, nullable=False, default=list)
    # The console's own language: fi or en.
    ui_language = Column(String(8), nullable=False, default="fi")
    active = Column(Boolean, nullable=False, default=True)
    # Taking chats now (the adviser's own switch in the console).
    available = Column(Boolean, nullable=False, default=True)
    # Last request from the adviser's console: "online" means seen recently.
    last_seen_at = Column(DateTime(timezone=True), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class AdviserSession(Base):
    """A signed-in console session. The cookie holds a random token; only its
    SHA-256 is stored, so a copy of the database cannot be used to sign in."""

    __tablename__ = "adviser_sessions"

    token_hash = Column(String(64), primary_key=True)
    adviser_id = Column(Integer, ForeignKey("advisers.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)


class SignInFailure(Base):
    """Sign-in attempts being checked, and the failed ones (bot/console/auth.py): counted
    per username, per client address, and per trusted device, to slow down guessing.
    An attempt is stored *before* its password is checked, so that parallel guesses
    count against each other."""

    __tablename__ = "sign_in_failures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, index=True)
    client = Column(String(64), nullable=False, index=True)
    # The trusted device (SignInDevice.token_hash) the attempt came from, if any: such
    # attempts count only against that device, not against the username or address.
    device = Column(String(64), nullable=True, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class SignInDevice(Base):
    """A browser an adviser signed in from before (OWASP's "device cookie"): the cookie
    holds a random token, the database its SHA-256. Sign-ins from it are exempt from the
    lock-out of untrusted clients, so nobody can lock an adviser out of their own account."""

    __tablename__ = "sign_in_devices"

    token_hash = Column(String(64), primary_key=True)
    adviser_id = Column(Integer, ForeignKey("advisers.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)


# Handoff statuses that end a handoff (bot/handoff/store.py); any other status is open.
# `duplicate`: a second open handoff of one conversation, ended by migration 0005.
HANDOFF_ENDED = ("closed", "user_left", "contact_requested", "declined", "duplicate")
OPEN_HANDOFF = text("status NOT IN ({})".format(", ".join(f"'{s}'" for s in HANDOFF_ENDED)))


class Handoff(Base):
    """One request for a person and what became of it.

    waiting -> with_adviser -> closed; waiting -> user_left | timeout;
    with_adviser -> adviser_timeout (the adviser stopped answering);
    outside_hours | no_adviser | timeout | adviser_timeout -> contact_requested | declined.
    A conversation has at most one open handoff (a partial unique index).
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_requested_at", "status", "requested_at"),
        Index("uq_handoffs_open_conversation", "conversation_id", unique=True,
              sqlite_where=OPEN_HANDOFF, postgresql_where=OPEN_HANDOFF),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
                             index=True)
    status = Column(String(20), nullable=False)
    # user_request, button, fallback_offer, interpreter
    reason = Column(String(32), nullable=False)
    # The topic the assistant last understood, if any.
    topic = Column(String(64), nullable=True)
    language = Column(String(16), nullable=False)
    channel = Column(String(20), nullable=False)
    requested_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    ended_at = Column(DateTime(timezone=True), nullable=True)
    adviser_id = Column(Integer, ForeignKey("advisers.id", ondelete="SET NULL"), nullable=True, index=True)
    # The adviser's last action in this chat (taking it, a message, a transfer): the
    # adviser inactivity timeout counts from here.
    adviser_active_at = Column(DateTime(timezone=True), nullable=True)
    # The catalogue topic the adviser chose when closing.
    outcome_topic = Column(String(64), nullable=True)
    # The queue position the user was last told (to tell them only when it changes).
    told_position = Column(Integer, nullable=True)
    # Contact details typed but not yet confirmed with consent.
    pending_contact = Column(Text, nullable=True)


class ContactRequest(Base):
    """Contact details a user left (with consent) when no adviser could chat."""

    __tablename__ = "contact_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True,
                             index=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="SET NULL"), nullable=True)
    channel = Column(String(20), nullable=False)
    # The language the user wants to be contacted in.
    language = Column(String(16), nullable=False)
    # phone (E.164) or email
    contact_type = Column(String(8), nullable=False)
    contact = Column(String(320), nullable=False)
    topic = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    handled_at = Column(DateTime(timezone=True), nullable=True)
    handled_by = Column(Integer, ForeignKey("advisers.id", ondelete="SET NULL"), nullable=True)


class UnresolvedQuestion(Base):
    """A turn the assistant could not resolve, for work package 6 (bot/insights/log.py).

    No link to the conversation: `conversation_key` is an HMAC of the conversation id
    (never the channel's user id), so rows outlive the conversation's retention and
    can still be grouped by conversation. Free text is masked before it is stored.
    """

    __tablename__ = "unresolved_questions"
    __table_args__ = (
        Index("ix_unresolved_questions_created_at", "created_at"),
        Index("ix_unresolved_questions_conversation_key", "conversation_key", "created_at"),
        Index("ix_unresolved_questions_label_status", "label_status", "created_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    conversation_key = Column(String(32), nullable=False)
    channel = Column(String(20), nullable=False)
    # The language the assistant answered in (the conversation's).
    language = Column(String(16), nullable=True)
    # The user's message, masked (bot/privacy/masking.py).
    text = Column(Text, nullable=True)
    # The classifier's top three: [{"name": ..., "confidence": ...}].
    intents = Column(JSON, nullable=True)
    # nlu_fallback, ambiguous, out_of_scope, unsupported_language, negative_feedback,
    # handoff_request, contact_request
    reason = Column(String(32), nullable=False)
    # unsupported_language: the language the message was written in.
    detected_language = Column(String(16), nullable=True)
    # negative_feedback: the answer the user disliked (masked) and its topic; handoff and
    # contact requests: the topic the assistant last understood.
    answer = Column(Text, nullable=True)
    topic = Column(String(64), nullable=True)
    # handoff_request: user_request, button, fallback_offer, interpreter
    trigger = Column(String(20), nullable=True)
    # What became of it: answered_by_adviser (with outcome_topic), contact_handled, user_left, timeout.
    outcome = Column(String(32), nullable=True)
    outcome_topic = Column(String(64), nullable=True)
    outcome_at = Column(DateTime(timezone=True), nullable=True)
    # The NLU inbox (bot/insights/inbox.py): new, labelled (label_intent), new_topic, dismissed.
    label_status = Column(String(16), nullable=False, default="new")
    label_intent = Column(String(64), nullable=True)
    labelled_by = Column(String(64), nullable=True)
    labelled_at = Column(DateTime(timezone=True), nullable=True)


class FeedbackClaim(Base):
    """That a message got its 👍/👎 (kind answer) or rating: one per message and kind, so
    two parallel clicks cannot both be counted. Goes with the message (retention)."""

    __tablename__ = "feedback_claims"
    __table_args__ = (PrimaryKeyConstraint("message_id", "kind"),)

    message_id = Column(Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(8), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class Feedback(Base):
    """Thumbs up/down on an answer, or a 1-5 rating of the conversation."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_created_at", "created_at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_key = Column(String(32), nullable=False, index=True)
    channel = Column(String(20), nullable=False)
    language = Column(String(16), nullable=True)
    # answer (value 1 = thumbs up, -1 = thumbs down) or rating (value 1-5)
    kind = Column(String(8), nullable=False)
    value = Column(Integer, nullable=False)
    # The intent/topic of the answer the feedback is about (answer), if known.
    topic = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
