"""The limits shared by several gateway processes through Redis (issues 11 and 16): the
same client's messages split over two gateways count against one limit, and parallel
hits cannot get past it. They skip, saying so, only when Redis is not running."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bot.limits import Rate, RedisLimitStore
from bot.texts import text as localized
from tests.chat_client import ChatClient
from tests.helpers import Gateway, free_port, running_gateway
from tests.redis_server import require_redis

REDIS_URL = "redis://127.0.0.1:6379/15"
RATE_LIMITED_FI = localized("fi", "gateway.rate_limited")


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis(REDIS_URL)


def test_parallel_hits_never_get_past_the_limit(redis_url: str) -> None:
    async def scenario() -> list[bool]:
        store = RedisLimitStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
        try:
            return list(await asyncio.gather(*(store.hit("client", Rate(10, 60)) for _ in range(60))))
        finally:
            await store.close()

    assert sum(asyncio.run(scenario())) == 10


@pytest.fixture(scope="module")
def two_gateways(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Gateway]]:
    env = {"REDIS_URL": redis_url, "LIMIT_CLIENT_MESSAGES": "4/minute", "LIMIT_CONVERSATION_MESSAGES": "50/minute"}
    rasa = f"http://127.0.0.1:{free_port()}"
    with ExitStack() as stack:
        yield [stack.enter_context(running_gateway(rasa, tmp_path_factory.mktemp(name), env)) for name in "ab"]


def test_one_clients_messages_over_two_gateways_share_one_limit(two_gateways: list[Gateway], tmp_path: Path) -> None:
    headers = {"X-Forwarded-For": f"10.9.{random.randrange(256)}.{random.randrange(1, 255)}"}
    clients = [ChatClient(gateway.url, headers=headers) for gateway in two_gateways]
    try:
        outcomes = []
        for i in range(4):
            for client in clients:  # alternate between the gateways
                replies = client.replies_after(client.send(f"viesti {i}"), wait=1.5)
                outcomes.append("limited" if any(r.get("text") == RATE_LIMITED_FI for r in replies) else
                                "answered" if replies else "silent")
        assert outcomes[:4] == ["answered"] * 4, outcomes
        assert "answered" not in outcomes[4:], outcomes
    finally:
        for client in clients:
            client.close()
