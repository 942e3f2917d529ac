"""SQLAlchemy models (1.4, used in the 2.0 style). Alembic migrations in migrations/."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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

    messages = relationship("Message", back_populates="conversation", order_by="Message.id")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

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
    # received -> answered | failed (in); sent (out)
    status = Column(String(16), nullable=False, default="received")
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    conversation = relationship("Conversation", back_populates="messages")
