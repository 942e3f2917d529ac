"""An existing Rasa web chat widget works with the gateway unchanged.

rasa-webchat 1.0.1 (Botfront, Apache-2.0) is vendored as the npm package's
lib/index.js, byte for byte, under tests/vendor/rasa-webchat/ with its
licence: a UMD bundle that includes React, ReactDOM and socket.io-client 3
(Engine.IO v4, as the gateway's python-socketio 5). It runs in a page of
another origin (a tiny local HTTP server), as it would on a site that embeds
it, and talks to the gateway over socket.io.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.helpers import Gateway

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).parent / "vendor" / "rasa-webchat"
BUNDLE_SHA256 = "bfedd788e4bd7df12f64b5bf2963e634f84bac1cb176b6cede60c507d3553f1e"  # npm rasa-webchat@1.0.1
QUESTION = "miten ilmoittaudun työttömäksi työnhakijaksi"

PAGE = """<!doctype html>
<html lang="fi">
<head><meta charset="utf-8"><title>rasa-webchat against the gateway</title></head>
<body>
<h1>Embedding site</h1>
<script src="/vendor/rasa-webchat/index.js"></script>
<script>
  window.WebChat.default({
    socketUrl: %(socket_url)s,
    socketPath: "/socket.io/",
    customData: {language: "fi"},
    title: "Espoo",
    params: {storage: "local"}
  }, null);
</script>
</body>
</html>
"""


def test_vendored_bundle_is_the_published_one() -> None:
    bundle = (VENDOR / "index.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == BUNDLE_SHA256
    assert b"SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED" in bundle, "React is bundled"
    assert "Apache License" in (VENDOR / "LICENSE").read_text()


@pytest.fixture
def site(tmp_path: Path, gateway: Gateway) -> Iterator[str]:
    """The embedding site: a tiny local HTTP server (another origin than the gateway's)."""
    (tmp_path / "vendor" / "rasa-webchat").mkdir(parents=True)
    shutil.copyfile(VENDOR / "index.js", tmp_path / "vendor" / "rasa-webchat" / "index.js")
    (tmp_path / "index.html").write_text(PAGE % {"socket_url": json.dumps(gateway.url)}, encoding="utf-8")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser, site: str, gateway: Gateway) -> Iterator[Page]:
    context = browser.new_context(locale="fi-FI", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    local = {urlsplit(site).netloc, urlsplit(gateway.url).netloc}

    def outside(route: Route) -> None:
        # The bundle's CSS imports a web font: there is no network here, and none is needed.
        if urlsplit(route.request.url).netloc in local:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", outside)
    page = context.new_page()
    yield page
    context.close()


def test_rasa_webchat_gets_an_answer(page: Page, site: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site + "/")
    launcher = page.locator(".rw-launcher")
    expect(launcher).to_be_visible()
    launcher.click()

    box = page.locator(".rw-new-message")
    expect(box).to_be_visible()
    # Connected: the session id the gateway issued is what rasa-webchat stored.
    page.wait_for_function(
        "() => { try { const s = JSON.parse(localStorage.getItem('chat_session'));"
        " return !!(s && s.session_id && s.session_id.length >= 20); } catch (e) { return false; } }"
    )
    box.fill(QUESTION)
    box.press("Enter")

    expect(page.locator(".rw-client").filter(has_text=QUESTION)).to_be_visible()
    # The answer about registering (rasa-webchat also sends its init payload, unset here, when it opens).
    answer = page.locator(".rw-response").filter(has_text="ilmoittau")
    expect(answer.first).to_be_visible()
    assert errors == []
