"""The conversation store: migrations on an empty database (SQLite, and
PostgreSQL where a server runs on this machine) match the models, and the
repository keeps conversations and messages."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.store.db import Database, migrate
from bot.store.models import Base
from bot.store.repository import ConversationStore


def test_migrations_create_the_schema_of_the_models(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # idempotent
    engine = create_engine(database_url, future=True)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert {"conversations", "messages", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_store_keeps_conversations_and_messages(database_url: str) -> None:
    migrate(database_url)
    store = ConversationStore(Database(database_url))
    conversation = store.get_or_create("webchat", "abc")
    assert store.get_or_create("webchat", "abc").id == conversation.id
    assert store.get_or_create("telegram", "abc").id != conversation.id
    first = store.add_message(conversation.id, "in", "user", "hei", language="fi")
    store.add_message(conversation.id, "out", "bot", "Hei!", {"buttons": [{"title": "A", "payload": "/help"}]}, "fi",
                      status="sent")
    store.set_message_status(first, "answered")
    store.update_conversation(conversation.id, language="fi", offered=["/help"])
    history = store.history(conversation.id)
    assert [(m.direction, m.text, m.status) for m in history] == [("in", "hei", "answered"), ("out", "Hei!", "sent")]
    assert history[1].payload["buttons"][0]["payload"] == "/help"
    found = store.find("webchat", "abc")
    assert found.language == "fi" and found.offered_payloads == ["/help"]
