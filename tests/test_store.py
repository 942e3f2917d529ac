"""The conversation store: migrations on an empty database and on the
previous schema (SQLite, and PostgreSQL where a server runs on this machine)
match the models, and the repository keeps conversations and messages."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bot.store.db import Database, alembic_config, migrate
from bot.store.models import Base, Handoff
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


def test_the_previous_schema_upgrades_to_head_and_keeps_its_rows(database_url: str) -> None:
    """A database of the first release (0001) with a conversation in it → head."""
    migrate(database_url, "0001")
    engine = create_engine(database_url, future=True)
    assert "handoffs" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversations (id, channel, external_id, language, state, offered_payloads, created_at,"
            " updated_at) VALUES ('c0001', 'webchat', 'old-session', 'sv', 'bot', '[\"/help\"]',"
            " '2026-01-02 03:04:05+00:00', '2026-01-02 03:04:05+00:00')"
        ))
        connection.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender, text, status, created_at)"
            " VALUES ('c0001', 'in', 'user', 'hej', 'answered', '2026-01-02 03:04:05+00:00')"
        ))
    engine.dispose()

    migrate(database_url)

    engine = create_engine(database_url, future=True)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
            ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
        )
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()
    store = ConversationStore(Database(database_url))
    kept = store.find("webchat", "old-session")
    assert kept is not None and kept.language == "sv" and kept.offered_payloads == ["/help"]
    assert [m.text for m in store.history("c0001")] == ["hej"]
    # The new tables work beside the old rows.
    with store.db.session() as session:
        session.add(Handoff(conversation_id="c0001", status="waiting", reason="button", language="sv",
                            channel="webchat"))
