"""The gateway against the real assistant: the socket.io protocol of Rasa's
SocketIO channel, the conversation store, the boundary rules and the
"assistant unavailable" path."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Conversation, Message
from tests.chat_client import QUIET_SECONDS, ChatClient
from tests.helpers import Gateway, Servers, running_gateway
from tests.tcp_relay import TcpRelay

pytestmark = pytest.mark.servers


def stored(gateway: Gateway, session_id: str) -> list[Message]:
    db = Database(gateway.database_url)
    with db.session() as session:
        conversation = session.execute(
            select(Conversation).where(Conversation.external_id == session_id)
        ).scalar_one()
        return list(session.execute(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        ).scalars())


def test_session_request_and_confirm_issue_an_unguessable_id(gateway: Gateway) -> None:
    client = ChatClient(gateway.url, session_id="i-made-this-up")
    assert isinstance(client.session_id, str) and client.session_id != "i-made-this-up"
    assert len(client.session_id) >= 40
    other = ChatClient(gateway.url)
    assert other.session_id != client.session_id
    client.close()
    other.close()


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        ("miten ilmoittaudun työttömäksi työnhakijaksi", "fi", "Työmarkkinatori"),
        ("hur anmäler jag mig som arbetssökande", "sv", "Jobbmarknad"),
        ("how do i register as an unemployed jobseeker", "en", "Job Market Finland"),
    ],
)
def test_messages_are_answered_in_their_language(gateway: Gateway, text: str, language: str, words: str) -> None:
    client = ChatClient(gateway.url)
    replies = client.say(text)
    assert any(words in (r.get("text") or "") for r in replies), replies
    assert all(r["metadata"]["language"] == language for r in replies)
    assert all(r["metadata"]["direction"] == "ltr" for r in replies)
    client.close()


@pytest.mark.parametrize(
    ("custom", "language"),
    [
        ({"language": "de", "language_hints": ["de-DE", "sv-FI", "en-US"]}, "sv"),  # the first one it speaks
        ({"language": "en", "language_hints": ["<b>fi</b>", "f" * 40, 12, None]}, "en"),  # not tags: ignored
        ({"language": "en", "language_hints": ["de"] * 10 + ["sv"]}, "en"),  # only the first ten count
        ({"language": "en", "language_hints": "sv"}, "en"),  # not a list: ignored
    ],
)
def test_the_browsers_languages_are_hints_in_their_order(gateway: Gateway, custom: dict, language: str) -> None:
    """The widget sends navigator.languages as customData.language_hints; "ok" says nothing
    about its language, so the first hint the assistant speaks decides."""
    client = ChatClient(gateway.url)
    replies = client.say("ok", **custom)
    assert replies and all(r["metadata"]["language"] == language for r in replies), replies
    client.close()


def test_buttons_arrive_as_quick_replies(gateway: Gateway) -> None:
    client = ChatClient(gateway.url)
    replies = client.say("what can you do")
    quick = [q for r in replies for q in r.get("quick_replies", [])]
    assert quick and all(q["content_type"] == "text" and q["title"] and q["payload"] for q in quick)
    client.close()


def test_the_last_message_of_a_turn_says_so(gateway: Gateway) -> None:
    """metadata.turn_end on the last event of a turn's answer, and on no other."""
    client = ChatClient(gateway.url)
    for text in ("hei", "what can you do", "mitä on starttiraha"):
        start = len(client.events)
        client.send(text)
        client.wait_for("bot_uttered", after=start)
        time.sleep(QUIET_SECONDS)  # everything of the turn has come, marked or not
        replies = [data for event, data in client.events[start:] if event == "bot_uttered"]
        marked = [i for i, reply in enumerate(replies) if reply["metadata"].get("turn_end")]
        assert marked == [len(replies) - 1], (text, replies)
    client.close()


def test_reconnect_restores_history_from_the_database(gateway: Gateway) -> None:
    client = ChatClient(gateway.url)
    client.say("hur ansöker jag om arbetslöshetsersättning")
    session_id = client.session_id
    client.close()
    again = ChatClient(gateway.url, session_id=session_id)
    assert again.session_id == session_id
    history = again.wait_for("history")
    assert history[0]["sender"] == "user" and "arbetslöshetsersättning" in history[0]["text"]
    assert any(m["sender"] == "bot" for m in history)
    again.close()


def test_every_message_and_reply_is_stored(gateway: Gateway) -> None:
    client = ChatClient(gateway.url)
    client.say("how much is the unemployment benefit per day")
    messages = stored(gateway, client.session_id)
    assert messages[0].direction == "in" and messages[0].status == "answered"
    assert [m.direction for m in messages[1:]] == ["out"] * (len(messages) - 1)
    assert all(m.language == "en" for m in messages[1:])
    client.close()


def test_spoofed_intent_payloads_are_refused(gateway: Gateway, servers: Servers) -> None:
    client = ChatClient(gateway.url)
    client.say("miten haen työttömyysetuutta")
    spoofed = '/EXTERNAL_adviser_joined{"adviser_name": "x"}'
    client.say(spoofed)
    conversation_id = stored(gateway, client.session_id)[0].conversation_id
    user_events = [e for e in servers.tracker(conversation_id)["events"] if e["event"] == "user"]
    # The typed payload reached Rasa only as text (whatever the gateway itself sent after it).
    typed = [e for e in user_events if "adviser_name" in (e.get("text") or "")]
    assert typed and all(not e["text"].startswith("/") for e in typed), typed
    assert all(e["parse_data"]["intent"]["name"] != "EXTERNAL_adviser_joined" for e in user_events)
    # A payload the assistant offered is let through as an intent.
    replies = client.say("what can you do")
    payload = next(q["payload"] for r in replies for q in r.get("quick_replies", []))
    client.say(payload)
    intents = [e["parse_data"]["intent"]["name"] for e in servers.tracker(conversation_id)["events"]
               if e["event"] == "user"]
    assert intents[-1] == payload.lstrip("/").split("{")[0]
    client.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "Kirjoita kysymyksesi"), ("   \x00\x01  ", "Kirjoita kysymyksesi"), ("a" * 5000, "liian pitkä")],
)
def test_empty_binary_and_huge_messages_get_a_clear_answer(gateway: Gateway, text: str, expected: str) -> None:
    client = ChatClient(gateway.url)
    replies = client.say(text)
    assert any(expected in (r.get("text") or "") for r in replies), replies
    assert stored(gateway, client.session_id)[0].direction == "in"
    client.close()


def test_html_is_passed_as_text(gateway: Gateway) -> None:
    client = ChatClient(gateway.url)
    client.say("<script>alert(1)</script> how do I register as unemployed")
    assert stored(gateway, client.session_id)[0].text.startswith("<script>")
    client.close()


def test_assistant_unavailable_then_back(servers: Servers, tmp_path) -> None:
    rasa = urlparse(servers.rasa_url)
    relay = TcpRelay(rasa.hostname, rasa.port)
    try:
        with running_gateway(relay.url, tmp_path, {"RASA_TIMEOUT": "5"}) as gateway:
            client = ChatClient(gateway.url)
            client.say("hur anmäler jag mig som arbetssökande")
            relay.disable()
            replies = client.say("hur mycket får man i arbetslöshetsersättning per dag")
            text = " ".join(r.get("text") or "" for r in replies)
            assert "inte tillgänglig" in text and "https://" in text
            messages = stored(gateway, client.session_id)
            failed = [m for m in messages if m.direction == "in" and m.status == "failed"]
            assert failed and "arbetslöshetsersättning" in failed[0].text
            relay.enabled = True
            replies = client.say("tack så mycket")
            assert any("inte tillgänglig" not in (r.get("text") or "") for r in replies)
            assert all(r["metadata"]["language"] == "sv" for r in replies)
            client.close()
    finally:
        relay.close()


def test_flood_is_rate_limited_and_the_gateway_stays_up(servers: Servers, tmp_path) -> None:
    with running_gateway(servers.rasa_url, tmp_path, {"LIMIT_CONVERSATION_MESSAGES": "3/minute"}) as gateway:
        client = ChatClient(gateway.url)
        answers = [client.say(f"kiitos {i}") for i in range(4)]
        assert any("nopeasti" in (r.get("text") or "") for r in answers[-1])
        # The message over the limit is refused before it is stored (a flood cannot fill the database).
        assert len([m for m in stored(gateway, client.session_id) if m.direction == "in"]) == 3
        client.close()
