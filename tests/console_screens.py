"""Screenshots of every console page, to look at them as an adviser and an analyst would:
desktop (1280x800) and phone (390x844), Finnish and English, with an Arabic user's
conversation open, on the seeded gateway of tests/console_pages.py (headless Chromium).

    .venv/bin/python -m tests.console_screens --out /work/screens/console
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console_helpers import PASSWORD
from tests.console_pages import console_gateway
from tests.helpers import CHROMIUM_ARGS

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
# (console language, adviser, analyst)
PEOPLE = {"fi": ("kaisa", "eino"), "en": ("layla", "aino")}


def signed_in(browser: Browser, url: str, username: str, size: tuple[int, int], locale: str) -> Page:
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  is_mobile=width < 500, has_touch=width < 500, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{url}/console/login?lang={locale[:2]}")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(lambda address: "/console/login" not in address)
    return page


def shoot(page: Page, out: Path, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(out / f"{name}.png")


def take(browser: Browser, url: str, arabic_handoff: int, out: Path) -> None:
    for ui, (adviser, analyst) in PEOPLE.items():
        locale = "fi-FI" if ui == "fi" else "en-GB"
        for size_name, size in SIZES.items():
            prefix = f"{ui}-{size_name}"
            context = browser.new_context(viewport=dict(zip(("width", "height"), size, strict=True)), locale=locale)
            page = context.new_page()
            page.goto(f"{url}/console/login?lang={ui}")
            shoot(page, out, f"{prefix}-1-login")
            context.close()

            page = signed_in(browser, url, adviser, size, locale)
            expect(page.locator("#queue li.queue-item").first).to_be_visible()
            shoot(page, out, f"{prefix}-2-queue")
            page.locator(f"li.queue-item[data-id='{arabic_handoff}'] button.open").click()
            expect(page.locator("#transcript li").first).to_be_visible()
            page.locator("#chat").scroll_into_view_if_needed()
            shoot(page, out, f"{prefix}-3-arabic-chat")
            if page.locator("#mine button.open").count():
                page.locator("#mine button.open").first.click()
                expect(page.locator("#reply")).to_be_visible()
                shoot(page, out, f"{prefix}-4-own-chat")
            page.locator("#contacts button.show-conversation").first.click()
            expect(page.locator("#contacts .contact-conversation li").first).to_be_visible()
            page.locator("#contacts").scroll_into_view_if_needed()
            shoot(page, out, f"{prefix}-5-contact-request")
            page.context.close()

            page = signed_in(browser, url, analyst, size, locale)
            for number, path in ((6, "reports"), (7, "topics"), (8, "inbox")):
                page.goto(f"{url}/console/{path}")
                shoot(page, out, f"{prefix}-{number}-{path}")
            page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, console_gateway(Path(work)) as (gateway, seeded), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            take(browser, gateway.url, seeded.arabic_handoff, out)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
