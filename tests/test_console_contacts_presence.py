"""The console's API on the real gateway app and a real database (SQLite and PostgreSQL):
a contact request comes with the user's question and the conversation before it, masked,
for advisers and admins only (issue 12, item 11); the queue says whether each user is
still there and when they last wrote, from what the channels store (item 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, inspect, update
from starlette.testclient import TestClient

from bot.app import create_app
from bot.console.auth import hash_password
from bot.console.presence import client_status
from bot.handoff.store import HandoffStore
from bot.router import Reply, Turn
from bot.settings import Settings
from bot.store.client_presence import ClientTimes
from bot.store.db import Database, alembic_config, migrate
from bot.store.models import Conversation, Handoff, Message, utcnow
from bot.store.repository import ConversationStore
from tests.console_helpers import PASSWORD, sign_in
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import TOKEN, StubRouter, new_user, run_channel

QUESTION = "Saanko starttirahaa? Soita 040 765 4321 tai anna.virtanen@example.com"
MASKED = "Saanko starttirahaa? Soita [phone] tai [email]"


@pytest.fixture
def app(migrated_database: Database):  # noqa: ANN201
    app = create_app(Settings(database_url=migrated_database.url, rasa_url="http://127.0.0.1:9",
                              migrate_on_start=False))
    store = HandoffStore(migrated_database)
    for username, role in (("anna", "adviser"), ("root", "admin"), ("aino", "analyst")):
        store.add_adviser(username, username.title(), hash_password(PASSWORD), role, ["fi"], "en")
    return app


def client_for(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="http://testserver")


def backdate(database: Database, message_id: int, minutes: float) -> None:
    with database.session() as session:
        session.execute(update(Message).where(Message.id == message_id).values(
            created_at=utcnow() - timedelta(minutes=minutes)))


def contact_request(database: Database) -> int:
    """A user asked, asked for a person outside hours, typed their number and consented."""
    conversations, store = ConversationStore(database), HandoffStore(database)
    conversation = conversations.get_or_create("webchat", "contact-session-" + "x" * 30)
    for minutes, direction, sender, text in [(9, "in", "user", QUESTION), (8, "out", "bot", "Starttiraha on ..."),
                                             (7, "in", "user", "/human_handoff")]:
        backdate(database, conversations.add_message(conversation.id, direction, sender, text, language="fi"),
                 minutes)
    handoff = store.open_handoff(conversation.id, status="outside_hours", state="contact_offer", reason="button",
                                 topic="start_up_grant", language="fi", channel="webchat")
    with database.session() as session:
        session.execute(update(Handoff).where(Handoff.id == handoff.id).values(
            requested_at=utcnow() - timedelta(minutes=6.5)))
    backdate(database, conversations.add_message(conversation.id, "in", "user", "0407654321", language="fi"), 5)
    request_id = store.add_contact_request(conversation.id, handoff.id, channel="webchat", language="sv",
                                           contact_type="phone", contact="+358407654321", topic="start_up_grant")
    conversations.add_message(conversation.id, "out", "bot", "Tallensin yhteystietosi.", language="fi")  # after
    return request_id


def test_a_contact_request_comes_with_the_question_and_the_conversation_masked(app, migrated_database) -> None:
    request_id = contact_request(migrated_database)
    with client_for(app) as client:
        sign_in(client, "anna")
        listed = client.get("/console/api/contact-requests").json()["contact_requests"]
        conversation = client.get(f"/console/api/contact-requests/{request_id}/conversation")
        assert client.get("/console/api/contact-requests/999999/conversation").status_code == 404
    # The contact details as given (to call back); the question before the handoff request, masked.
    assert listed[0]["contact"] == "+358407654321"
    assert listed[0]["question"] == {"text": MASKED, "language": "fi", "direction": "ltr"}
    assert conversation.status_code == 200
    body = conversation.json()
    assert body["stored"] is True
    # Up to the contact request, masked: the number typed as contact details too.
    assert [(m["sender"], m["text"]) for m in body["messages"]] == [
        ("user", MASKED), ("bot", "Starttiraha on ..."), ("user", "/human_handoff"), ("user", "[phone]")]
    # Nowhere in a message of the reply (the timestamps' digits may contain anything).
    texts = " ".join(str(m.get("text")) for m in body["messages"])
    assert "765" not in texts and "example.com" not in conversation.text


def test_the_conversation_of_a_contact_request_is_for_advisers_and_admins(app, migrated_database) -> None:
    request_id = contact_request(migrated_database)
    path = f"/console/api/contact-requests/{request_id}/conversation"
    with client_for(app) as client:
        assert client.get(path).status_code == 401
        sign_in(client, "aino")
        assert client.get(path).status_code == 403
    with client_for(app) as client:
        sign_in(client, "root")
        assert client.get(path).status_code == 200
    # The conversation deleted by retention: the request stays, without a conversation.
    with migrated_database.session() as session:
        session.execute(delete(Conversation))
    with client_for(app) as client:
        sign_in(client, "anna")
        assert client.get(path).json() == {"id": request_id, "stored": False, "messages": []}
        assert client.get("/console/api/contact-requests").json()["contact_requests"][0]["question"] is None


def waiting_user(database: Database, channel: str, external_id: str, wrote_minutes_ago: float) -> int:
    conversations, store = ConversationStore(database), HandoffStore(database)
    conversation = conversations.get_or_create(channel, external_id)
    backdate(database, conversations.add_message(conversation.id, "in", "user", "hei", language="fi"),
             wrote_minutes_ago)
    return store.open_handoff(conversation.id, status="waiting", state="waiting", reason="button", topic=None,
                              language="fi", channel=channel).id


def test_the_queue_says_whether_each_user_is_still_there(app, migrated_database) -> None:
    conversations = ConversationStore(migrated_database)
    web, left, telegram = ("webchat", "w" * 43), ("webchat", "l" * 43), ("telegram", "7000123")
    ids = {key: waiting_user(migrated_database, *key, minutes) for key, minutes in
           ((web, 3), (left, 12), (telegram, 20))}
    conversations.mark_client(*left, "disconnected")
    conversations.mark_client(*telegram, "blocked")
    with client_for(app) as client:
        sign_in(client, "anna")
        queue = {item["id"]: item["client"] for item in client.get("/console/api/queue").json()["waiting"]}
        assert queue[ids[web]] == {"state": "open", "minutes": 0, "last_wrote_minutes": 3}
        assert queue[ids[left]] == {"state": "closed", "minutes": 0, "last_wrote_minutes": 12}
        assert queue[ids[telegram]] == {"state": "blocked", "minutes": 0, "last_wrote_minutes": 20}
        # The web chat user comes back; the Telegram user unblocks the bot and writes again.
        conversations.mark_client(*left, "connected")
        ConversationStore(migrated_database).add_message(
            conversations.find(*telegram).id, "in", "user", "olen taas täällä", language="fi")
        queue = {item["id"]: item["client"] for item in client.get("/console/api/queue").json()["waiting"]}
        assert queue[ids[left]]["state"] == "open"
        assert queue[ids[telegram]] == {"state": None, "minutes": None, "last_wrote_minutes": 0}


def test_marking_a_client_is_not_activity_for_retention(migrated_database) -> None:
    conversations = ConversationStore(migrated_database)
    conversation = conversations.get_or_create("webchat", "r" * 43)
    before = conversations.get(conversation.id).updated_at
    conversations.mark_client("webchat", "r" * 43, "disconnected")
    conversations.mark_client("webchat", "unknown-session", "connected")  # no conversation yet: nothing
    after = conversations.get(conversation.id)
    assert after.updated_at == before and after.client_disconnected_at is not None


def test_client_status_from_the_stored_times() -> None:
    now = utcnow()
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    assert client_status(ClientTimes("webchat", ago(30), None, None, ago(5)), now) == \
        {"state": "open", "minutes": 30, "last_wrote_minutes": 5}
    assert client_status(ClientTimes("webchat", ago(30), ago(2), None, ago(5)), now)["state"] == "closed"
    assert client_status(ClientTimes("webchat", ago(1), ago(2), None, ago(5)), now)["state"] == "open"  # came back
    assert client_status(ClientTimes("webchat", None, None, None, None), now) == \
        {"state": None, "minutes": None, "last_wrote_minutes": None}
    assert client_status(ClientTimes("telegram", ago(30), None, ago(3), ago(5)), now)["state"] == "blocked"
    assert client_status(ClientTimes("telegram", ago(30), None, ago(6), ago(5)), now)["state"] is None  # wrote since
    assert client_status(None, now)["state"] is None


class StoringRouter(StubRouter):
    """The Telegram tests' fixed-answer router, with its conversations and the user's
    messages in a real store (as the gateway's Router keeps them)."""

    def __init__(self, replies: list[Reply], store: ConversationStore) -> None:
        super().__init__(replies)
        self.store = store  # type: ignore[assignment]

    async def handle(self, channel: str, external_id: str, raw_text: object, **kwargs: object) -> Turn:
        conversation = self.store.get_or_create(channel, external_id)
        self.store.add_message(conversation.id, "in", "user", str(raw_text), language=self.language)
        self.received.append((raw_text, kwargs))
        return Turn(external_id, self.language, self.replies)


@pytest.mark.telegram
def test_a_telegram_user_who_blocked_the_bot_is_shown_as_blocked(migrated_database) -> None:
    conversations = ConversationStore(migrated_database)
    router = StoringRouter([Reply(text="Vastaus.", language="fi")], conversations)
    user = new_user("fi")

    def scenario(fake: FakeTelegram) -> None:
        fake.fail_next("sendMessage", status=403)  # Forbidden: bot was blocked by the user
        fake.send_text(user, "hei")
        fake.wait_for(lambda: [c for c in fake.calls_of("sendMessage") if c.status == 403], 30, "the refused answer")
        fake.wait_for(lambda: conversations.find("telegram", str(user.chat_id)).client_blocked_at, 30, "the block")

    with FakeTelegram(TOKEN) as fake:
        run_channel(fake, router, lambda: scenario(fake))
    conversation = conversations.find("telegram", str(user.chat_id))
    status = client_status(conversations.client_times([conversation.id])[conversation.id], utcnow())
    assert status == {"state": "blocked", "minutes": 0, "last_wrote_minutes": 0}


def test_migration_0006_goes_down_and_up(database_url: str) -> None:
    def columns() -> set[str]:
        engine = create_engine(database_url, future=True)
        try:
            return {c["name"] for c in inspect(engine).get_columns("conversations")}
        finally:
            engine.dispose()

    added = {"client_connected_at", "client_disconnected_at", "client_blocked_at"}
    migrate(database_url)
    assert added <= columns()
    command.downgrade(alembic_config(database_url), "0005")
    assert not added & columns()
    migrate(database_url)
    assert added <= columns()
