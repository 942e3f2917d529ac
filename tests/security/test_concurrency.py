"""Two races the schema now rules out, on SQLite and PostgreSQL with parallel threads:
two 👎 on one answer both counted, and one conversation queued twice. Plus the upgrade
of a database that already holds such duplicates (migration 0005)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, column, func, select, table

from bot.feedback import FeedbackService
from bot.handoff.store import HandoffStore
from bot.insights.log import InsightsLog
from bot.store.db import Database, migrate
from bot.store.models import Conversation, Feedback, Handoff, Message, new_id
from bot.store.repository import ConversationStore

PARALLEL = 12
# Read as a plain table: the file then runs (and fails) on a schema without it, too.
FEEDBACK_CLAIMS = table("feedback_claims", column("message_id"), column("kind"))


def in_parallel(work: Callable[[int], Any], count: int = PARALLEL) -> list[Any]:
    """`work(i)` in `count` threads released at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_thumbs_down_on_one_answer_count_once(migrated_database: Database) -> None:
    store = ConversationStore(migrated_database)
    conversation = store.get_or_create("webchat", "double-click")
    store.add_message(conversation.id, "in", "user", "miten haen starttirahaa", language="fi")
    answer = store.add_message(conversation.id, "out", "bot", "Starttirahaa haetaan ...",
                               {"asks_feedback": True, "intent": "startup_grant"}, "fi", status="sent")
    feedback = FeedbackService(store, InsightsLog(migrated_database, b"k" * 32))

    replies = in_parallel(lambda _: asyncio.run(feedback.give("webchat", "double-click", answer, "answer", -1)))
    assert sum(reply is not None for reply in replies) == 1
    with migrated_database.session() as session:
        assert session.execute(select(func.count()).select_from(Feedback)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(FEEDBACK_CLAIMS)).scalar_one() == 1
    assert store.message(answer).payload["feedback_given"] == ["answer"]


def test_parallel_handoff_requests_queue_a_conversation_once(migrated_database: Database) -> None:
    handoffs, conversations = HandoffStore(migrated_database), ConversationStore(migrated_database)
    conversation = conversations.get_or_create("webchat", "twice")

    opened = in_parallel(lambda _: handoffs.open_handoff(
        conversation.id, status="waiting", state="waiting", reason="user_request", topic=None, language="fi",
        channel="webchat"))
    assert sum(view is not None for view in opened) == 1
    assert [h.conversation_id for h in handoffs.waiting()] == [conversation.id]
    # Once it has ended, the conversation may ask again.
    handoff = next(view for view in opened if view is not None)
    assert handoffs.change(handoff.id, expect_status=("waiting",), status="user_left", state="bot")
    assert handoffs.open_handoff(conversation.id, status="waiting", state="waiting", reason="button", topic=None,
                                 language="fi", channel="webchat") is not None


def test_the_upgrade_ends_existing_duplicates_and_keeps_given_feedback(database_url: str) -> None:
    migrate(database_url, "0004")
    database = Database(database_url)
    conversations = ConversationStore(database)
    old_handoffs = table("handoffs", *(column(name) for name in (
        "conversation_id", "status", "reason", "language", "channel", "requested_at")))
    old_conversations = table("conversations", column("offered_payloads", JSON), *(column(name) for name in (
        "id", "channel", "external_id", "state", "created_at", "updated_at")))
    old_messages = table("messages", column("payload", JSON), *(column(name) for name in (
        "id", "conversation_id", "direction", "sender", "text", "language", "status", "created_at")))
    now = datetime.now(timezone.utc)
    waiting_twice = SimpleNamespace(id=new_id(), channel="webchat")
    claimed_and_waiting = SimpleNamespace(id=new_id(), channel="telegram")
    with database.engine.begin() as connection:  # the schema before 0005: no model of today's
        for conversation, external_id in ((waiting_twice, "waiting-twice"), (claimed_and_waiting, "claimed")):
            connection.execute(old_conversations.insert().values(
                id=conversation.id, channel=conversation.channel, external_id=external_id, state="bot",
                offered_payloads=[], created_at=now, updated_at=now))
        connection.execute(old_messages.insert().values(
            conversation_id=waiting_twice.id, direction="out", sender="bot", text="Kiitos!", language="fi",
            payload={"asks_rating": True, "feedback_given": ["rating"]}, status="sent", created_at=now))
        rated = connection.execute(select(old_messages.c.id).where(
            old_messages.c.conversation_id == waiting_twice.id)).scalar_one()
        for conversation, statuses in ((waiting_twice, ("waiting", "waiting")),
                                       (claimed_and_waiting, ("with_adviser", "waiting", "closed"))):
            for status in statuses:
                connection.execute(old_handoffs.insert().values(
                    conversation_id=conversation.id, status=status, reason="user_request", language="fi",
                    channel=conversation.channel, requested_at=datetime.now(timezone.utc)))
    database.engine.dispose()

    migrate(database_url)
    with database.session() as session:
        def statuses(conversation: Conversation) -> list[str]:
            return list(session.execute(select(Handoff.status).where(Handoff.conversation_id == conversation.id)
                                        .order_by(Handoff.id)).scalars())

        assert statuses(waiting_twice) == ["duplicate", "waiting"]
        assert statuses(claimed_and_waiting) == ["with_adviser", "duplicate", "closed"]
        assert session.get(Conversation, claimed_and_waiting.id).state == "with_adviser"
        claims = session.execute(select(FEEDBACK_CLAIMS.c.message_id, FEEDBACK_CLAIMS.c.kind)).all()
        assert [tuple(claim) for claim in claims] == [(rated, "rating")]
        assert session.get(Message, rated).payload["feedback_given"] == ["rating"]
    assert not conversations.claim_feedback(rated, "rating")
    assert HandoffStore(database).open_handoff(waiting_twice.id, status="waiting", state="waiting", reason="button",
                                               topic=None, language="fi", channel="webchat") is None
    database.engine.dispose()
