"""Several Rasa instances: the gateway keeps each conversation on one instance
(rendezvous hashing) and moves it to another only while that one is
unreachable; the instances share the tracker store (PostgreSQL) and the lock
store (Redis) of config/endpoints.production.yml, so a conversation served by
both keeps its slots and language.

The tests with real servers need PostgreSQL (127.0.0.1:5432, user postgres,
database test) and Redis (127.0.0.1:6379); they skip, saying so, only when
those are unreachable. Each run uses a fresh PostgreSQL database and its own
Redis key prefix."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from rasa.shared.core.domain import Domain
from sqlalchemy import create_engine, select, text

from bot import metrics
from bot.insights.tracker_retention import purge_tracker_store
from bot.paths import PROJECT_ROOT
from bot.rasa_client import AssistantUnavailable, RasaClient, rendezvous_order
from bot.rasa_lock_store import AtomicRedisLockStore
from bot.rasa_token import resolve_rasa_token
from bot.settings import load_settings
from bot.store.db import Database
from bot.store.models import Conversation
from scripts.serve import actions_command, rasa_command
from tests.chat_client import ChatClient
from tests.helpers import Servers, free_port, logged_process, running_gateway, wait_until_up
from tests.redis_server import require_redis
from tests.tcp_relay import TcpRelay
from tests.test_conversations import said

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PRODUCTION_ENDPOINTS = PROJECT_ROOT / "config" / "endpoints.production.yml"


# --- The client alone: stickiness and failover, without servers -------------

def test_rendezvous_order_is_stable_and_spreads_conversations() -> None:
    instances = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]
    conversations = [uuid.uuid4().hex for _ in range(3000)]
    first = {c: rendezvous_order(instances, c)[0] for c in conversations}
    # Stable: the same answer every time and whatever order the instances are listed in.
    assert all(rendezvous_order(list(reversed(instances)), c)[0] == first[c] for c in conversations)
    shares = Counter(first.values())
    assert set(shares) == set(instances) and min(shares.values()) > 800
    # A fourth instance takes about a quarter, and only from the others: nothing else moves.
    grown = {c: rendezvous_order([*instances, "http://rasa-4:5005"], c)[0] for c in conversations}
    moved = [c for c in conversations if grown[c] != first[c]]
    assert all(grown[c] == "http://rasa-4:5005" for c in moved)
    assert 550 < len(moved) < 950


def fake_rasa(down: set[str], seen: list[tuple[str, str]], read_timeout: set[str] = frozenset()) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        instance = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if instance in down:
            raise httpx.ConnectError("connection refused", request=request)
        if instance in read_timeout:
            raise httpx.ReadTimeout("no answer", request=request)
        seen.append((instance, request.url.path))
        # bot/rasa_channel.py's turn channel: the replies and the turn's outcome in one answer.
        return httpx.Response(200, json={"messages": [{"text": f"from {instance}"}], "language": "sv",
                                         "latest_message": {"intent": {"name": "nlu_fallback"}}})

    return httpx.MockTransport(handle)


def client_with(transport: httpx.MockTransport, instances: list[str]) -> RasaClient:
    client = RasaClient(instances, timeout=5)
    client._client = httpx.AsyncClient(transport=transport)
    return client


A, B, C = "http://a:5005", "http://b:5005", "http://c:5005"


def test_each_conversation_sticks_to_one_instance() -> None:
    seen: list[tuple[str, str]] = []
    client = client_with(fake_rasa(set(), seen), [A, B, C])

    def instance_of(conversation: str) -> str:
        return rendezvous_order([A, B, C], conversation)[0]

    async def talk() -> None:
        for conversation in [f"conv-{i}" for i in range(30)]:
            for _ in range(3):
                replies, turn = await client.turn(conversation, "hei", {})
                assert turn.language == "sv" and replies == [{"text": f"from {instance_of(conversation)}"}]
            served = {instance for instance, _ in seen}
            assert served == {instance_of(conversation)}, conversation
            assert {path for _, path in seen} == {"/webhooks/turn/webhook"}  # one request per turn
            seen.clear()
        await client.close()

    asyncio.run(talk())


def test_an_unreachable_instance_hands_its_conversations_to_the_next_one() -> None:
    seen: list[tuple[str, str]] = []
    down = set()
    client = client_with(fake_rasa(down, seen), [A, B, C])
    conversation = next(c for c in (f"conv-{i}" for i in range(100)) if rendezvous_order([A, B, C], c)[0] == A)
    second_choice = rendezvous_order([A, B, C], conversation)[1]

    async def talk() -> None:
        assert (await client.send(conversation, "hei", {}))[0]["text"] == f"from {A}"
        down.add(A)
        assert (await client.send(conversation, "hei", {}))[0]["text"] == f"from {second_choice}"
        # A is tried last for a while: no more waiting on it.
        assert client.order_for(conversation)[-1] == A
        down.discard(A)
        client._down_until.clear()  # its time out is over
        assert (await client.send(conversation, "hei", {}))[0]["text"] == f"from {A}"
        down.update({A, B, C})
        with pytest.raises(AssistantUnavailable):
            await client.send(conversation, "hei", {})
        await client.close()

    asyncio.run(talk())


def test_a_turn_tells_language_and_fallback_and_requests_are_measured() -> None:
    seen: list[tuple[str, str]] = []
    client = client_with(fake_rasa({B}, seen), [A, B])
    conversation = next(c for c in (f"conv-{i}" for i in range(100)) if rendezvous_order([A, B], c)[0] == B)

    def value(name: str, instance: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {"instance": instance}) or 0.0

    before = value("assistant_rasa_request_seconds_count", A), value("assistant_rasa_unreachable_total", B)

    async def talk() -> None:
        _, turn = await client.turn(conversation, "hmm", {})
        assert (turn.language, turn.intent, turn.fallback) == ("sv", "nlu_fallback", True)
        await client.close()

    asyncio.run(talk())
    assert value("assistant_rasa_request_seconds_count", A) == before[0] + 1
    assert value("assistant_rasa_unreachable_total", B) == before[1] + 1


def test_a_message_that_may_have_reached_rasa_is_not_sent_again_elsewhere() -> None:
    seen: list[tuple[str, str]] = []
    client = client_with(fake_rasa(set(), seen, read_timeout={A, B, C}), [A, B, C])

    async def talk() -> None:
        with pytest.raises(AssistantUnavailable):
            await client.send("conv-1", "hei", {})
        await client.close()

    asyncio.run(talk())
    assert seen == []


def test_rasa_urls_setting_and_rasa_url_alone() -> None:
    settings = load_settings(environ={"RASA_URLS": "http://rasa-1:5005/, http://rasa-2:5005"})
    assert settings.rasa_urls == ("http://rasa-1:5005", "http://rasa-2:5005")
    settings = load_settings(environ={"RASA_URL": "http://elsewhere:5005"})
    assert settings.rasa_urls == ("http://elsewhere:5005",) and settings.rasa_url == "http://elsewhere:5005"
    assert load_settings(environ={}).rasa_urls == ("http://127.0.0.1:5005",)
    assert RasaClient("http://a:1,http://b:2", 5).instances == ["http://a:1", "http://b:2"]


# --- Real servers: two Rasa instances on PostgreSQL and Redis ------------------

@pytest.fixture(scope="module")
def redis_prefix() -> str:
    """A Redis key prefix of this run's own (letters and digits, as Rasa wants)."""
    require_redis(f"redis://{REDIS_HOST}:{REDIS_PORT}")
    return f"scaling{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def shared_stores(redis_prefix: str) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for the tracker store and a Redis key prefix
    for the lock store: the variables config/endpoints.production.yml reads."""
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})")
    name = f"rasa_scaling_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield {
            "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_NAME": name, "DB_LOGIN_DB": "test",
            "DB_USER": "postgres", "DB_PASSWORD": "",
            "REDIS_HOST": REDIS_HOST, "REDIS_PORT": str(REDIS_PORT), "REDIS_DB": "1", "REDIS_PASSWORD": "",
            "REDIS_KEY_PREFIX": redis_prefix,
        }
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def two_rasa(
    trained_model: Path, shared_stores: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Servers, Servers]]:
    """The action server and two Rasa instances of the same model, with the production endpoints."""
    logs = tmp_path_factory.mktemp("scaling")
    actions_port, ports = free_port(), (free_port(), free_port())
    env = {
        **os.environ, "PYTHONPATH": str(PROJECT_ROOT), **shared_stores,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
    }
    with ExitStack() as stack:
        actions = stack.enter_context(logged_process(actions_command(actions_port), env, logs / "actions.log"))
        instances = []
        for name, port in zip("ab", ports, strict=True):
            command = rasa_command(port, str(trained_model))
            command[command.index("--endpoints") + 1] = str(PRODUCTION_ENDPOINTS)
            instances.append(stack.enter_context(logged_process(command, env, logs / f"rasa-{name}.log")))
        token = resolve_rasa_token()
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
        for instance, port in zip(instances, ports, strict=True):
            wait_until_up(f"http://127.0.0.1:{port}/status?token={token}", instance, timeout=300)
        actions_url = f"http://127.0.0.1:{actions_port}"
        yield tuple(Servers(f"http://127.0.0.1:{port}", actions_url, PRODUCTION_ENDPOINTS, token=token)
                    for port in ports)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


def new_sender() -> str:
    return f"scaling-{uuid.uuid4().hex}"


def test_production_endpoints_give_a_postgresql_tracker_store_and_a_redis_lock_store(
    shared_stores: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.core.utils import AvailableEndpoints

    for variable, value in {**shared_stores, "ACTION_ENDPOINT_URL": "http://actions:5055/webhook"}.items():
        monkeypatch.setenv(variable, value)
    endpoints = AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))
    assert endpoints.action.url == "http://actions:5055/webhook"
    lock_store = LockStore.create(endpoints.lock_store)
    assert isinstance(lock_store, AtomicRedisLockStore) and lock_store.red.ping()
    assert lock_store.key_prefix.startswith(shared_stores["REDIS_KEY_PREFIX"])
    tracker_store = TrackerStore.create(endpoints.tracker_store, Domain.load(str(PROJECT_ROOT / "domain")))
    assert isinstance(tracker_store, SQLTrackerStore)
    assert tracker_store.engine.url.database == shared_stores["DB_NAME"]
    tracker_store.engine.dispose()


def test_the_lock_store_serialises_a_conversation_across_instances(redis_prefix: str) -> None:
    """Two "instances" (own connections, own event loops, own threads) queue on
    one conversation at once: one message at a time, none lost, lock removed after."""
    stores = [AtomicRedisLockStore(host=REDIS_HOST, port=REDIS_PORT, db=1, key_prefix=redis_prefix)
              for _ in range(2)]
    conversation = f"lock-{uuid.uuid4().hex}"
    guard = threading.Lock()
    state = {"inside": 0, "most": 0}
    served: list[int] = []
    start = threading.Barrier(2)

    async def message(store: AtomicRedisLockStore, number: int) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.01):
            with guard:
                state["inside"] += 1
                state["most"] = max(state["most"], state["inside"])
            await asyncio.sleep(0.003)
            with guard:
                state["inside"] -= 1
                served.append(number)

    async def messages(store: AtomicRedisLockStore, numbers: range) -> None:
        await asyncio.wait_for(asyncio.gather(*(message(store, n) for n in numbers)), 60)

    def instance(store: AtomicRedisLockStore, numbers: range) -> None:
        start.wait()
        asyncio.run(messages(store, numbers))

    for _ in range(3):
        served.clear()
        threads = [threading.Thread(target=instance, args=(store, range(i * 15, i * 15 + 15)))
                   for i, store in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert state["most"] == 1
        assert sorted(served) == list(range(30))
        assert stores[0].get_lock(conversation) is None


@pytest.mark.servers
def test_the_tracker_is_in_postgresql(two_rasa: tuple[Servers, Servers], shared_stores: dict[str, str]) -> None:
    a, _ = two_rasa
    sender = new_sender()
    a.say(sender, "hej")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + shared_stores["DB_NAME"]
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
    engine.dispose()
    assert count > 0


@pytest.mark.servers
def test_a_conversation_served_alternately_keeps_its_language_and_slots(
    two_rasa: tuple[Servers, Servers], domain: Domain
) -> None:
    a, b = two_rasa
    sender = new_sender()
    assert a.say(sender, "hello, I need some help with employment services")
    replies = a.say(sender, '/change_language{"language": "sv"}')
    assert said(replies, domain, "utter_language_changed", "sv"), replies
    # Instance B has never seen this conversation: the topic is answered in Swedish.
    replies = b.say(sender, "/register_as_jobseeker")
    assert said(replies, domain, "utter_register_as_jobseeker", "sv"), replies
    # Back on A: the topic B understood is known, the language too.
    replies = a.say(sender, "/request_human")
    handoff = [r["custom"]["handoff"] for r in replies if "custom" in r]
    assert handoff and handoff[0]["language"] == "sv" and handoff[0]["topic"] == "register_as_jobseeker"
    for instance in (a, b):
        tracker = instance.tracker(sender)
        assert tracker["slots"]["language"] == "sv"
        texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
        assert texts[-3:] == ['/change_language{"language": "sv"}', "/register_as_jobseeker", "/request_human"]


@pytest.mark.servers
def test_simultaneous_messages_on_both_instances_are_all_kept(two_rasa: tuple[Servers, Servers]) -> None:
    """The Redis lock store serialises one conversation across instances: no event is lost."""
    a, b = two_rasa
    sender = new_sender()
    a.say(sender, "hej")
    texts = [f"tack {i}" for i in range(6)]
    errors: list[BaseException] = []

    def say(instance: Servers, message: str) -> None:
        try:
            if not instance.say(sender, message):  # Rasa answers [] when it could not take the lock
                errors.append(AssertionError(f"no answer to {message!r}"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=say, args=((a, b)[i % 2], t)) for i, t in enumerate(texts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    events = b.tracker(sender)["events"]
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(user_texts[-6:]) == texts
    # Every message was answered in turn: user, bot reply(ies), user, ... never two users in a row.
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    assert all(not (x == y == "user") for x, y in zip(kinds, kinds[1:], strict=False)), kinds


@pytest.mark.servers
def test_the_gateway_moves_a_conversation_when_its_instance_goes_away(
    two_rasa: tuple[Servers, Servers], tmp_path: Path
) -> None:
    a, b = two_rasa
    relays = [TcpRelay(urlparse(s.rasa_url).hostname, urlparse(s.rasa_url).port) for s in (a, b)]
    urls = [relay.url for relay in relays]
    # READYZ_CACHE_SECONDS=0: the second /readyz must see the instance gone at once.
    env = {"RASA_URLS": ",".join(urls), "ACTIONS_URL": a.actions_url, "RASA_TIMEOUT": "60",
           "READYZ_CACHE_SECONDS": "0"}
    try:
        with running_gateway(urls[0], tmp_path, env) as gateway:
            assert httpx.get(gateway.url + "/readyz", timeout=10).status_code == 200
            client = ChatClient(gateway.url)
            replies = client.say("hur anmäler jag mig som arbetssökande")
            assert all(r["metadata"]["language"] == "sv" for r in replies), replies
            with Database(gateway.database_url).session() as session:
                conversation_id = session.execute(
                    select(Conversation.id).where(Conversation.external_id == client.session_id)
                ).scalar_one()
            preferred = urls.index(rendezvous_order(urls, conversation_id)[0])
            # Its instance goes away: open connections drop, new ones are refused.
            relays[preferred].disable()
            relays[preferred].close()
            readiness = httpx.get(gateway.url + "/readyz", timeout=10)
            assert readiness.status_code == 503
            assert not readiness.json()["checks"]["rasa"][urls[preferred]]["ok"]
            # The other instance continues the conversation, in Swedish (a short message keeps it).
            replies = client.say("tack")
            assert replies and all(r["metadata"]["language"] == "sv" for r in replies), replies
            assert not any("inte tillgänglig" in (r.get("text") or "") for r in replies), replies
            client.close()
    finally:
        for relay in relays:
            relay.close()


@pytest.mark.servers
def test_retention_purges_the_postgresql_tracker_store_rasa_writes(
    two_rasa: tuple[Servers, Servers], shared_stores: dict[str, str]
) -> None:
    """config/retention.yml's period applied to the production tracker store: an idle
    conversation's events (its text included) are gone, a recent one is kept and goes on."""
    a, b = two_rasa
    old, recent, marker = new_sender(), new_sender(), uuid.uuid4().hex
    a.say(old, f"call me on 040 1234567, reference {marker}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + shared_stores["DB_NAME"]
    engine = create_engine(url, future=True)

    def scalar(query: str, **params: str) -> object:
        with engine.connect() as connection:
            return connection.execute(text(query), params).scalar()

    last_old = scalar("SELECT max(timestamp) FROM events WHERE sender_id = :s", s=old)
    time.sleep(0.5)
    b.say(recent, "hej")
    # 90 days after the old conversation's last event; the other tests' conversations are older still.
    now = datetime.fromtimestamp(last_old + 0.2, timezone.utc) + timedelta(days=90)
    deleted = purge_tracker_store(url, {"conversations": 90}, now)
    assert deleted["tracker_conversations"] >= 1 and deleted["tracker_events"] > 0
    assert scalar("SELECT count(*) FROM events WHERE sender_id = :s", s=old) == 0
    assert scalar("SELECT count(*) FROM events WHERE data LIKE :m", m=f"%{marker}%") == 0
    assert scalar("SELECT count(*) FROM events WHERE sender_id = :s", s=recent) > 0
    engine.dispose()
    assert not [e for e in a.tracker(old)["events"] if e["event"] == "user"]
    assert b.say(recent, "tack")
