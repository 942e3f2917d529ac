"""Attacks on the anonymous web chat, against a real gateway process (issue 11).

The gateway runs with a Rasa address where nothing listens: every message that
gets past the boundary is answered "the assistant is not available" at once,
which is all these attacks need (the limits and refusals act before Rasa).
Clients are told apart by X-Forwarded-For, which the gateway honours from
127.0.0.1 (FORWARDED_ALLOW_IPS' default), as behind the documented proxy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Conversation, Message
from bot.texts import text as localized
from tests.chat_client import ChatClient
from tests.helpers import Gateway, free_port, running_gateway

UNAVAILABLE_FI = localized("fi", "gateway.unavailable").split("\n")[0]
RATE_LIMITED_FI = localized("fi", "gateway.rate_limited")


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"


def a_client() -> dict[str, str]:
    """Headers of a client with an address of its own (as the trusted proxy would send them)."""
    return {"X-Forwarded-For": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"LIMIT_CLIENT_SESSIONS": "4/minute", "LIMIT_CLIENT_MESSAGES": "6/minute",
           "LIMIT_CONVERSATION_MESSAGES": "5/minute", "LIMIT_REFUSAL_NOTICES": "2/minute"}
    with running_gateway(nowhere(), tmp_path_factory.mktemp("abuse"), env) as running:
        yield running


def messages(gateway: Gateway) -> list[Message]:
    with Database(gateway.database_url).session() as session:
        return list(session.execute(select(Message).order_by(Message.id)).scalars())


def conversation_of(gateway: Gateway, session_id: str) -> Conversation | None:
    with Database(gateway.database_url).session() as session:
        return session.execute(select(Conversation).where(Conversation.external_id == session_id)).scalar_one_or_none()


def test_a_new_session_before_every_message_does_not_get_round_the_limits(gateway: Gateway) -> None:
    """The attack: ask for a new session before every message, so that the per-conversation
    limit never applies. The client's address limits both new sessions and messages."""
    headers = a_client()
    answered = refused_sessions = 0
    for _ in range(8):
        client = ChatClient(gateway.url, headers=headers, confirm=False)
        try:
            confirmed = client.wait_for_any(("session_confirm", "bot_uttered"), timeout=20)
            if confirmed[0] == "bot_uttered":
                assert confirmed[1]["text"] == RATE_LIMITED_FI
                refused_sessions += 1
                continue
            client.session_id = confirmed[1]
            replies = client.say("hei", timeout=20)
            answered += any(UNAVAILABLE_FI in (r.get("text") or "") for r in replies)
        finally:
            client.close()
    assert answered == 4
    assert refused_sessions == 4
    # Another client (another address) is not affected.
    other = ChatClient(gateway.url, headers=a_client())
    assert any(UNAVAILABLE_FI in (r.get("text") or "") for r in other.say("hei", timeout=20))
    other.close()


def test_messages_over_several_sessions_of_one_client_share_one_limit(gateway: Gateway) -> None:
    headers = a_client()
    clients = [ChatClient(gateway.url, headers=headers) for _ in range(3)]
    try:
        outcomes = []
        for round_ in range(3):
            for client in clients:
                replies = client.replies_after(client.send(f"viesti {round_}"), wait=2.0)
                outcomes.append("limited" if any(r.get("text") == RATE_LIMITED_FI for r in replies)
                                else "answered" if replies else "silent")
        assert outcomes[:6] == ["answered"] * 6
        # Over the limit: the first refusals of each conversation are answered, then silence.
        assert set(outcomes[6:]) <= {"limited", "silent"} and "limited" in outcomes[6:]
    finally:
        for client in clients:
            client.close()


def test_refused_messages_are_not_stored(gateway: Gateway) -> None:
    """A flood over the limit writes nothing to the database (it could fill it otherwise)."""
    client = ChatClient(gateway.url, headers=a_client())
    marker = f"flood-{random.randrange(10**9)}"
    for i in range(12):
        client.send(f"{marker} {i}")
    time.sleep(3)
    client.close()
    stored = [m for m in messages(gateway) if m.text and marker in m.text]
    assert len(stored) == 5  # LIMIT_CONVERSATION_MESSAGES
    notices = [m for m in messages(gateway) if m.text == RATE_LIMITED_FI]
    assert notices == []  # refusal notices are not stored either


def test_an_over_long_message_is_refused_before_it_reaches_the_database(gateway: Gateway) -> None:
    client = ChatClient(gateway.url, headers=a_client())
    secret = "salaisuus-" + "x" * 5000
    replies = client.say(secret, timeout=20)
    client.close()
    assert any(r.get("text") == localized("fi", "gateway.too_long", max_chars=1000) for r in replies)
    refused = [m for m in messages(gateway) if m.payload and m.payload.get("refused") == "too_long"]
    assert refused and refused[-1].text is None and refused[-1].payload["chars"] == len(secret)
    assert refused[-1].status == "refused"
    database_file = Path(gateway.database_url.removeprefix("sqlite:///"))
    for path in database_file.parent.glob(database_file.name + "*"):  # the file and its WAL
        assert b"salaisuus-xxxx" not in path.read_bytes()


def test_rate_limits_off_lifts_the_web_chat_limits(tmp_path: Path) -> None:
    env = {"RATE_LIMITS": "off", "LIMIT_CONVERSATION_MESSAGES": "1/minute", "LIMIT_CLIENT_SESSIONS": "1/minute"}
    with running_gateway(nowhere(), tmp_path, env) as gateway:
        headers = a_client()
        for _ in range(3):
            client = ChatClient(gateway.url, headers=headers)
            for i in range(3):
                assert any(UNAVAILABLE_FI in (r.get("text") or "") for r in client.say(f"{i}", timeout=20))
            client.close()


def test_the_limiter_forgets_idle_keys() -> None:
    """Memory stays bounded: keys whose window has passed are dropped, and there is a cap."""
    import asyncio

    from bot.limits import MemoryLimitStore, Rate

    now = [0.0]
    store = MemoryLimitStore(max_keys=1000, clock=lambda: now[0])
    rate = Rate.parse("3/minute")

    async def scenario() -> None:
        for i in range(5000):
            await store.hit(f"client-{i}", rate)
        assert len(store) == 1000  # the cap
        now[0] += 61
        assert await store.hit("late", rate)
        assert len(store) == 1  # every idle key expired
        assert [await store.hit("late", rate) for _ in range(3)] == [True, True, False]

    asyncio.run(scenario())
