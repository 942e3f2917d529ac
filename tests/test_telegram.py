"""The Telegram channel: the real gateway (`python -m bot serve`) with the real
python-telegram-bot client, against a local fake Bot API (tests/fake_telegram.py)
and the real Rasa and action servers. Waits poll the fake with a deadline."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.channels.telegram import (
    MAX_TEXT_CHARS,
    RLM,
    TelegramChannel,
    change_language_payload,
    chosen_language,
    message_texts,
    payload_id,
    split_text,
    utf16_length,
)
from bot.content.links import link_map
from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT
from bot.router import Reply, Turn
from bot.settings import TelegramSettings
from bot.texts import text as localized
from tests.fake_telegram import FakeTelegram, Sent, TelegramUser
from tests.helpers import Gateway, Servers, running_gateway
from tests.responses import response_text
from tests.test_handoff_flow import Adviser, handoff_config, handoff_of

pytestmark = pytest.mark.telegram

TOKEN = "123:TEST"
WEBHOOK_SECRET = "test-secret_123"
_user_ids = itertools.count(7_000_001)


def new_user(language_code: str | None = "fi") -> TelegramUser:
    return TelegramUser(next(_user_ids), language_code)


def response_start(key: str, language: str) -> str:
    """The beginning of a domain response in one language (before any {slot})."""
    for path in sorted((PROJECT_ROOT / "domain" / "responses").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", {})
        for variation in responses.get(key, []):
            if any(c.get("value") == language for c in variation.get("condition") or []):
                return variation["text"].split("{")[0][:40]
    raise KeyError((key, language))


def start_message(fake: FakeTelegram, user: TelegramUser, language: str) -> Sent:
    since = fake.count(user.chat_id)
    fake.send_command(user, "/start")
    return fake.wait_for_text(user.chat_id, localized(language, "telegram.start")[:40], since)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def telegram_gateway(servers: Servers, fake: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    work_dir = tmp_path_factory.mktemp("telegram")
    env = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot", "TELEGRAM_MODE": "polling",
           "HANDOFF_CONFIG": str(handoff_config(work_dir / "handoff.yml"))}
    with running_gateway(servers.rasa_url, work_dir, extra_env=env) as gateway:
        fake.wait_for(lambda: fake.calls_of("getUpdates"), 60, "the gateway to poll for updates")
        yield gateway
    assert not fake.unknown_methods, fake.unknown_methods


# --- pure functions ----------------------------------------------------------------------------------


def test_long_text_is_split_on_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Kappale {i}. " + "sana " * 180 for i in range(12)]  # about 11 000 characters
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = split_text(text)
    assert len(pieces) > 2
    assert all(utf16_length(p) <= MAX_TEXT_CHARS for p in pieces)
    assert all(p.startswith("Kappale") for p in pieces)  # every cut is at a paragraph break
    assert "\n\n".join(pieces) == text


def test_split_falls_back_to_lines_words_and_hard_cuts() -> None:
    lines = "\n".join("rivi " * 30 for _ in range(60))
    assert all(len(p) <= 1000 and not p.startswith(" ") for p in split_text(lines, 1000))
    words = " ".join(["työttömyysturva"] * 600)
    assert all(len(p) <= 500 and p.split(" ")[0] == "työttömyysturva" for p in split_text(words, 500))
    solid = "x" * 10_000
    pieces = split_text(solid)
    assert [len(p) for p in pieces] == [4096, 4096, 1808] and "".join(pieces) == solid
    assert split_text("lyhyt") == ["lyhyt"]
    emoji = "🙂" * 3000  # each counts twice in Telegram's (UTF-16) length
    assert all(utf16_length(p) <= MAX_TEXT_CHARS for p in split_text(emoji))


def test_right_to_left_text_starts_with_rlm_and_stays_within_the_limit() -> None:
    arabic = "مرحبا، كيف يمكنني مساعدتك؟ " * 400
    pieces = message_texts(arabic, "ar")
    assert len(pieces) > 1 and all(p.startswith(RLM) and utf16_length(p) <= MAX_TEXT_CHARS for p in pieces)
    assert message_texts("سلام، چطور می‌توانم کمک کنم؟", "en")[0].startswith(RLM)  # detected from the letters
    assert not message_texts("Hei, miten voin auttaa?", "fi")[0].startswith(RLM)


def test_callback_data_fits_telegram_and_language_payloads_round_trip() -> None:
    long_payload = '/help{"topic_group": "immigrants_and_youth", "extra": "' + "x" * 200 + '"}'
    assert len(payload_id(long_payload).encode()) <= 64
    assert payload_id(long_payload) != payload_id("/help")
    assert chosen_language(change_language_payload("sv")) == "sv"
    assert chosen_language('/change_language{"language": "en"}') == "en"
    assert chosen_language("/help") is None


# --- the channel's sending, in-process against the fake --------------------------------------------


@dataclass
class StubConversation:
    id: str
    language: str | None = None
    offered_payloads: list[str] = field(default_factory=list)


class StubStore:
    def __init__(self) -> None:
        self.conversations: dict[str, StubConversation] = {}

    def find(self, channel: str, external_id: str) -> StubConversation | None:
        return self.conversations.get(external_id)

    def update_conversation(self, conversation_id: str, *, language: str | None = None,
                            offered: list[str] | None = None) -> None:
        conversation = self.conversations[conversation_id]
        conversation.language = language or conversation.language
        conversation.offered_payloads += offered or []


class StubRouter:
    """Answers every message with fixed replies (a long text, a custom payload, ...)."""

    def __init__(self, replies: list[Reply], language: str = "fi") -> None:
        self.replies, self.language, self.store, self.received = replies, language, StubStore(), []
        self.outbox: dict = {}

    async def conversation(self, channel: str, external_id: str) -> StubConversation:
        return self.store.conversations.setdefault(external_id, StubConversation(external_id))

    async def admit(self, channel: str, external_id: str, language: str) -> None:
        return None  # no limits here: the real router's are tested in tests/security/

    async def handle(self, channel: str, external_id: str, raw_text: Any, **kwargs: Any) -> Turn:
        conversation = await self.conversation(channel, external_id)
        self.received.append((raw_text, kwargs))
        conversation.offered_payloads += [b["payload"] for r in self.replies for b in r.buttons]
        conversation.language = self.language
        return Turn(external_id, self.language, self.replies)


def run_channel(fake: FakeTelegram, router: StubRouter, scenario) -> None:  # noqa: ANN001
    async def main() -> None:
        channel = TelegramChannel(TelegramSettings(token=TOKEN, api_url=f"{fake.url}/bot"), router)  # type: ignore[arg-type]
        await channel.start()
        try:
            await asyncio.to_thread(fake.wait_for, lambda: fake.calls_of("getUpdates"), 20, "polling")
            await asyncio.to_thread(scenario)
        finally:
            await asyncio.wait_for(channel.stop(), 30)

    asyncio.run(main())


def test_long_answers_are_split_and_custom_payloads_not_shown() -> None:
    long_text = "\n\n".join((f"Kohta {i}: " + "Tämä on pitkä vastaus. " * 40).strip() for i in range(12))
    assert len(long_text) > 2 * MAX_TEXT_CHARS
    router = StubRouter([
        Reply(text=long_text, buttons=[{"title": "Lisää", "payload": "/help"}], language="fi"),
        Reply(custom={"handoff": {"reason": "user_request"}}, language="fi"),
        Reply(buttons=[{"title": "Kyllä", "payload": "/affirm"}], language="fi"),
        Reply(image="https://example.org/kartta.png", language="fi"),
    ])
    user = new_user("fi")

    def scenario(fake: FakeTelegram) -> None:
        fake.send_text(user, "kerro kaikki")
        fake.wait_for(lambda: fake.calls_of("sendPhoto"), 30, "the image")
        sent = fake.messages(user.chat_id)
        texts = [m for m in sent if m.method == "sendMessage"]
        assert len(texts) >= 4, [m.text[:30] for m in texts]
        assert all(utf16_length(m.text) <= MAX_TEXT_CHARS for m in texts)
        assert "\n\n".join(m.text for m in texts[:-1]) == long_text.strip()
        # The keyboard is on the last piece of the long text only.
        assert [bool(m.buttons) for m in texts[:-1]] == [False] * (len(texts) - 2) + [True]
        assert texts[-2].buttons[0]["callback_data"] == payload_id("/help")
        # Buttons without text get a short prompt; the custom payload is not shown at all.
        assert texts[-1].text == localized("fi", "telegram.choose_option")
        assert texts[-1].buttons[0]["callback_data"] == payload_id("/affirm")
        assert not any("handoff" in (m.text or "") for m in sent)
        assert fake.calls_of("sendPhoto")[-1].params["photo"] == "https://example.org/kartta.png"

    with FakeTelegram(TOKEN) as fake:
        run_channel(fake, router, lambda: scenario(fake))
        assert router.received[0][0] == "kerro kaikki"
        assert router.received[0][1]["language_hint"] == "fi"


def test_network_errors_are_retried_with_backoff() -> None:
    router = StubRouter([Reply(text="Vastaus tulee perille.", language="fi")])
    user = new_user("fi")

    def scenario(fake: FakeTelegram) -> None:
        fake.fail_next("sendMessage", 2, status=500)
        fake.send_text(user, "hei")
        fake.wait_for_text(user.chat_id, "Vastaus tulee perille.", timeout=30)
        statuses = [c.status for c in fake.calls_of("sendMessage")]
        assert statuses == [500, 500, 200]

    with FakeTelegram(TOKEN) as fake:
        run_channel(fake, router, lambda: scenario(fake))


def test_an_arabic_reply_is_aligned_right() -> None:
    router = StubRouter([Reply(text="مرحبا! كيف يمكنني مساعدتك؟", language="ar")], language="ar")
    user = new_user("ar")

    def scenario(fake: FakeTelegram) -> None:
        fake.send_text(user, "مرحبا")
        message = fake.wait_for_message(user.chat_id, lambda m: "مرحبا" in (m.text or ""), timeout=30)
        assert message.text.startswith(RLM)

    with FakeTelegram(TOKEN) as fake:
        run_channel(fake, router, lambda: scenario(fake))


def test_answer_links_are_sent_as_short_titles() -> None:
    kela = "http://kela.fi/web/en/unemployment"
    page = link_map()[kela]["en"]  # the link map's site and title of the page
    text = f"Hae etuutta Kelasta (jos olet työtön) & kysy lisää: {kela} (englanniksi). Muu: https://example.org/x"
    router = StubRouter([Reply(text=text, language="fi")])
    user = new_user("fi")

    def scenario(fake: FakeTelegram) -> None:
        fake.send_text(user, "kela")
        message = fake.wait_for_message(user.chat_id, lambda m: "Kelasta" in (m.text or ""), timeout=30)
        call = next(c for c in fake.calls_of("sendMessage") if "Kelasta" in c.params.get("text", ""))
        assert call.params["parse_mode"] == "HTML"
        assert message.text == ("Hae etuutta Kelasta (jos olet työtön) &amp; kysy lisää: "
                                f'<a href="{kela}">{page.site}: {page.title}</a> (englanniksi). Muu: https://example.org/x')

    with FakeTelegram(TOKEN) as fake:
        run_channel(fake, router, lambda: scenario(fake))


# --- the real gateway, Rasa and actions --------------------------------------------------------------


@pytest.mark.servers
def test_start_gives_privacy_note_and_language_menu(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    user = new_user("fi")
    message = start_message(fake, user, "fi")
    assert localized("fi", "telegram.choose_language") in message.text
    buttons = message.buttons
    catalog = load_catalog()
    assert [b["text"] for b in buttons] == [catalog.languages[c].native_name for c in catalog.supported]
    assert [b["callback_data"] for b in buttons] == [f"lang:{c}" for c in catalog.supported]
    # The command menu is set in every language.
    assert {"fi", "sv", "en", None} <= set(fake.commands)
    assert [c["command"] for c in fake.commands["sv"]] == ["start", "language", "help", "human", "stop"]
    assert fake.commands["sv"][3]["description"] == localized("sv", "telegram.commands.human")


@pytest.mark.servers
def test_choosing_swedish_then_asking_answers_in_swedish(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    user = new_user("fi")
    menu = start_message(fake, user, "fi")
    since = fake.count(user.chat_id)
    press = fake.press(user, menu, "lang:sv")
    fake.wait_for_text(user.chat_id, response_start("utter_language_changed", "sv"), since)
    assert any(c.params.get("callback_query_id") == press["callback_query"]["id"]
               for c in fake.calls_of("answerCallbackQuery"))

    since = fake.count(user.chat_id)
    fake.send_text(user, "hur anmäler jag mig som arbetssökande")
    fake.wait_for_text(user.chat_id, response_start("utter_register_as_jobseeker", "sv"), since)

    # The channel's own texts follow the conversation's language, not the Finnish hint.
    since = fake.count(user.chat_id)
    fake.send_voice(user)
    fake.wait_for_text(user.chat_id, localized("sv", "telegram.non_text"), since)


@pytest.mark.servers
def test_assistant_buttons_are_an_inline_keyboard_and_a_press_sends_the_payload(
    telegram_gateway: Gateway, fake: FakeTelegram
) -> None:
    user = new_user("en")
    since = fake.count(user.chat_id)
    fake.send_command(user, "/help")
    benefits = payload_id('/help{"topic_group": "benefits"}')
    menu = fake.wait_for_message(
        user.chat_id, lambda m: any(b.get("callback_data") == benefits for b in m.buttons), since,
        what="the help menu",
    )
    assert menu.text.startswith(response_start("utter_help_menu", "en"))
    assert all(len(b["callback_data"].encode()) <= 64 for b in menu.buttons)
    assert any(b["text"] == "Talk to a person" for b in menu.buttons)

    since = fake.count(user.chat_id)
    press = fake.press(user, menu, benefits)
    register = payload_id("/register_as_jobseeker")
    group = fake.wait_for_message(
        user.chat_id, lambda m: any(b.get("callback_data") == register for b in m.buttons), since,
        what="the benefits group",
    )
    assert any(c.params.get("callback_query_id") == press["callback_query"]["id"]
               for c in fake.calls_of("answerCallbackQuery"))

    since = fake.count(user.chat_id)
    fake.press(user, group, register)
    fake.wait_for_text(user.chat_id, response_start("utter_register_as_jobseeker", "en"), since)

    # Forged or forgotten callback data: the query is answered with a note, nothing is sent.
    forged = fake.press(user, group, "p:not-a-button")
    answer = fake.wait_for(
        lambda: next((c for c in fake.calls_of("answerCallbackQuery")
                      if c.params.get("callback_query_id") == forged["callback_query"]["id"]), None),
        30, "the answer to a forged press",
    )
    assert answer.params.get("text") == localized("en", "telegram.button_expired")


@pytest.mark.servers
@pytest.mark.parametrize("kind", ["voice", "photo", "sticker", "location"])
def test_non_text_messages_get_a_polite_answer_in_finnish(
    telegram_gateway: Gateway, fake: FakeTelegram, kind: str
) -> None:
    user = new_user("fi")
    getattr(fake, f"send_{kind}")(user)
    message = fake.wait_for_text(user.chat_id, localized("fi", "telegram.non_text"), timeout=30)
    assert not message.buttons


@pytest.mark.servers
def test_a_flood_limit_is_waited_out_and_the_message_delivered(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    user = new_user("sv")
    fake.fail_next("sendMessage", 1, retry_after=1)
    start_message(fake, user, "sv")
    calls = [c for c in fake.calls_of("sendMessage") if c.params.get("chat_id") == user.chat_id]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0


@pytest.mark.servers
def test_human_command_gives_the_handoff_contact(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    user = new_user("fi")
    since = fake.count(user.chat_id)
    fake.send_command(user, "/human")
    outcomes = [response_start(key, "fi") for key in ("utter_no_adviser", "utter_handoff_queued")]
    fake.wait_for_message(user.chat_id, lambda m: (m.text or "").startswith(tuple(outcomes)), since=since)
    # Replies of one chat are sent in order: once /start is answered, /human's replies are all out.
    start_message(fake, user, "fi")
    texts = [m.text or "" for m in fake.messages(user.chat_id, since)]
    assert not any("handoff" in t or t.lstrip().startswith("{") for t in texts), texts


@pytest.mark.servers
def test_a_telegram_user_is_handed_to_an_adviser_and_back(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    adviser = Adviser(telegram_gateway, "tiina", "Tiina", ["fi"])
    user = new_user("fi")
    since = fake.count(user.chat_id)
    fake.send_command(user, "/human")
    queued = fake.wait_for_text(user.chat_id, "jonossa numero", since)
    assert any(b["text"] == "Lopeta keskustelu" for b in queued.buttons)
    handoff = handoff_of(telegram_gateway, str(user.chat_id))
    assert handoff.status == "waiting" and handoff.channel == "telegram" and handoff.reason == "button"

    since = fake.count(user.chat_id)
    assert adviser.post(f"handoffs/{handoff.id}/claim").status_code == 200
    fake.wait_for_text(user.chat_id, response_text("utter_adviser_joined", "fi", adviser_name="Tiina")[:25], since)
    assert adviser.post(f"handoffs/{handoff.id}/messages", {"text": "Hei! Miten voin auttaa?"}).status_code == 200
    message = fake.wait_for_text(user.chat_id, "Hei! Miten voin auttaa?", since)
    assert message.text.startswith(localized("fi", "widget.adviser") + " Tiina:")

    fake.send_text(user, "Haluan kysyä palkkatuesta")
    fake.wait_for(
        lambda: "Haluan kysyä palkkatuesta" in [m["text"] for m in adviser.transcript(handoff.id)["messages"]],
        30, "the user's message in the console",
    )

    since = fake.count(user.chat_id)
    fake.send_command(user, "/stop")
    fake.wait_for_text(user.chat_id, response_text("utter_handoff_user_ended", "fi")[:25], since)
    assert handoff_of(telegram_gateway, str(user.chat_id)).status == "user_left"
    assert adviser.post(f"handoffs/{handoff.id}/messages", {"text": "Oletko siellä?"}).status_code == 403

    since = fake.count(user.chat_id)
    fake.send_text(user, "miten ilmoittaudun työttömäksi työnhakijaksi")
    fake.wait_for_text(user.chat_id, response_start("utter_register_as_jobseeker", "fi"), since)


@pytest.mark.servers
def test_every_message_of_a_handoff_carries_the_end_button(telegram_gateway: Gateway, fake: FakeTelegram) -> None:
    """Waiting or with an adviser, the user can always leave with a button, however far the
    queue message has scrolled: every message of the handoff has "End the chat" (or its own buttons)."""
    adviser = Adviser(telegram_gateway, "hanna", "Hanna", ["fi"])
    end = {"text": localized("fi", "widget.handoff_end"), "callback_data": payload_id("/stop")}
    user = new_user("fi")
    since = fake.count(user.chat_id)
    fake.send_command(user, "/human")
    fake.wait_for_text(user.chat_id, "jonossa numero", since)
    handoff = handoff_of(telegram_gateway, str(user.chat_id))
    fake.send_text(user, "Minulla on kysymys karenssista")
    fake.wait_for(lambda: "Minulla on kysymys karenssista" in [
        m["text"] for m in adviser.transcript(handoff.id)["messages"]], 30, "the question in the console")

    assert adviser.post(f"handoffs/{handoff.id}/claim").status_code == 200
    assert adviser.post(f"handoffs/{handoff.id}/messages", {"text": "Hei! Olen Hanna."}).status_code == 200
    message = fake.wait_for_text(user.chat_id, "Hei! Olen Hanna.", since)
    handoff_messages = fake.messages(user.chat_id, since)
    assert all(m.buttons for m in handoff_messages), [(m.text, m.buttons) for m in handoff_messages]
    assert message.buttons == [end]

    since = fake.count(user.chat_id)
    fake.press(user, message, end["callback_data"])
    ended = fake.wait_for_text(user.chat_id, response_text("utter_handoff_user_ended", "fi")[:25], since)
    assert handoff_of(telegram_gateway, str(user.chat_id)).status == "user_left"
    assert not ended.buttons  # back with the assistant: no end button any more


@pytest.mark.servers
def test_no_message_sent_through_the_gateway_exceeds_telegrams_limit(
    telegram_gateway: Gateway, fake: FakeTelegram
) -> None:
    assert fake.messages()
    assert all(utf16_length(m.text or "") <= MAX_TEXT_CHARS for m in fake.messages())


# --- webhook mode -----------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.servers
def test_webhook_mode_checks_the_secret_and_answers(servers: Servers, tmp_path: Path) -> None:
    with FakeTelegram(TOKEN) as fake:
        env = {
            "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot", "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        with running_gateway(servers.rasa_url, tmp_path, extra_env=env) as gateway:
            fake.wait_for(lambda: fake.webhook.get("url"), 30, "setWebhook")
            assert fake.webhook["secret_token"] == WEBHOOK_SECRET
            assert fake.webhook["allowed_updates"] == ["message", "callback_query"]
            assert not fake.calls_of("getUpdates")

            user = new_user("en")
            update = fake.take_update(fake.send_command(user, "/start"))
            url = f"{gateway.url}/telegram/webhook"
            body = json.dumps(update).encode()
            assert post(url, body, {}) == 403
            assert post(url, body, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
            # 503 (Telegram retries) until the channel is up, then malformed bodies are refused.
            fake.wait_for(lambda: post(url, b"not json", {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 400,
                          30, "the webhook to accept updates")
            assert post(url, body, {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 200
            fake.wait_for_text(user.chat_id, localized("en", "telegram.start")[:40], timeout=30)
            # Telegram re-sending the same update does not answer twice.
            assert post(url, body, {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 200
            question = fake.take_update(fake.send_text(user, "how do i register as an unemployed jobseeker"))
            assert post(url, json.dumps(question).encode(), {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 200
            fake.wait_for_text(user.chat_id, response_start("utter_register_as_jobseeker", "en"), timeout=60)
            starts = [m for m in fake.messages(user.chat_id) if (m.text or "").startswith("Hi! I am the chatbot")]
            assert len(starts) == 1
        assert not fake.unknown_methods, fake.unknown_methods
