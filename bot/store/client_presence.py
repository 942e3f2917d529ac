"""Whether the user's end of a conversation is still there, for the advisers: the web
chat widget's connections and disconnections, a Telegram user blocking the bot, and
when the user last wrote. Kept in the database (conversations.client_*_at), so that
every gateway process sees what another one saw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bot.store.db import Database
from bot.store.models import Conversation, Message, as_utc, utcnow

# What a channel can tell about the user's chat, and where it is kept.
EVENTS = {"connected": "client_connected_at", "disconnected": "client_disconnected_at",
          "blocked": "client_blocked_at"}


@dataclass(frozen=True)
class ClientTimes:
    """What is known about the user's end of one conversation (UTC times)."""

    channel: str
    connected_at: datetime | None
    disconnected_at: datetime | None
    blocked_at: datetime | None
    last_wrote_at: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def mark_client(database: Database, channel: str, external_id: str, event: str, at: datetime | None = None) -> None:
    """The user's chat `connected`, `disconnected` (web chat) or `blocked` the bot (Telegram).
    Not activity: the conversation's updated_at (retention) stays as it was."""
    column = EVENTS[event]
    with database.session() as session:
        session.execute(
            update(Conversation).where(Conversation.channel == channel, Conversation.external_id == external_id)
            .values({column: at or utcnow(), "updated_at": Conversation.updated_at})
            .execution_options(synchronize_session=False)
        )


def client_times(database: Database, conversation_ids: list[str]) -> dict[str, ClientTimes]:
    """For each conversation: its channel's connection times and when the user last wrote."""
    if not conversation_ids:
        return {}
    last_wrote = (
        select(Message.conversation_id, func.max(Message.created_at).label("at"))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction == "in")
        .group_by(Message.conversation_id).subquery()
    )
    with database.session() as session:
        rows = session.execute(
            select(Conversation.id, Conversation.channel, Conversation.client_connected_at,
                   Conversation.client_disconnected_at, Conversation.client_blocked_at, last_wrote.c.at)
            .outerjoin(last_wrote, last_wrote.c.conversation_id == Conversation.id)
            .where(Conversation.id.in_(conversation_ids))
        ).all()
    return {row[0]: ClientTimes(row[1], *(_aware(moment) for moment in row[2:])) for row in rows}
