"""A walk-through of four jobseekers, end to end in headless Chromium against the real stack
(Rasa, actions, the gateway with the adviser chat open, an adviser in the console), saving a
screenshot of every step for people to look at (issue 12's acceptance):

1. a Finnish user on a Finnish browser (desktop);
2. a Russian speaker on a Finnish-language browser (desktop);
3. an Arabic speaker on a phone (390 x 844) with a live adviser in the console;
4. a Turkish speaker (a Turkish browser; the assistant does not speak Turkish);
5. questions for other authorities (out of scope): an English user on a desktop, a Persian
   speaker on a phone;
6. keyboard mash inside a conversation (not another language): an English user on a desktop,
   an Arabic speaker on a phone.

    .venv/bin/python -m scripts.walkthrough [--out /work/screens/walkthrough]

Run by hand (not part of `make test`): it takes a few minutes and its output is pictures. Each
step waits for what the user should see and stops with an error when it does not come.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from bot.texts import section
from scripts.model import model_path
from tests.console_helpers import PASSWORD
from tests.helpers import CHROMIUM_ARGS, Gateway, running_gateway, running_servers
from tests.responses import response
from tests.test_handoff_flow import Adviser, handoff_config

DEFAULT_OUT = Path("/work/screens/walkthrough")
TIMEOUT_MS = 90_000
LOG = "#espoo-chat-log"
BOT = f"{LOG} .espoo-chat__message--bot"
USER = f"{LOG} .espoo-chat__message--user"
QUICK = f"{LOG} .espoo-chat__quick-reply"
INPUT = "#espoo-chat-input"
BAR = ".espoo-chat__handoff"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


class Walk:
    def __init__(self, browser: Browser, gateway: Gateway, out: Path) -> None:
        self.browser, self.gateway, self.out = browser, gateway, out
        self.shots: list[Path] = []

    def context(self, locale: str, languages: list[str] | None = None, **options: object) -> BrowserContext:
        options = options or {"viewport": DESKTOP}
        context = self.browser.new_context(locale=locale, **options)
        context.set_default_timeout(TIMEOUT_MS)
        if languages:
            context.add_init_script(
                f"Object.defineProperty(navigator, 'languages', {{get: () => {languages!r}}});")
        return context

    def shot(self, page: Page, name: str) -> None:
        page.wait_for_timeout(400)  # fonts and the last scroll settle
        path = self.out / f"{len(self.shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path))
        self.shots.append(path)
        print(f"  {path}")

    def open_widget(self, page: Page) -> None:
        page.goto(self.gateway.url + "/")
        page.locator(".espoo-chat__launcher").click()
        expect(page.locator(QUICK).first).to_be_visible()  # the greeting and its topic menu

    @staticmethod
    def say(page: Page, text: str) -> None:
        before = page.locator(BOT).count()
        page.locator(INPUT).fill(text)
        page.keyboard.press("Enter")
        page.wait_for_function("([s, n]) => document.querySelectorAll(s).length > n", arg=[BOT, before])
        page.wait_for_timeout(1500)  # an answer may come in several messages

    @staticmethod
    def press(page: Page, title: str) -> None:
        before = page.locator(BOT).count()
        page.locator(QUICK, has_text=title).first.click()
        page.wait_for_function("([s, n]) => document.querySelectorAll(s).length > n", arg=[BOT, before])
        page.wait_for_timeout(1500)

    # --- the four users ------------------------------------------------------------------

    def finnish_user(self) -> None:
        print("1. Finnish user, Finnish browser")
        context = self.context("fi-FI")
        page = context.new_page()
        page.goto(self.gateway.url + "/")
        self.shot(page, "fi-closed")
        self.open_widget(page)
        self.shot(page, "fi-greeting")
        menu = response("utter_help_menu", "fi")["buttons"]
        self.press(page, menu[0]["title"])
        self.shot(page, "fi-topic-group")
        self.say(page, "miten ilmoittaudun työttömäksi työnhakijaksi")
        expect(page.locator(BOT).last).to_be_visible()
        self.shot(page, "fi-answer")
        page.reload()
        expect(page.locator(BOT).first).to_be_visible()
        self.shot(page, "fi-after-reload")
        page.locator(INPUT).focus()
        page.keyboard.insert_text(("Minulla on monta kysymystä työttömyysturvasta ja palveluista. " * 20)[:1100])
        expect(page.locator("#espoo-chat-counter")).to_be_visible()
        page.keyboard.press("Enter")
        self.shot(page, "fi-too-long")
        context.close()

    def russian_user(self) -> None:
        print("2. Russian speaker, Finnish-language browser")
        context = self.context("fi-FI")
        page = context.new_page()
        self.open_widget(page)
        self.shot(page, "ru-greeting-in-finnish")
        self.say(page, "Как зарегистрироваться в качестве безработного соискателя работы?")
        expect(page.locator("#espoo-chat-root")).to_have_attribute("lang", "ru")
        self.shot(page, "ru-answer-in-russian")
        self.say(page, "Сколько составляет пособие по безработице?")
        self.shot(page, "ru-second-answer")
        context.close()

    def arabic_user(self, adviser: Adviser) -> None:
        print("3. Arabic speaker on a phone, live adviser in the console")
        console_context = self.context("en-GB")
        console = console_context.new_page()
        console.goto(self.gateway.url + "/console/")
        console.locator("#username").fill("walkthrough")
        console.locator("#password").fill(PASSWORD)
        console.keyboard.press("Enter")
        expect(console.locator("h1")).to_be_visible()

        context = self.context("ar", **PHONE)
        page = context.new_page()
        page.goto(self.gateway.url + "/")
        self.shot(page, "ar-phone-closed")
        self.open_widget(page)
        self.shot(page, "ar-phone-greeting")
        menu = response("utter_help_menu", "ar")["buttons"]
        talk = next(b["title"] for b in menu if b["payload"] == "/request_human")
        self.press(page, talk)
        expect(page.locator(BAR)).to_be_visible()
        self.shot(page, "ar-phone-queued")
        page.locator(INPUT).fill("رقم هاتفي هو 040 123 4567، أريد أن أسأل عن إعانة البطالة")
        page.keyboard.press("Enter")
        page.wait_for_timeout(800)
        self.shot(page, "ar-phone-question-while-waiting")

        expect(console.locator("#queue li.queue-item").first).to_be_visible()
        self.shot(console, "console-queue")
        console.locator("#queue li.queue-item button.open").first.click()
        console.locator("#claim").click()
        expect(page.locator(BAR)).to_contain_text(section("ar", "widget")["handoff_with_adviser"])
        console.locator("#reply").fill("Hello, this is Walter from Espoo employment services. "
                                       "I will call you at 040 123 4567 tomorrow.")
        console.keyboard.press("Enter")
        expect(page.locator(f"{LOG} .espoo-chat__message--adviser")).to_be_visible()
        self.shot(page, "ar-phone-adviser-english")
        console.locator("#reply").fill("مرحبا، سأتصل بك غدا على الرقم 040 123 4567.")
        console.keyboard.press("Enter")
        expect(page.locator(f"{LOG} .espoo-chat__message--adviser")).to_have_count(2)
        self.shot(page, "ar-phone-adviser-arabic")
        self.shot(console, "console-chat")
        page.reload()
        expect(page.locator(BAR)).to_be_visible()
        self.shot(page, "ar-phone-after-reload")
        page.locator(".espoo-chat__handoff-end").click()
        expect(page.locator(BAR)).to_be_hidden()
        page.wait_for_timeout(1000)
        self.shot(page, "ar-phone-ended")
        context.close()
        console_context.close()

    def turkish_user(self) -> None:
        print("4. Turkish speaker, Turkish browser")
        context = self.context("tr-TR", ["tr-TR", "tr"])
        page = context.new_page()
        self.open_widget(page)
        self.shot(page, "tr-greeting")
        self.say(page, "Merhaba, işsizlik parası için nasıl başvuru yapabilirim acaba")
        self.shot(page, "tr-unsupported-language")
        buttons = page.locator(QUICK).all_inner_texts()
        adviser_button = next(title for title in buttons if re.search(r"Adviser|Neuvoja", title))
        self.press(page, adviser_button)
        expect(page.locator(BAR)).to_be_visible()
        self.shot(page, "tr-queued-in-english-and-finnish")
        page.locator(".espoo-chat__handoff-end").click()
        expect(page.locator(BAR)).to_be_hidden()
        page.wait_for_timeout(1500)
        self.shot(page, "tr-left-the-queue")
        context.close()

    def out_of_scope_users(self) -> None:
        print("5. Questions for other authorities: English desktop, Persian phone")
        for locale, languages, options, text, name in [
            ("en-GB", ["en-GB", "en"], {"viewport": DESKTOP}, "how do I renew my residence permit", "en-out-of-scope"),
            ("fa-IR", ["fa-IR", "fa"], PHONE, "برای تمدید اجازه اقامتم باید کجا بروم", "fa-phone-out-of-scope"),
        ]:
            context = self.context(locale, languages, **options)
            page = context.new_page()
            self.open_widget(page)
            self.say(page, text)
            expect(page.locator(QUICK, has_text=response("utter_help_menu", locale[:2])["buttons"][0]["title"]).last
                   ).to_be_visible()
            self.shot(page, name)
            context.close()

    def mash_users(self) -> None:
        print("6. Keyboard mash inside a conversation: English desktop, Arabic phone")
        for locale, languages, options, opener, name in [
            ("en-GB", ["en-GB", "en"], {"viewport": DESKTOP}, "I need help with something please", "en-mash"),
            ("ar", ["ar"], PHONE, "مرحبا، أحتاج إلى مساعدة من فضلك", "ar-phone-mash"),
        ]:
            language = locale[:2]
            context = self.context(locale, languages, **options)
            page = context.new_page()
            self.open_widget(page)
            self.say(page, opener)
            self.say(page, "xq zzkv plorf wibble")
            expect(page.locator(BOT, has_text=response("utter_default", language)["text"][:25]).last).to_be_visible()
            # Lingua's trigram models take this for Dutch; it is not another language here.
            self.say(page, "blorp snarf quux grml")
            expect(page.locator(BOT, has_text=response("utter_offer_handoff", language)["text"][:25]).last
                   ).to_be_visible()
            self.shot(page, name)
            context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the screenshots ({DEFAULT_OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="walkthrough-"))
    print(f"starting Rasa, actions and the gateway (logs in {work})")
    with running_servers(model_path(), work) as servers, running_gateway(
            servers.rasa_url, work, {"HANDOFF_CONFIG": str(handoff_config(work / "handoff.yml"))}) as gateway, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        walk = Walk(browser, gateway, args.out)
        walk.finnish_user()
        walk.russian_user()
        adviser = Adviser(gateway, "walkthrough", "Walter", ["ar", "en", "fi"])  # online from now on
        walk.arabic_user(adviser)
        adviser.queue()
        walk.turkish_user()
        walk.out_of_scope_users()
        walk.mash_users()
        browser.close()
    print(f"{len(walk.shots)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
