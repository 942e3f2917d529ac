"""Server-rendered HTML comes from Jinja2 templates with autoescaping (issue 12, item 17):
markup stored in any field the console's pages or the standalone report show (masked
questions, cluster examples and keywords, labels, topics, language codes, channels, an
adviser's name) comes out as text on every page, never as markup."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from bot.app import create_app
from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.insights.log import InsightsLog
from bot.insights.render import render_html
from bot.insights.report import build_report
from bot.paths import PROJECT_ROOT
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import ContactRequest, Conversation, Feedback, Handoff, Message, UnresolvedQuestion
from bot.store.repository import ConversationStore
from bot.templating import TEMPLATES_DIR, environment
from tests.console_helpers import PASSWORD, sign_in

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
DAY = date(2026, 2, 10)
PERIOD = {"since": "2026-02-09", "until": "2026-02-11"}
AT = datetime(2026, 2, 10, 10, 0, tzinfo=timezone.utc)
# What a page may load: its own script files and the report's embedded charts.
SCRIPTS = {"/static/socket.io.min.js", "/static/console/console.js"}


class Markup(HTMLParser):
    """Elements a page would run or load, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.unsafe: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src") not in SCRIPTS:
            self.unsafe.append(f"<script {a}>")
        if tag == "img" and not a.get("src", "").startswith("data:image/png;base64,"):
            self.unsafe.append(f"<img {a}>")
        self.unsafe += [f"{tag}[{k}]" for k in a if k.startswith("on")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_shown_as_text(page: str, where: str, times: int = 1) -> None:
    parsed = Markup(page)
    assert parsed.unsafe == [], f"{where}: {parsed.unsafe}"
    shown = "".join(parsed.text).count(MARKUP)
    assert shown >= times, f"{where}: the stored markup is shown {shown} times as text, expected {times}"


def seed(database: Database) -> None:
    """Markup in every free-text field the analyst views and the report show."""
    conversations, log = ConversationStore(database), InsightsLog(database, "escaping-secret")
    conversation = conversations.get_or_create("webchat", "escaping")
    with database.session() as session:
        session.execute(update(Conversation).where(Conversation.id == conversation.id).values(channel=MARKUP))
    # Two similar questions make a cluster; its examples and keywords are the masked texts.
    for index, text in enumerate((f"{MARKUP} voiko koiran tuoda toimistoon", f"{MARKUP} voiko koiran tuoda")):
        message = conversations.add_message(conversation.id, "in", "user", text, language=MARKUP)
        with database.session() as session:
            session.execute(update(Message).where(Message.id == message).values(created_at=AT))
        log.record(conversation.id, channel="webchat", reason="nlu_fallback", language="fi", text=text,
                   intents=[{"name": MARKUP, "confidence": 0.15}], at=AT + timedelta(minutes=index))
    # A labelled question in an unknown language, with the topic the adviser chose.
    row = log.record(conversation.id, channel="webchat", reason="nlu_fallback", language=MARKUP, text=MARKUP, at=AT)
    with database.session() as session:
        session.execute(update(UnresolvedQuestion).where(UnresolvedQuestion.id == row).values(
            outcome_topic=MARKUP, label_status="labelled", label_intent=MARKUP, labelled_by=MARKUP))
    log.record(conversation.id, channel="webchat", reason="unsupported_language", detected_language=MARKUP,
               language="fi", text="merhaba", at=AT)
    log.record_feedback(conversation.id, channel="webchat", language=MARKUP, kind="answer", value=1, topic=MARKUP,
                        at=AT)
    log.record_feedback(conversation.id, channel="webchat", language=MARKUP, kind="rating", value=4, at=AT)
    with database.session() as session:
        handoff = Handoff(conversation_id=conversation.id, status=MARKUP, reason=MARKUP, language=MARKUP,
                          channel="webchat", requested_at=AT, claimed_at=AT + timedelta(minutes=1),
                          outcome_topic=MARKUP)
        session.add(handoff)
        session.flush()
        session.add(ContactRequest(conversation_id=conversation.id, handoff_id=handoff.id, channel="webchat",
                                   language=MARKUP, contact_type="phone", contact="+358401234567", created_at=AT))
        session.add(Feedback(conversation_key="k", channel="webchat", language="fi", kind="answer", value=-1,
                             topic=MARKUP, created_at=AT))


@pytest.fixture(scope="module")
def app_and_database(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    url = f"sqlite:///{tmp_path_factory.mktemp('escaping') / 'escaping.db'}"
    app = create_app(Settings(database_url=url, rasa_url="http://127.0.0.1:9"))
    database = Database(url)
    store = HandoffStore(database)
    for username, role in (("root", "admin"), ("anna", "adviser")):
        store.add_adviser(username, MARKUP, hash_password(PASSWORD), role, ["fi"], "en")
    seed(database)
    yield app, database
    database.engine.dispose()


def test_every_template_is_autoescaped() -> None:
    env = environment()
    names = env.list_templates()
    assert {"console/base.html", "console/login.html", "console/adviser.html", "console/reports.html",
            "console/topics.html", "console/inbox.html", "insights/report.html"} <= set(names)
    for name in names:
        assert name.endswith(".html") and env.autoescape(name) is True, name


def test_no_python_module_builds_html_or_escapes_by_hand() -> None:
    """The console's pages and the report are in bot/templates/; their Python keeps only the data."""
    bot = PROJECT_ROOT / "bot"
    modules = sorted([*(bot / "console").glob("*.py"), *(bot / "insights").glob("*.py")])
    assert len(modules) > 10
    for path in modules:
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(PROJECT_ROOT)
        assert not re.search(r"<(?:!doctype|html|body|table|tr|td|form|section|ul|li|p)\b", source, re.I), where
        assert not re.search(r"\bhtml\.escape|^import html$|\bMarkup\b", source, re.M), where
    assert TEMPLATES_DIR.is_dir()


def test_stored_markup_is_text_on_every_analyst_page(app_and_database) -> None:
    app, _ = app_and_database
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, "root")
        pages = {
            "reports": client.get("/console/reports", params=PERIOD),
            "topics": client.get("/console/topics", params=PERIOD),
            "inbox": client.get("/console/inbox", params={"status": "all"}),
            "label error": client.post("/console/inbox/999999/label", data={"csrf_token": csrf, "label": "x"}),
        }
        shell = client.get("/console/")
        login = client.get("/console/login", params={"lang": MARKUP})
    assert [pages["reports"].status_code, pages["topics"].status_code, pages["inbox"].status_code] == [200] * 3
    # reports: masked examples, language codes, channel, topics, triggers, statuses; the adviser's name.
    assert_shown_as_text(pages["reports"].text, "reports", times=12)
    # topics: the cluster's examples (and its language); the adviser's name.
    assert_shown_as_text(pages["topics"].text, "topics", times=3)
    # inbox: questions, guesses, the adviser's topic, labels, who labelled, the language.
    assert_shown_as_text(pages["inbox"].text, "inbox", times=10)
    assert_shown_as_text(pages["label error"].text, "label error page")  # the name in the header
    for name, page in (("adviser console", shell.text), ("sign-in", login.text)):
        assert Markup(page).unsafe == [], name
    assert 'lang="fi"' in login.text  # an unknown language is not taken from the address


def test_stored_markup_is_text_in_the_standalone_report(app_and_database, tmp_path: Path) -> None:
    _, database = app_and_database
    page = render_html(build_report(database, DAY - timedelta(days=1), DAY + timedelta(days=1)))
    assert page.startswith("<!doctype html>")
    assert_shown_as_text(page, "report.html", times=12)
