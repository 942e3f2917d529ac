"""Handoff end to end in headless Chromium: a user writes Arabic in the widget
and asks for a person; an adviser who speaks Arabic signs in to the console,
sees that user first in the queue, claims the chat, messages go both ways
(right to left on both sides), the adviser closes with an outcome, and the
user is back with the assistant, hearing it in Arabic. An admin takes over
another adviser's chat and changes their password, with the keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database
from bot.texts import text as localized
from tests.chat_client import ChatClient
from tests.console_helpers import PASSWORD
from tests.helpers import Gateway, Servers
from tests.responses import response_text
from tests.test_handoff_flow import handoff_gateway

pytestmark = pytest.mark.browser

TIMEOUT = 60_000
LAUNCHER = ".espoo-chat__launcher"
INPUT = "#espoo-chat-input"
LOG = "#espoo-chat-log"


@pytest.fixture(scope="module")
def console_gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with handoff_gateway(servers, tmp_path_factory.mktemp("console-browser")) as gateway:
        store = HandoffStore(Database(gateway.database_url))
        store.add_adviser("layla", "Layla", hash_password(PASSWORD), "adviser", ["ar", "en"], "en")
        store.add_adviser("ada", "Ada", hash_password(PASSWORD), "admin", ["en"], "en")
        yield gateway


def new_page(browser: Browser, locale: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def sign_in_with_keyboard(page: Page, gateway: Gateway, username: str = "layla") -> None:
    page.goto(gateway.url + "/console/")
    expect(page.locator("#username")).to_be_visible()  # redirected to the sign-in page
    page.locator("#username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Adviser console")


def widget_send(page: Page, text: str) -> None:
    page.locator(INPUT).focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_arabic_user_is_handed_to_an_arabic_speaking_adviser_and_back(browser: Browser,
                                                                      console_gateway: Gateway) -> None:
    adviser = new_page(browser, "en-GB")
    sign_in_with_keyboard(adviser, console_gateway)
    # Every control of the console has a name for a screen reader.
    expect(adviser.locator("#available")).to_have_accessible_name("I take chats")
    expect(adviser.locator("#ui-language")).to_have_accessible_name("Console language")

    # Someone else asked first, in Finnish.
    finn = ChatClient(console_gateway.url)
    try:
        start = finn.send("haluan puhua ihmisen kanssa")
        finn.wait_for_text(response_text("utter_handoff_queued", "fi", queue_position="1")[:15], after=start)

        user = new_page(browser, "ar")
        user.goto(console_gateway.url + "/")
        user.locator(LAUNCHER).click()
        widget_send(user, "اريد اتكلم ويا انسان موظف لو سمحت")
        queued = response_text("utter_handoff_queued", "ar", queue_position="2")
        expect(user.locator(LOG)).to_contain_text(queued[:12])
        expect(user.locator(f"{LOG} .espoo-chat__message--bot[lang='ar'][dir='rtl']").last).to_be_visible()

        # The Arabic user is first in Layla's queue, though they came second.
        first = adviser.locator("#queue li.queue-item").first
        expect(first).to_have_attribute("data-language", "ar")
        expect(first).to_have_class("queue-item speaks")
        expect(adviser.locator("#queue li.queue-item")).to_have_count(2)
        preview = first.locator("q.preview")
        expect(preview).to_have_attribute("dir", "rtl")

        first.locator("button.open").focus()
        adviser.keyboard.press("Enter")
        user_line = adviser.locator("#transcript li.from-user .text").first
        expect(user_line).to_have_text("اريد اتكلم ويا انسان موظف لو سمحت")
        assert user_line.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert user_line.get_attribute("lang") == "ar"
        bot_line = adviser.locator("#transcript li.from-bot .text").last
        assert bot_line.evaluate("e => getComputedStyle(e).direction") == "rtl"

        adviser.locator("#claim").click()
        joined = response_text("utter_adviser_joined", "ar", adviser_name="Layla")
        expect(user.locator(LOG)).to_contain_text(joined[:20])
        expect(adviser.locator("#reply")).to_be_focused()

        adviser.keyboard.type("مرحبا، أنا ليلى. كيف أستطيع مساعدتك؟")
        adviser.keyboard.press("Enter")
        from_adviser = user.locator(f"{LOG} .espoo-chat__message--adviser").last
        expect(from_adviser).to_contain_text("مرحبا، أنا ليلى")
        expect(from_adviser).to_contain_text("Layla")
        expect(from_adviser).to_have_attribute("dir", "rtl")

        widget_send(user, "عندي سؤال عن التأمين ضد البطالة")
        answer = adviser.locator("#transcript li.from-user .text").last
        expect(answer).to_have_text("عندي سؤال عن التأمين ضد البطالة")
        assert answer.evaluate("e => getComputedStyle(e).direction") == "rtl"

        adviser.locator("#outcome").select_option("benefit_apply")
        adviser.locator("#close").click()
        closed = response_text("utter_handoff_closed", "ar")
        expect(user.locator(LOG)).to_contain_text(closed[:20])
        expect(adviser.locator("#transcript")).to_contain_text("Layla closed the chat")

        # Back with the assistant, in Arabic.
        widget_send(user, "كيف اسجل كباحث عن عمل")
        expect(user.locator(LOG)).to_contain_text(response_text("utter_register_as_jobseeker", "ar")[:20])
        # 👎 under the answer, with the keyboard and a name in Arabic for screen readers.
        thumbs_down = user.locator(f"{LOG} .espoo-chat__feedback-button[data-value='-1']").last
        expect(thumbs_down).to_have_accessible_name(localized("ar", "feedback.not_helpful"))
        thumbs_down.focus()
        user.keyboard.press("Enter")
        expect(user.locator(LOG)).to_contain_text(localized("ar", "feedback.not_helpful_reply")[:20])
        expect(user.locator(f"{LOG} .espoo-chat__feedback-button")).to_have_count(0)
        # The Finnish user is still waiting, now first.
        expect(adviser.locator("#queue li.queue-item")).to_have_count(1)
        expect(adviser.locator("#queue li.queue-item").first).to_have_attribute("data-language", "fi")
    finally:
        finn.close()


def test_the_console_is_served_only_from_its_own_origin(browser: Browser, console_gateway: Gateway) -> None:
    page = new_page(browser, "fi-FI")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in_with_keyboard(page, console_gateway)
    expect(page.locator("#queue")).to_be_visible()
    assert all(url.startswith(console_gateway.url) for url in requests), requests
    assert violations == []


def test_an_admin_takes_over_another_advisers_chat_and_changes_their_password(browser: Browser,
                                                                             console_gateway: Gateway) -> None:
    layla = new_page(browser, "en-GB")
    sign_in_with_keyboard(layla, console_gateway)  # online: the user is queued
    user = ChatClient(console_gateway.url)
    try:
        start = user.send("I want to talk to a person", language="en")
        user.wait_for_text(response_text("utter_handoff_queued", "en", queue_position="1")[:12], after=start)
        item = layla.locator("#queue li.queue-item[data-language='en']").first
        item.locator("button.open").click()
        layla.locator("#claim").click()
        expect(layla.locator("#reply")).to_be_focused()

        ada = new_page(browser, "en-GB")
        sign_in_with_keyboard(ada, console_gateway, "ada")
        others = ada.locator("#others li.queue-item")
        expect(others).to_have_count(1)
        others.first.locator("button.open").focus()
        ada.keyboard.press("Enter")
        take_over = ada.locator("#take-over")
        expect(take_over).to_have_accessible_name("Take over this chat")
        expect(ada.locator("#requeue")).to_have_accessible_name("Put back in the queue")
        mark = len(user.events)
        take_over.focus()
        ada.keyboard.press("Enter")
        user.wait_for_text(response_text("utter_adviser_transferred", "en", adviser_name="Ada")[:25], after=mark)
        expect(ada.locator("#status-message")).to_have_text("You took over the chat.")
        expect(ada.locator("#reply")).to_be_visible()  # now hers: the usual actions
        expect(ada.locator("#transcript")).to_contain_text("Ada took over the chat")
        expect(ada.locator("#mine li.queue-item")).to_have_count(1)

        ada.locator("details.password summary").click()
        ada.locator("#current-password").fill(PASSWORD)
        ada.locator("#new-password").fill("an even longer passphrase")
        ada.locator("#save-password").click()
        expect(ada.locator("#status-message")).to_have_text(
            "Your password has been changed. Your other sessions have ended.")
    finally:
        user.close()
