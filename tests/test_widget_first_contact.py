"""What a jobseeker sees first and during a handoff (issue 12), in headless Chromium against the
real gateway, Rasa and action servers, with an adviser using the console's API:

- a new conversation opens with the assistant's greeting and topic menu, in the browser's language;
- the widget speaks the first supported language of navigator.languages at once (lang, dir) and
  sends all of them to the gateway;
- mixed-direction text: a phone number inside Arabic text and an adviser's English message in an
  Arabic chat, checked by where the browser lays the characters out;
- a long message is never cut: a counter near the limit, a clear note over it, nothing sent;
- the "End the chat" button stays in every handoff state, after typing and after a reload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from bot.content.links import link_map
from bot.texts import section
from tests.chat_client import ChatClient
from tests.helpers import CHROMIUM_ARGS, Gateway, Servers
from tests.responses import response, response_text
from tests.test_handoff_flow import Adviser, handoff_gateway, handoff_of
from tests.test_widget_browser import (
    BOT_MESSAGES,
    INPUT,
    LAUNCHER,
    LOG,
    PANEL,
    QUICK_REPLIES,
    ROOT,
    USER_MESSAGES,
    Recorder,
)

pytestmark = [pytest.mark.browser, pytest.mark.servers]

ANSWER_TIMEOUT = 60_000
HANDOFF_BAR = ".espoo-chat__handoff"
END_BUTTON = ".espoo-chat__handoff-end"
COUNTER = "#espoo-chat-counter"
ANNOUNCER = "#espoo-chat-announcer"
ADVISER_BUBBLE = f"{LOG} .espoo-chat__message--adviser .espoo-chat__bubble"

# Every character of an element's text with the rectangle the browser drew it in.
CHARACTER_RECTS_JS = """
(selector) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      if (!node.data[i].trim()) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      out.push({ch: node.data[i], left: box.left, right: box.right, top: Math.round(box.top)});
    }
  }
  return out;
}
"""

# Where the browser put a piece of text inside an element: the rectangle of its first occurrence.
TEXT_RECT_JS = """
([selector, needle, last]) => {
  const roots = document.querySelectorAll(selector);
  const root = last ? roots[roots.length - 1] : roots[0];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = last ? node.data.lastIndexOf(needle) : node.data.indexOf(needle);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + needle.length);
      const box = range.getBoundingClientRect();
      return {left: box.left, right: box.right, top: box.top, bottom: box.bottom};
    }
  }
  return null;
}
"""


@pytest.fixture(scope="module")
def gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose adviser chat is always open (config/handoff.yml's format)."""
    with handoff_gateway(servers, tmp_path_factory.mktemp("first-contact")) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def new_page(browser: Browser, locale: str, languages: list[str] | None = None, **options: object
             ) -> tuple[BrowserContext, Page, Recorder]:
    """A fresh profile with the browser language `locale` (and `languages` as navigator.languages)."""
    context = browser.new_context(locale=locale, **options)
    context.set_default_timeout(ANSWER_TIMEOUT)
    recorder = Recorder()
    context.on("request", recorder.on_request)
    if languages:
        context.add_init_script(
            f"Object.defineProperty(navigator, 'languages', {{get: () => {json.dumps(languages)}}});"
            f"Object.defineProperty(navigator, 'language', {{get: () => {json.dumps(languages[0])}}});")
    page = context.new_page()
    page.on("websocket", recorder.on_websocket)
    return context, page, recorder


def open_chat(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/")
    page.locator(LAUNCHER).click()
    expect(page.locator(PANEL)).to_be_visible()


def greeting_messages(language: str) -> int:
    """How many messages the greeting is: its paragraphs (Rasa sends each as a message), the menu."""
    return len(response("utter_greet", language)["text"].split("\n\n")) + 1


def greeting_shown(page: Page, language: str) -> None:
    """The assistant's greeting and its topic menu, with nothing typed."""
    expect(page.locator(BOT_MESSAGES).first).to_contain_text(response_text("utter_greet", language))
    titles = [b["title"] for b in response("utter_help_menu", language)["buttons"]]
    expect(page.locator(QUICK_REPLIES)).to_have_text(titles)
    expect(page.locator(BOT_MESSAGES)).to_have_count(greeting_messages(language))


def text_rect(page: Page, selector: str, needle: str, last: bool = False) -> dict:
    rect = page.evaluate(TEXT_RECT_JS, [selector, needle, last])
    assert rect, (selector, needle)
    return rect


def session_id(page: Page) -> str:
    return page.evaluate("localStorage.getItem('espooChat.sessionId')")


def press_quick_reply(page: Page, language: str, payload: str) -> None:
    title = next(b["title"] for b in response("utter_help_menu", language)["buttons"] if b["payload"] == payload)
    page.locator(QUICK_REPLIES, has_text=title).click()


# --------------------------------------------------------------------------- first contact


def test_a_new_conversation_opens_with_the_greeting_and_the_topic_menu(browser: Browser, gateway: Gateway) -> None:
    context, page, recorder = new_page(browser, "fi-FI")
    try:
        open_chat(page, gateway)
        greeting_shown(page, "fi")
        expect(page.locator(USER_MESSAGES)).to_have_count(0)  # nobody said anything
        assert recorder.sent("greet") and not recorder.sent("user_uttered")

        # A topic button of the greeting works like the help menu's.
        page.locator(QUICK_REPLIES).first.click()
        expect(page.locator(f"{USER_MESSAGES} .espoo-chat__bubble")).to_have_text(
            [response("utter_help_menu", "fi")["buttons"][0]["title"]])
        expect(page.locator(BOT_MESSAGES)).to_have_count(greeting_messages("fi") + 1)
        shown = page.locator(f"{LOG} .espoo-chat__message").all_inner_texts()

        # A reload shows the same conversation: one greeting, and no new one.
        page.reload()
        expect(page.locator(BOT_MESSAGES)).to_have_count(greeting_messages("fi") + 1)
        page.wait_for_timeout(1500)
        assert page.locator(f"{LOG} .espoo-chat__message").all_inner_texts() == shown
    finally:
        context.close()


def test_end_and_clear_keeps_its_note_and_greets_the_new_conversation(browser: Browser, gateway: Gateway) -> None:
    """The tab that ended the conversation gets one new session (from the gateway) and keeps its
    "the chat was ended and cleared" note, followed by the new conversation's greeting."""
    context, page, recorder = new_page(browser, "fi-FI")
    try:
        open_chat(page, gateway)
        greeting_shown(page, "fi")
        old = session_id(page)
        requests = len(recorder.sent("session_request"))
        page.locator(".espoo-chat__forget").click()
        page.wait_for_function("(old) => localStorage.getItem('espooChat.sessionId') && "
                               "localStorage.getItem('espooChat.sessionId') !== old", arg=old)
        answers = page.locator(f"{BOT_MESSAGES}:not(.espoo-chat__message--notice)")
        expect(answers.first).to_contain_text(response_text("utter_greet", "fi"))
        expect(answers).to_have_count(greeting_messages("fi"))
        page.wait_for_timeout(1500)
        note = page.locator(f"{LOG} .espoo-chat__message--notice .espoo-chat__bubble")
        expect(note).to_have_text(section("fi", "widget")["forgotten"])
        assert page.evaluate("document.querySelector('#espoo-chat-log .espoo-chat__message')"
                             ".classList.contains('espoo-chat__message--notice')"), "the note first"
        assert len(recorder.sent("session_request")) == requests  # no second new session
    finally:
        context.close()


def test_the_gateway_greets_only_at_the_start(gateway: Gateway) -> None:
    """The one payload a client can ask for this way, and only while the conversation is empty."""
    user = ChatClient(gateway.url)
    try:
        start = len(user.events)
        user.sio.emit("greet", {"language": "de-DE", "language_hints": ["de-DE", "sv-FI", "en"]})
        user.wait_for_text(response_text("utter_greet", "sv")[:30], after=start)
        menu = user.wait_for_text(response("utter_help_menu", "sv")["text"][:30], after=start)
        assert [q["payload"] for q in menu["quick_replies"]] == [
            b["payload"] for b in response("utter_help_menu", "sv")["buttons"]]
        assert all(m["metadata"]["language"] == "sv" and m["metadata"]["greeting"] for m in user.replies_after(start))

        again = len(user.events)
        user.sio.emit("greet", {"language_hints": ["fi"]})
        assert user.replies_after(again, wait=3) == []
        # The history has the greeting and no message of the user's.
        other = ChatClient(gateway.url, session_id=user.session_id)
        try:
            history = other.wait_for("history")
            assert [h["sender"] for h in history] == ["bot"] * greeting_messages("sv")
        finally:
            other.close()
    finally:
        user.close()


def test_the_browsers_languages_reach_the_gateway_as_hints(gateway: Gateway) -> None:
    """`customData.language_hints`: the first supported one decides when nothing else does."""
    user = ChatClient(gateway.url)
    try:
        replies = user.say("ok", language="de-DE", language_hints=["de-DE", "uk-UA", "en"])
        assert replies and all(r["metadata"]["language"] == "uk" for r in replies), replies
    finally:
        user.close()


def test_the_widget_speaks_the_browsers_first_supported_language_at_once(browser: Browser, gateway: Gateway) -> None:
    # An Arabic browser: Arabic, right to left, before the first reply and before opening.
    context, page, _ = new_page(browser, "ar")
    try:
        page.goto(gateway.url + "/")
        arabic = section("ar", "widget")
        expect(page.locator(ROOT)).to_have_attribute("lang", "ar")
        expect(page.locator(ROOT)).to_have_attribute("dir", "rtl")
        expect(page.locator(LAUNCHER)).to_have_text(arabic["open"])
        # ... in the corner the (Finnish, left-to-right) page has it: bottom right.
        box = page.locator(LAUNCHER).bounding_box()
        assert box["x"] + box["width"] >= page.viewport_size["width"] - 32, box
        page.locator(LAUNCHER).click()
        expect(page.locator(PANEL).get_by_role("heading")).to_have_text(arabic["title"])
        assert page.evaluate("getComputedStyle(document.getElementById('espoo-chat-input')).direction") == "rtl"
        greeting_shown(page, "ar")
    finally:
        context.close()

    # Turkish first (not spoken by the assistant), then Russian: Russian, and every language sent.
    languages = ["tr-TR", "tr", "ru-RU", "en-US"]
    context, page, recorder = new_page(browser, "tr-TR", languages)
    try:
        page.goto(gateway.url + "/")
        expect(page.locator(ROOT)).to_have_attribute("lang", "ru")
        expect(page.locator(LAUNCHER)).to_have_text(section("ru", "widget")["open"])
        page.locator(LAUNCHER).click()
        greeting_shown(page, "ru")
        page.locator(INPUT).fill("Как зарегистрироваться безработным соискателем работы?")
        page.keyboard.press("Enter")
        page.wait_for_function("([s, n]) => document.querySelectorAll(s).length > n",
                               arg=[BOT_MESSAGES, greeting_messages("ru")])
        sent = recorder.sent("user_uttered")[-1]["customData"]
        assert sent == {"language": "tr-TR", "language_hints": languages}
        assert recorder.sent("greet")[-1]["language_hints"] == languages
        assert recorder.sent("session_request")[-1]["language_hints"] == languages
    finally:
        context.close()


# ----------------------------------------------------------- handoff, mixed directions


def test_mixed_direction_text_in_an_arabic_chat_with_an_adviser(browser: Browser, gateway: Gateway) -> None:
    adviser = Adviser(gateway, "amina", "Amina", ["ar", "en"])
    context, page, _ = new_page(browser, "ar", viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    try:
        open_chat(page, gateway)
        greeting_shown(page, "ar")
        press_quick_reply(page, "ar", "/request_human")
        expect(page.locator(HANDOFF_BAR)).to_be_visible()

        # A phone number typed inside Arabic text keeps its order: 040 left of 4567.
        page.locator(INPUT).fill("رقم هاتفي هو 040 123 4567 من فضلك")
        page.keyboard.press("Enter")
        user_bubble = f"{USER_MESSAGES} .espoo-chat__bubble"
        expect(page.locator(user_bubble).last).to_contain_text("4567")
        first, last = text_rect(page, user_bubble, "040", True), text_rect(page, user_bubble, "4567", True)
        assert first["top"] == pytest.approx(last["top"], abs=4), "on one line"
        assert first["right"] <= last["left"], (first, last)
        # ... and the Arabic around it still runs right to left: its first word is right of the number.
        assert text_rect(page, user_bubble, "رقم", True)["left"] >= last["right"]

        handoff_id = handoff_of(gateway, session_id(page)).id
        assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
        english = "Hello, this is Amina from Espoo employment services. I will call you at 040 123 4567."
        assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": english}).status_code == 200
        expect(page.locator(ADVISER_BUBBLE)).to_have_text(english)

        # The adviser's English is laid out left to right in the Arabic chat: every line starts at
        # the bubble's left, reads left to right, and the final full stop is at the right end.
        assert page.evaluate(f"getComputedStyle(document.querySelector('{ADVISER_BUBBLE}')).direction") == "ltr"
        bubble = page.locator(ADVISER_BUBBLE).bounding_box()
        characters = page.evaluate(CHARACTER_RECTS_JS, ADVISER_BUBBLE)
        assert "".join(c["ch"] for c in characters) == english.replace(" ", "")
        lines: dict[int, list[dict]] = {}
        for character in characters:
            lines.setdefault(character["top"], []).append(character)
        for line in lines.values():
            assert line[0]["left"] - bubble["x"] < 20, "each line starts at the left"
            assert [c["left"] for c in line] == sorted(c["left"] for c in line), "in reading order"
        stop = characters[-1]
        assert stop["ch"] == "." and stop["right"] >= max(c["right"] for c in lines[stop["top"]]) - 0.01
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_the_end_button_stays_in_every_handoff_state(browser: Browser, gateway: Gateway) -> None:
    adviser = Adviser(gateway, "eero", "Eero", ["fi"])
    texts = section("fi", "widget")
    context, page, _ = new_page(browser, "fi-FI")
    try:
        open_chat(page, gateway)
        greeting_shown(page, "fi")
        press_quick_reply(page, "fi", "/request_human")
        bar, end = page.locator(HANDOFF_BAR), page.locator(END_BUTTON)
        expect(bar).to_contain_text(texts["handoff_waiting"])
        expect(end).to_have_text(texts["handoff_end"])

        # The user writes their question while waiting: the way out stays, also after a reload.
        page.locator(INPUT).fill("Minulla on kysymys karenssista")
        page.keyboard.press("Enter")
        expect(page.locator(USER_MESSAGES).last).to_contain_text("karenssista")
        expect(end).to_be_visible()
        page.reload()
        expect(page.locator(USER_MESSAGES).last).to_contain_text("karenssista")
        expect(bar).to_contain_text(texts["handoff_waiting"])
        expect(end).to_be_visible()

        handoff = handoff_of(gateway, session_id(page))
        assert handoff.topic is None  # the greeting is no service topic
        handoff_id = handoff.id
        assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
        expect(bar).to_contain_text(texts["handoff_with_adviser"])
        page.reload()
        expect(bar).to_contain_text(texts["handoff_with_adviser"])

        # Keyboard: Shift+Tab from the input reaches the button; Enter ends the chat.
        page.locator(INPUT).focus()
        page.keyboard.press("Shift+Tab")
        expect(end).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(BOT_MESSAGES).last).to_contain_text(response_text("utter_handoff_user_ended", "fi"))
        expect(bar).to_be_hidden()
        expect(page.locator(f"{USER_MESSAGES} .espoo-chat__bubble").last).to_have_text(texts["handoff_end"])
        assert handoff_of(gateway, session_id(page)).status == "user_left"
        page.reload()
        expect(page.locator(BOT_MESSAGES).last).to_contain_text(response_text("utter_handoff_user_ended", "fi"))
        expect(bar).to_be_hidden()
    finally:
        context.close()


# ---------------------------------------------------------------------- long messages


def test_a_long_message_is_not_cut_and_not_sent_without_a_word(browser: Browser, gateway: Gateway) -> None:
    texts = section("fi", "widget")
    context, page, recorder = new_page(browser, "fi-FI")
    try:
        open_chat(page, gateway)
        greeting_shown(page, "fi")
        page.evaluate("""() => { window.announced = [];
            new MutationObserver(() => window.announced.push(document.getElementById('espoo-chat-announcer')
              .textContent)).observe(document.getElementById('espoo-chat-announcer'),
              {childList: true, characterData: true, subtree: true}); }""")
        counter = page.locator(COUNTER)
        expect(counter).to_be_hidden()

        # Pasted: all 1,200 characters stay in the box; the note says why it cannot be sent.
        pasted = ("Olen ollut työtön kolme kuukautta ja haluan kysyä monesta asiasta. " * 20)[:1200]
        page.locator(INPUT).focus()
        page.keyboard.insert_text(pasted)
        assert len(page.locator(INPUT).input_value()) == 1200
        too_long = texts["too_long"].format(count=1200, max=1000)
        expect(counter).to_have_text(too_long)
        expect(page.locator(INPUT)).to_have_attribute("aria-invalid", "true")
        described = page.locator(INPUT).get_attribute("aria-describedby").split()
        assert "espoo-chat-counter" in described
        page.keyboard.press("Enter")
        expect(page.locator(ANNOUNCER)).to_have_text(too_long)
        page.wait_for_timeout(1500)
        expect(page.locator(USER_MESSAGES)).to_have_count(0)
        assert not recorder.sent("user_uttered")
        assert len(page.locator(INPUT).input_value()) == 1200

        # Shortened below the limit, typed on key by key: the counter follows every key, the
        # announcement comes once when typing pauses.
        page.locator(INPUT).fill(pasted[:940])
        page.evaluate("window.announced = []")
        page.locator(INPUT).press("End")
        page.keyboard.type("abcdefghij", delay=40)
        expect(counter).to_have_text(texts["length_counter"].format(count=950, max=1000))
        expect(page.locator(INPUT)).not_to_have_attribute("aria-invalid", "true")
        near = texts["length_near_limit"].format(left=50)
        expect(page.locator(ANNOUNCER)).to_have_text(near)
        assert [text for text in page.evaluate("window.announced") if text] == [near]

        page.keyboard.press("Enter")
        expect(page.locator(USER_MESSAGES)).to_have_count(1)
        assert len(recorder.sent("user_uttered")[-1]["message"]) == 950
        expect(page.locator(INPUT)).to_have_value("")
        expect(counter).to_be_hidden()
    finally:
        context.close()


# ------------------------------------------------------------------------- link titles


def test_answer_links_show_short_titles_with_the_url_behind(browser: Browser, gateway: Gateway) -> None:
    context, page, _ = new_page(browser, "fi-FI", viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    try:
        open_chat(page, gateway)
        greeting_shown(page, "fi")
        page.locator(INPUT).fill("miten ilmoittaudun työttömäksi työnhakijaksi")
        page.keyboard.press("Enter")
        answer = response("utter_register_as_jobseeker", "fi")["text"]
        links = page.locator(f"{BOT_MESSAGES} a.espoo-chat__link")
        expect(links).to_have_count(answer.count("://") + answer.count("{espoo_services_url}"))
        pages = {version.url: version for versions in link_map().values() for version in versions.values()}
        for link in links.all():
            url = link.get_attribute("href")
            version = pages[url]
            shown = link.inner_text()
            # The site and the page's title; an English page is said to be English (in the text
            # after the link, or in the title where the answer does not say it).
            assert shown.startswith(version.site) and version.title in shown, (shown, url)
            assert link.get_attribute("title") == url and len(shown) < len(url)
            said_after = link.evaluate("a => a.nextSibling ? a.nextSibling.textContent : ''")
            assert "englanniksi" in shown + said_after.split(".")[0], (shown, said_after)
            # A few lines at most on a phone, where the URL took up to eight.
            lines = link.evaluate("a => a.getClientRects().length")
            assert lines <= 3, (shown, lines)

        # A URL that ends in a balanced ")" stays whole; a ")" that closes the sentence does not.
        element = page.evaluate_handle(
            "window.EspooChat.renderMessage({text: 'Katso https://fi.wikipedia.org/wiki/Kela_(virasto). "
            "(Myös https://www.kela.fi/arbetsloshet.)', metadata: {language: 'fi', direction: 'ltr'}})")
        hrefs = element.evaluate("el => [...el.querySelectorAll('a')].map(a => a.getAttribute('href'))")
        assert hrefs == ["https://fi.wikipedia.org/wiki/Kela_(virasto)", "https://www.kela.fi/arbetsloshet"]
    finally:
        context.close()
