"""Telegram with two gateways sharing a database and Redis (issue 16), against the fake Bot
API (tests/fake_telegram.py), which, like Telegram, answers 409 Conflict to a second long
poll of the same bot:

- polling: exactly one gateway polls at a time (the poller lease), every update is
  answered once, and when the polling gateway is killed (kill -9), or cut off from Redis
  (it stops polling before the other starts), the other starts polling within seconds;
- webhook: either gateway takes an update, and one delivered to both is answered once.

`/start` is answered by the channel itself (privacy note and language menu), so no Rasa
is needed. They skip, saying so, only when Redis is not running at 127.0.0.1:6379."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from bot.paths import PROJECT_ROOT
from bot.texts import text as localized
from tests.fake_telegram import FakeTelegram, TelegramUser
from tests.faults.cluster import Service, base_url, gateway_service
from tests.helpers import free_port
from tests.redis_server import require_redis
from tests.tcp_relay import TcpRelay
from tests.test_telegram import post

REDIS_URL = "redis://127.0.0.1:6379/12"
LEASE_SECONDS = 2
WEBHOOK_SECRET = "scaleout-webhook-secret"
START_TEXT = localized("en", "telegram.start")[:40]


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis(REDIS_URL)


@contextmanager
def two_gateways(fake: FakeTelegram, work: Path, redis_url: str | dict[str, str], **telegram: str
                 ) -> Iterator[list[Service]]:
    """Gateways "a" and "b" on one (migrated) SQLite database and one Redis (`redis_url`, or
    one address of it per gateway), each calling the fake Bot API at an address of its own."""
    database_url = f"sqlite:///{work / 'gateway.db'}"
    subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=PROJECT_ROOT, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": database_url})
    gateways = []
    for name in ("a", "b"):
        (work / name).mkdir()
        gateways.append(gateway_service(work / name, f"http://127.0.0.1:{free_port()}", {
            "DATABASE_URL": database_url, "MIGRATE_ON_START": "false",
            "REDIS_URL": redis_url if isinstance(redis_url, str) else redis_url[name],
            "LEASE_SECONDS": str(LEASE_SECONDS), "TELEGRAM_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.api_url(name), **telegram,
        }))
    with ExitStack() as stack:
        for gateway in gateways:
            stack.callback(gateway.stop)
            gateway.start()
        yield gateways


def new_token() -> str:
    """A bot of this test's own: the poller lease belongs to the token."""
    return f"{secrets.randbelow(10**9)}:SCALE{secrets.token_hex(4)}"


def new_user() -> TelegramUser:
    return TelegramUser(id=secrets.randbelow(10**9) + 10**6, language_code="en")


def starts(fake: FakeTelegram, user: TelegramUser) -> int:
    return sum(1 for m in fake.messages(user.chat_id) if (m.text or "").startswith(START_TEXT))


def assert_one_poller_at_a_time(fake: FakeTelegram) -> None:
    assert not [c for c in fake.calls if c.status == 409], "a second long poll was refused with 409 Conflict"
    polls = fake.polls_of()
    for first in polls:
        for second in polls:
            if first.caller != second.caller:
                ended = first.ended if first.ended is not None else time.monotonic()
                assert ended <= second.started or (second.ended or time.monotonic()) <= first.started, \
                    (first, second)


def test_one_gateway_polls_and_another_takes_over_when_it_is_killed(redis_url: str, tmp_path: Path) -> None:
    with FakeTelegram(new_token()) as fake, two_gateways(fake, tmp_path, redis_url) as gateways:
        by_name = dict(zip("ab", gateways, strict=True))
        fake.wait_for(lambda: fake.polls_of(), 60, "a gateway to poll")
        users = [new_user() for _ in range(3)]
        for user in users:
            fake.send_command(user, "/start")
        for user in users:
            fake.wait_for(lambda user=user: starts(fake, user), 60, "the /start answer")
        time.sleep(LEASE_SECONDS)  # a second poller would have answered again by now
        assert [starts(fake, user) for user in users] == [1, 1, 1]
        pollers = {poll.caller for poll in fake.polls_of()}
        assert len(pollers) == 1, pollers
        assert_one_poller_at_a_time(fake)

        # The polling gateway dies: the other starts polling within the lease's period.
        poller = pollers.pop()
        other = "b" if poller == "a" else "a"
        by_name[poller].kill()
        killed = time.monotonic()
        fake.wait_for(lambda: fake.polls_of(other), LEASE_SECONDS * 1.25 + 10, "the other gateway to poll")
        assert fake.polls_of(other)[0].started - killed <= LEASE_SECONDS * 1.25 + 2
        late = new_user()
        fake.send_command(late, "/start")
        fake.wait_for(lambda: starts(fake, late), 60, "the /start answer from the other gateway")
        time.sleep(1)
        assert starts(fake, late) == 1
        assert_one_poller_at_a_time(fake)
        assert not fake.unknown_methods, fake.unknown_methods


def test_a_poller_cut_off_from_redis_stops_before_the_other_starts(redis_url: str, tmp_path: Path) -> None:
    relays = {name: TcpRelay("127.0.0.1", 6379) for name in "ab"}
    urls = {name: f"redis://127.0.0.1:{relay.port}/12" for name, relay in relays.items()}
    try:
        with FakeTelegram(new_token()) as fake, two_gateways(fake, tmp_path, urls):
            fake.wait_for(lambda: fake.polls_of(), 60, "a gateway to poll")
            poller = fake.polls_of()[0].caller
            other = "b" if poller == "a" else "a"
            relays[poller].disable()  # the poller cannot renew its lease any more
            fake.wait_for(lambda: fake.polls_of(other), LEASE_SECONDS * 1.25 + 10, "the other gateway to poll")
            last_of_poller = max(p.ended or time.monotonic() for p in fake.polls_of(poller))
            assert last_of_poller <= fake.polls_of(other)[0].started
            assert_one_poller_at_a_time(fake)
            user = new_user()
            fake.send_command(user, "/start")
            fake.wait_for(lambda: starts(fake, user), 60, "the /start answer")
            time.sleep(1)
            assert starts(fake, user) == 1
            assert {p.caller for p in fake.polls_of() if p.started > fake.polls_of(other)[0].started} == {other}
    finally:
        for relay in relays.values():
            relay.close()


def test_in_webhook_mode_either_gateway_takes_an_update_and_a_repeated_one_is_answered_once(
    redis_url: str, tmp_path: Path
) -> None:
    webhook = {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/webhook",
               "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    with FakeTelegram(new_token()) as fake, two_gateways(fake, tmp_path, redis_url, **webhook) as gateways:
        urls = [base_url(gateway) + "/telegram/webhook" for gateway in gateways]
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        for url in urls:  # both channels up (503 until then)
            fake.wait_for(lambda url=url: post(url, b"not json", headers) == 400, 30, "the webhook")
        assert not fake.polls_of()

        # Different users through different gateways: all answered.
        users = [new_user() for _ in range(4)]
        for index, user in enumerate(users):
            update = fake.take_update(fake.send_command(user, "/start"))
            assert post(urls[index % 2], json.dumps(update).encode(), headers) == 200
        for user in users:
            fake.wait_for(lambda user=user: starts(fake, user), 60, "the /start answer")

        # Telegram delivers one update again, this time to the other gateway, and to both at once.
        again, both = new_user(), new_user()
        update = fake.take_update(fake.send_command(again, "/start"))
        assert post(urls[0], json.dumps(update).encode(), headers) == 200
        fake.wait_for(lambda: starts(fake, again), 60, "the /start answer")
        assert post(urls[1], json.dumps(update).encode(), headers) == 200
        update = json.dumps(fake.take_update(fake.send_command(both, "/start"))).encode()
        threads = [threading.Thread(target=post, args=(url, update, headers)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fake.wait_for(lambda: starts(fake, both), 60, "the /start answer")
        time.sleep(2)
        assert [starts(fake, user) for user in [*users, again, both]] == [1] * 6
