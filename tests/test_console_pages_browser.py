"""Every console page in headless Chromium, on a gateway with a seeded day of work
(tests/console_pages.py): axe-core finds no violation on any of them (issue 12, item 16),
the transcript scrolls with the keyboard, a contact request shows the user's question and
the conversation before it, masked (item 11), and the queue and the chat say whether the
user is still there and when they last wrote (item 12)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.console.texts import console_texts
from tests.axe import assert_no_violations
from tests.console_helpers import PASSWORD
from tests.console_pages import (
    ARABIC_MIXED,
    ARABIC_QUESTION,
    ARABIC_SESSION,
    CONTACT_MARKUP,
    CONTACT_PHONE,
    Seeded,
    console_gateway,
)
from tests.helpers import Gateway

pytestmark = pytest.mark.browser

TIMEOUT = 30_000
# The console polls the queue every 10 s (pushes only say that the queue changed).
POLL = {"timeout": 25_000}
EN = console_texts("en")


@pytest.fixture(scope="module")
def seeded_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Seeded]]:
    with console_gateway(tmp_path_factory.mktemp("console-pages")) as running:
        yield running


@pytest.fixture
def gateway(seeded_gateway: tuple[Gateway, Seeded]) -> Gateway:
    return seeded_gateway[0]


@pytest.fixture
def seeded(seeded_gateway: tuple[Gateway, Seeded]) -> Seeded:
    return seeded_gateway[1]


def new_page(browser: Browser, locale: str = "en-GB", width: int = 1280, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def sign_in(page: Page, gateway: Gateway, username: str) -> None:
    page.goto(gateway.url + "/console/login?lang=en")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(lambda url: "/console/login" not in url)


def open_chat(page: Page, handoff_id: int) -> None:
    page.locator(f"li.queue-item[data-id='{handoff_id}'] button.open").click()
    expect(page.locator("#transcript li").first).to_be_visible()


# --- axe-core on every page -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_sign_in_page_has_no_axe_violations(browser: Browser, gateway: Gateway, lang: str) -> None:
    page = new_page(browser)
    page.goto(f"{gateway.url}/console/login?lang={lang}")
    expect(page.locator("#username")).to_be_visible()
    assert_no_violations(page, f"the sign-in page ({lang})")
    page.locator("#username").fill("layla")
    page.locator("#password").fill("wrong password!")
    page.locator("#password").press("Enter")
    expect(page.locator(".error")).to_be_visible()
    assert_no_violations(page, "the sign-in page after a wrong password")
    page.context.close()


def test_the_adviser_console_has_no_axe_violations(browser: Browser, gateway: Gateway, seeded: Seeded) -> None:
    page = new_page(browser)
    sign_in(page, gateway, "layla")
    expect(page.locator("#queue li.queue-item")).to_have_count(2)
    expect(page.locator("#contacts li.contact-request")).to_have_count(1)
    assert_no_violations(page, "the queue")
    open_chat(page, seeded.arabic_handoff)
    assert_no_violations(page, "a waiting Arabic user's chat")
    page.locator(f"#mine li.queue-item[data-id='{seeded.finnish_handoff}'] button.open").click()
    expect(page.locator("#reply")).to_be_visible()
    assert_no_violations(page, "the adviser's own chat")
    page.locator("#contacts button.show-conversation").click()
    expect(page.locator("#contacts .contact-conversation li").first).to_be_visible()
    assert_no_violations(page, "a contact request's conversation")
    page.context.close()


@pytest.mark.parametrize("path", ["/console/reports", "/console/topics", "/console/inbox", "/console/inbox?status=all",
                                  "/console/content"])
@pytest.mark.parametrize("username", ["aino", "eino"])
def test_the_analyst_pages_have_no_axe_violations(browser: Browser, gateway: Gateway, path: str,
                                                   username: str) -> None:
    page = new_page(browser)
    sign_in(page, gateway, username)
    page.goto(gateway.url + path)
    expect(page.locator("h1")).to_be_visible()
    assert_no_violations(page, f"{path} ({username})")
    page.context.close()


# --- the transcript scrolls with the keyboard ---------------------------------------------------------


def test_the_transcript_scrolls_with_the_keyboard(browser: Browser, gateway: Gateway, seeded: Seeded) -> None:
    page = new_page(browser, height=400)
    sign_in(page, gateway, "layla")
    open_chat(page, seeded.arabic_handoff)
    transcript = page.locator("#transcript")
    expect(transcript).to_have_accessible_name(page.locator("#chat-title").inner_text())
    assert transcript.evaluate("e => e.scrollHeight > e.clientHeight"), "the transcript should overflow here"
    transcript.evaluate("e => { e.scrollTop = 0; }")
    page.locator("#chat-title").focus()
    page.keyboard.press("Tab")
    expect(transcript).to_be_focused()
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('transcript').scrollTop > 0")


# --- a contact request shows the question and the conversation (item 11) --------------------------------


def test_a_contact_request_shows_the_question_and_the_masked_conversation(browser: Browser, gateway: Gateway,
                                                                           seeded: Seeded) -> None:
    page = new_page(browser)
    sign_in(page, gateway, "layla")
    request = page.locator(f"#contacts li.contact-request[data-id='{seeded.contact_request}']")
    expect(request.locator(".contact")).to_have_text(CONTACT_PHONE)  # the details to call back, as given
    # The question the user asked before the contact request, personal data masked, in its language.
    question = request.locator(".question q")
    expect(question).to_have_text("Voinko saada starttirahaa, jos aloitan toiminimellä? Soita [phone]")
    expect(question).to_have_attribute("lang", "fi")

    # The whole conversation on demand, with the keyboard.
    toggle = request.locator("button.show-conversation")
    expect(toggle).to_have_accessible_name(EN["contact.show_conversation"])
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_accessible_name(EN["contact.hide_conversation"])
    conversation = page.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(conversation.get_by_role("heading")).to_have_text(EN["contact.conversation"])
    texts = conversation.locator("li .text")
    expect(texts).to_have_count(7)
    assert texts.all_inner_texts() == [
        CONTACT_MARKUP,  # shown as text, not run
        "En ymmärtänyt. Voitko kysyä toisin?",
        "Voinko saada starttirahaa, jos aloitan toiminimellä? Soita [phone]",
        "Starttiraha on tukea yritystoiminnan alkuun.",
        "/human_handoff",
        "Neuvojat eivät ole nyt paikalla. Haluatko, että sinuun otetaan yhteyttä?",
        "[phone]",
    ]
    expect(conversation.locator("b, script")).to_have_count(0)
    assert "765 4321" not in conversation.inner_text()
    # The conversation list scrolls with the keyboard too, and closes again.
    expect(conversation.locator("ol")).to_have_attribute("tabindex", "0")
    toggle.press("Enter")
    expect(conversation).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    page.context.close()


# --- is the user still there (item 12) ------------------------------------------------------------------


def presence_of(page: Page, handoff_id: int):  # noqa: ANN201
    return page.locator(f"li.queue-item[data-id='{handoff_id}'] .presence")


def test_the_queue_and_the_chat_say_whether_the_user_is_still_there(browser: Browser, gateway: Gateway,
                                                                     seeded: Seeded) -> None:
    page = new_page(browser)
    sign_in(page, gateway, "layla")
    # The Telegram user blocked the bot after writing; the Finnish user left the page 12 minutes ago.
    expect(presence_of(page, seeded.telegram_handoff)).to_have_attribute("data-state", "blocked")
    expect(presence_of(page, seeded.telegram_handoff)).to_contain_text(EN["client.blocked"])
    expect(presence_of(page, seeded.telegram_handoff)).to_have_text(
        re.compile(re.escape(EN["client.blocked"]) + r" · Last wrote (19|2\d) min ago"))
    expect(presence_of(page, seeded.finnish_handoff)).to_have_attribute("data-state", "closed")
    expect(presence_of(page, seeded.finnish_handoff)).to_have_text(
        re.compile(r"Left the page with the chat 1\d min ago · Last wrote [23]\d min ago"))

    # The Arabic user's chat. Their page with the chat (the demo page, their session in the
    # browser's storage) is open; then they close it.
    open_chat(page, seeded.arabic_handoff)
    user = new_page(browser, "ar")
    user.add_init_script(f"localStorage.setItem('espooChat.sessionId', {ARABIC_SESSION!r});"
                         "localStorage.setItem('espooChat.lastActive', String(Date.now()));")
    user.goto(gateway.url + "/")
    expect(user.locator("#espoo-chat-log")).to_contain_text(ARABIC_QUESTION)  # their history: connected
    expect(presence_of(page, seeded.arabic_handoff)).to_have_attribute("data-state", "open", **POLL)
    expect(page.locator("#chat-presence")).to_have_text(
        re.compile(re.escape(EN["client.open"]) + r" · Last wrote \d min ago"))
    user.context.close()
    expect(presence_of(page, seeded.arabic_handoff)).to_have_attribute("data-state", "closed", **POLL)
    expect(page.locator("#chat-presence")).to_contain_text("Left the page with the chat 0 min ago")
    expect(page.locator("#chat-presence")).to_have_attribute("data-state", "closed")
    # The transcript is the user's, in Arabic, right to left, mixed text included.
    expect(page.locator("#transcript li.from-user .text").last).to_have_text(ARABIC_QUESTION)
    expect(page.locator("#transcript li.from-user .text").filter(has_text=ARABIC_MIXED)).to_have_count(1)
    page.context.close()


# Where each fragment of an element's text starts on the screen (left edge, in px).
LEFT_OF = """(element, fragments) => fragments.map((fragment) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(fragment);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + fragment.length);
    return range.getBoundingClientRect().left;
  }
  return null;
})"""


def test_a_phone_number_in_arabic_text_keeps_its_order(browser: Browser, gateway: Gateway, seeded: Seeded) -> None:
    """"040 123 4567" inside right-to-left text reads 040, 123, 4567 from left to right (not 4567 123 040)."""
    page = new_page(browser)
    sign_in(page, gateway, "layla")
    preview = page.locator(f"li.queue-item[data-id='{seeded.arabic_handoff}'] q.preview")
    open_chat(page, seeded.arabic_handoff)
    message = page.locator("#transcript li.from-user .text").last
    expect(message).to_have_text(ARABIC_QUESTION)
    for where in (preview, message):
        assert where.evaluate("e => getComputedStyle(e).direction") == "rtl"
        left = where.evaluate(LEFT_OF, ["040", "123", "4567", "رقمي"])
        assert None not in left and left[0] < left[1] < left[2], left
        assert left[3] > left[2], "the number is on the left of the word before it, as in right-to-left text"
    page.context.close()
