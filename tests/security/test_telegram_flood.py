"""Telegram floods (issue 11): stickers, photos, /start and the language menu count against
the same per-chat limit as text, through the real gateway and the real python-telegram-bot
client against the local fake Bot API. The gateway's Rasa address leads nowhere: nothing
here needs an answer from the assistant."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.texts import text as localized
from tests.fake_telegram import FakeTelegram
from tests.helpers import Gateway, free_port, running_gateway
from tests.test_telegram import TOKEN, new_user

pytestmark = pytest.mark.telegram


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(fake: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot", "TELEGRAM_MODE": "polling",
           "LIMIT_CONVERSATION_MESSAGES": "4/minute", "LIMIT_REFUSAL_NOTICES": "1/minute"}
    with running_gateway(f"http://127.0.0.1:{free_port()}", tmp_path_factory.mktemp("tg-flood"), env) as running:
        fake.wait_for(lambda: fake.calls_of("getUpdates"), 60, "the gateway to poll for updates")
        yield running


@pytest.mark.parametrize("kind", ["sticker", "photo", "start", "language", "mixed"])
def test_non_text_updates_count_against_the_chat_limit(fake: FakeTelegram, gateway: Gateway, kind: str) -> None:
    user = new_user("fi")
    senders = {
        "sticker": lambda: fake.send_sticker(user),
        "photo": lambda: fake.send_photo(user),
        "start": lambda: fake.send_command(user, "/start"),
        "language": lambda: fake.send_command(user, "/language"),
    }
    order = list(senders.values()) if kind == "mixed" else [senders[kind]]
    since = fake.count(user.chat_id)
    for i in range(10):
        order[i % len(order)]()
        time.sleep(0.15)
    limited = localized("fi", "gateway.rate_limited")
    fake.wait_for_text(user.chat_id, limited, since, timeout=30)
    time.sleep(2)  # anything still coming would come now
    sent = [m for m in fake.messages(user.chat_id)[since:] if m.method == "sendMessage"]
    answered = [m for m in sent if m.text != limited]
    assert len(answered) == 4, [m.text[:40] for m in sent]  # the limit
    assert len(sent) == 5, [m.text[:40] for m in sent]  # and one refusal notice, then silence
