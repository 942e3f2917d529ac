"""The widget on shared computers and on pages with other scripts (issue 11), in headless
Chromium against a real gateway (its Rasa address leads nowhere: the answers here are the
gateway's own "not available" note, which is all these checks need).

- "End and clear the chat" ends the conversation, clears the log and the stored id.
- A stored session idle for longer than the gateway's idle period is not sent again.
- The session id is not exposed to the embedding page unless it opts in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.texts import text as localized
from tests.helpers import Gateway, free_port, running_gateway

pytestmark = pytest.mark.browser

SESSION_KEY = "espooChat.sessionId"
ACTIVE_KEY = "espooChat.lastActive"
UNAVAILABLE_FI = localized("fi", "gateway.unavailable").split("\n")[0][:30]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(f"http://127.0.0.1:{free_port()}", tmp_path_factory.mktemp("widget-privacy")) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fi-FI")
    page = context.new_page()
    yield page
    context.close()


def open_chat(page: Page) -> None:
    """Click the launcher unless the panel is already open (it reopens itself after a reload)."""
    page.wait_for_selector(".espoo-chat__launcher", state="attached")
    if page.locator("#espoo-chat-panel").is_hidden():
        page.click(".espoo-chat__launcher")


def say(page: Page, text: str) -> None:
    page.fill("#espoo-chat-input", text)
    page.keyboard.press("Enter")
    expect(page.locator("#espoo-chat-log .espoo-chat__message--bot").last).to_contain_text(UNAVAILABLE_FI,
                                                                                         timeout=30_000)


def stored(page: Page, key: str) -> str | None:
    return page.evaluate(f"() => localStorage.getItem({json.dumps(key)})")


def test_end_and_clear_forgets_the_conversation(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/")
    open_chat(page)
    say(page, "minun asiani")
    old = stored(page, SESSION_KEY)
    assert old
    page.click(".espoo-chat__forget")
    log = page.locator("#espoo-chat-log")
    expect(log).to_contain_text(localized("fi", "widget.forgotten"))
    expect(log).not_to_contain_text("minun asiani")
    page.wait_for_function(f"() => localStorage.getItem({json.dumps(SESSION_KEY)}) !== {json.dumps(old)}")
    assert stored(page, SESSION_KEY) != old
    page.reload()
    open_chat(page)
    time.sleep(2)  # the history (of the new, empty conversation) has arrived
    expect(page.locator("#espoo-chat-log")).not_to_contain_text("minun asiani")


def test_an_idle_stored_session_is_not_sent_again(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/")
    open_chat(page)
    say(page, "vanha keskustelu")
    old = stored(page, SESSION_KEY)
    two_days_ago = int((time.time() - 48 * 3600) * 1000)
    page.evaluate(f"() => localStorage.setItem({json.dumps(ACTIVE_KEY)}, '{two_days_ago}')")
    page.reload()
    open_chat(page)
    page.wait_for_function(f"() => localStorage.getItem({json.dumps(SESSION_KEY)}) !== null "
                           f"&& localStorage.getItem({json.dumps(SESSION_KEY)}) !== {json.dumps(old)}")
    expect(page.locator("#espoo-chat-log")).not_to_contain_text("vanha keskustelu")


@pytest.mark.parametrize("opt_in", [False, True])
def test_the_session_id_is_shown_to_the_page_only_when_it_opts_in(page: Page, gateway: Gateway,
                                                                  opt_in: bool, tmp_path: Path) -> None:
    attribute = " data-expose-session" if opt_in else ""
    html = f"""<!doctype html><html lang="fi"><head><meta charset="utf-8"><title>embed</title></head>
<body><main><h1>Embedding page</h1></main>
<script>window.seen = []; window.addEventListener("espoochat:session", e => window.seen.push(e.detail));</script>
<script src="{gateway.url}/static/widget.js"{attribute} defer></script></body></html>"""
    page.route(gateway.url + "/embed.html", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(gateway.url + "/embed.html")
    open_chat(page)
    say(page, "hei")
    session_id = stored(page, SESSION_KEY)
    exposed = page.evaluate("() => window.EspooChat.sessionId")
    events = page.evaluate("() => window.seen")
    if opt_in:
        assert exposed == session_id and events and events[-1]["sessionId"] == session_id
    else:
        assert exposed is None and events == []
