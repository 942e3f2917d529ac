"""The pieces several gateways share (issue 16, bot/shared/): leases, turn locks and "once"
marks in a real Redis, each "gateway" with its own connections; and the queue places told
once when two gateways refresh them at the same moment. The Redis tests skip, saying so,
only when Redis is not running at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from bot.handoff.config import load_handoff_config
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore, HandoffView
from bot.shared import build_shared_state, deployment_namespace
from bot.shared.lease import LocalLease, RedisLease, holder_name
from bot.shared.locks import TurnLocks
from bot.shared.once import LocalOnce, RedisOnce
from bot.store.db import Database, migrate
from bot.store.repository import ConversationStore
from tests.redis_server import require_redis
from tests.tcp_relay import TcpRelay

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/14"


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis(REDIS_URL)


def client(url: str):  # noqa: ANN201 - one "gateway's" own connections
    import redis.asyncio as redis_asyncio

    return redis_asyncio.from_url(url)


def key() -> str:
    return f"test:scaleout:{uuid.uuid4().hex}"


# --- one gateway (no Redis) ------------------------------------------------------------------------

def test_without_redis_the_gateway_holds_every_lease_and_keeps_marks_itself() -> None:
    async def scenario() -> None:
        lease = LocalLease("timers")
        await lease.start()
        assert lease.held
        await asyncio.wait_for(lease.wait_until(True), 1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lease.wait_until(False), 0.2)
        now = [100.0]
        once = LocalOnce(max_keys=2, clock=lambda: now[0])
        assert await once.first("a", 10) and not await once.first("a", 10)
        now[0] += 11
        assert await once.first("a", 10)
        assert await once.first("b", 10) and await once.first("c", 10)  # "a" is pushed out
        assert await once.first("a", 10)

    asyncio.run(scenario())
    shared = build_shared_state(None, "sqlite:///x.db", 10)
    assert not shared.distributed and shared.socketio_manager("webchat") is None


def test_gateways_of_one_database_share_a_namespace() -> None:
    url = "postgresql://assistant:secret@postgres:5432/assistant"
    assert deployment_namespace(url) == deployment_namespace(url)
    assert deployment_namespace(url) != deployment_namespace(url.replace("/assistant", "/other"))
    assert "secret" not in deployment_namespace(url)


# --- leases in Redis ------------------------------------------------------------------------------

def test_one_of_two_gateways_holds_the_lease_and_the_other_takes_it_when_given_up(redis_url: str) -> None:
    name = key()

    async def scenario() -> None:
        first = RedisLease(client(redis_url), "timers", name, seconds=1.2)
        second = RedisLease(client(redis_url), "timers", name, seconds=1.2)
        await first.start()
        await second.start()
        assert first.held and not second.held
        assert first.token.startswith(holder_name())
        # Renewed past its period: still the same holder.
        await asyncio.sleep(2.0)
        assert first.held and not second.held
        await first.stop()
        started = time.monotonic()
        await asyncio.wait_for(second.wait_until(True), 3)
        assert second.held and time.monotonic() - started <= second.interval + 0.5
        await second.stop()

    asyncio.run(scenario())


def test_a_dead_holders_lease_goes_to_another_gateway_within_its_period(redis_url: str) -> None:
    """A holder that stops renewing (its process died): the key expires and the other takes it."""
    name = key()

    async def scenario() -> None:
        dead = RedisLease(client(redis_url), "timers", name, seconds=1.2)
        await dead.start()
        dead._task.cancel()  # no more renewals, no release: as after kill -9
        other = RedisLease(client(redis_url), "timers", name, seconds=1.2)
        await other.start()
        assert not other.held
        started = time.monotonic()
        await asyncio.wait_for(other.wait_until(True), 5)
        assert time.monotonic() - started <= 1.2 * 1.25 + 0.5
        await other.stop()

    asyncio.run(scenario())


def test_a_holder_cut_off_from_redis_counts_itself_out_before_another_takes_over(redis_url: str) -> None:
    """Never two holders: the cut-off holder stops believing before its key can expire."""
    relay = TcpRelay(REDIS_HOST, REDIS_PORT)
    name = key()

    async def scenario() -> None:
        cut = RedisLease(client(f"redis://127.0.0.1:{relay.port}/14"), "timers", name, seconds=1.6)
        other = RedisLease(client(redis_url), "timers", name, seconds=1.6)
        await cut.start()
        await other.start()
        assert cut.held and not other.held
        relay.disable()
        both, deadline = False, time.monotonic() + 6
        while not other.held and time.monotonic() < deadline:
            both = both or (cut.held and other.held)
            await asyncio.sleep(0.01)
        assert other.held and not cut.held and not both
        await other.stop()
        cut._task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        relay.close()


# --- turn locks and marks in Redis ----------------------------------------------------------------

def test_turn_locks_keep_one_turn_at_a_time_across_gateways(redis_url: str) -> None:
    prefix = key() + ":"

    async def scenario() -> list[int]:
        gateways = [TurnLocks(client(redis_url), prefix, seconds=2) for _ in range(2)]
        inside, most, order = [0], [0], []

        async def turn(number: int) -> None:
            async with gateways[number % 2].hold("webchat:session"):
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                await asyncio.sleep(0.01)
                order.append(number)
                inside[0] -= 1

        await asyncio.gather(*(turn(n) for n in range(16)))
        assert sorted(order) == list(range(16))
        return most

    assert asyncio.run(scenario()) == [1]


def test_a_turn_lock_left_by_a_dead_gateway_expires(redis_url: str) -> None:
    import redis

    prefix = key() + ":"
    redis.Redis.from_url(redis_url).set(prefix + "webchat:s", "dead-gateway", px=1000)

    async def scenario() -> float:
        locks = TurnLocks(client(redis_url), prefix, seconds=1)
        started = time.monotonic()
        async with locks.hold("webchat:s"):
            return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert 0.5 < waited < 2.0


def test_a_mark_is_first_for_exactly_one_gateway(redis_url: str) -> None:
    prefix = key() + ":"

    async def scenario() -> list[bool]:
        gateways = [RedisOnce(client(redis_url), prefix) for _ in range(2)]
        return list(await asyncio.gather(*(gateways[i % 2].first("telegram-update:7", 60) for i in range(10))))

    assert sum(asyncio.run(scenario())) == 1


# --- the queue's places, told once ----------------------------------------------------------------

class RecordingVoice:
    """Where the service's words would go (the router's job), recorded."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str, dict]] = []

    async def event_replies(self, conversation_id: str, event: str, entities: dict) -> list:
        self.said.append((conversation_id, event, entities))
        return [event]

    async def deliver(self, conversation_id: str, replies: list) -> None:
        pass

    async def adviser_said(self, conversation_id: str, text: str, adviser_name: str) -> None:
        pass


class StaleView(HandoffStore):
    """A gateway that read the queue a moment before another gateway told the places."""

    def __init__(self, database: Database, queue: list[HandoffView]) -> None:
        super().__init__(database)
        self.queue = queue

    def waiting(self) -> list[HandoffView]:
        return self.queue


@pytest.fixture
def queue_of_two(database_url: str) -> Iterator[tuple[Database, HandoffStore, list[HandoffView]]]:
    migrate(database_url)
    database = Database(database_url)
    store, conversations = HandoffStore(database), ConversationStore(database)
    handoffs = []
    for position in (1, 2):
        conversation = conversations.get_or_create("webchat", f"queue-{position}")
        handoff = store.open_handoff(conversation.id, status="waiting", state="waiting", reason="user_request",
                                     topic=None, language="en", channel="webchat")
        store.change(handoff.id, expect_status=("waiting",), told_position=position)
        handoffs.append(handoff)
    yield database, store, handoffs
    database.engine.dispose()


def test_two_gateways_refreshing_the_queue_at_once_tell_each_user_once(queue_of_two) -> None:  # noqa: ANN001
    database, store, (first, second) = queue_of_two
    store.change(first.id, expect_status=("waiting",), status="user_left", state="bot")
    snapshot = store.waiting()  # what both gateways read: the second user, told place 2
    assert [(h.id, h.told_position) for h in snapshot] == [(second.id, 2)]
    config = load_handoff_config()
    voice = RecordingVoice()
    conversations = ConversationStore(database)
    gateways = [HandoffService(StaleView(database, snapshot), conversations, config) for _ in range(2)]
    for gateway in gateways:
        gateway.voice = voice

    async def both() -> None:
        for gateway in gateways:
            await gateway.refresh_positions()

    asyncio.run(both())
    moved = [(conversation, entities["queue_position"]) for conversation, _, entities in voice.said]
    assert [event for _, event, _ in voice.said] == ["queue_moved"]
    assert moved == [(second.conversation_id, "1")]
    assert store.get(second.id).told_position == 1
