"""The analyst views of the console (bot/console/analyst.py) on the real gateway app and a
real SQLite database with a seeded history: who may see them, CSRF on the forms, the
report's numbers, masked text only (pages, CSV and the NLU export), labelling one
question and a whole cluster through the forms, the export, and the Finnish texts."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from PIL import Image
from sqlalchemy import delete, update
from starlette.testclient import TestClient

from bot.app import create_app
from bot.console.analyst import HELSINKI
from bot.console.auth import hash_password
from bot.console.routes import SECURITY_HEADERS, language_label
from bot.handoff.store import HandoffStore
from bot.insights.inbox import Inbox
from bot.insights.log import InsightsLog
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Conversation, Handoff, Message, UnresolvedQuestion
from bot.store.repository import ConversationStore
from tests.console_helpers import PASSWORD, sign_in

SINCE, UNTIL = date(2026, 1, 5), date(2026, 1, 11)  # Monday to Sunday, Helsinki = UTC+2
PERIOD = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
PHONE, EMAIL = "040 765 4321", "anna.virtanen@example.com"
PERSONAL = [PHONE, "0407654321", "765 4321", EMAIL, "anna.virtanen", "example.com"]
PII_TEXT = f"voiko koiran tuoda toimistoon, soita {PHONE} tai {EMAIL}"

GETS = ["/console/reports", "/console/reports/volumes.csv", "/console/topics", "/console/inbox",
        "/console/inbox/export?language=fi", "/console/content"]
POSTS = ["/console/topics/label", "/console/inbox/1/label", "/console/analyst/ui-language"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- the seeded history --------------------------------------------------------------------------

# (channel, external id, language, [(time, user text, unresolved reason or None)])
CONVERSATIONS = [
    ("webchat", "web-a", "fi", [
        (utc(2026, 1, 6, 9, 0), "miten haen työttömyysetuutta", None),
        (utc(2026, 1, 6, 9, 1), "voiko koiran tuoda toimistoon", "nlu_fallback"),
        (utc(2026, 1, 6, 9, 2), "/affirm", None),  # a button press: a message, not a question
        (utc(2026, 1, 6, 9, 3), "voiko koiran ottaa mukaan toimistoon", "nlu_fallback"),
        (utc(2026, 1, 7, 10, 0), PII_TEXT, "nlu_fallback"),
        (utc(2026, 1, 7, 10, 5), "saanko tukea kun opiskelen ja haen töitä", "ambiguous"),
    ]),
    ("telegram", "12345", "sv", [
        (utc(2026, 1, 8, 12, 0), "hur anmäler jag mig", None),
        (utc(2026, 1, 8, 12, 1), "vad blir vädret i morgon", "out_of_scope"),
    ]),
    ("webchat", "web-c", "ar", [
        (utc(2026, 1, 9, 8, 0), "كيف أسجل كباحث عن عمل", None),
        (utc(2026, 1, 9, 8, 1), "هل يمكنني إحضار كلبي إلى المكتب", "nlu_fallback"),
        (utc(2026, 1, 9, 8, 2), "هل يمكن إحضار الكلب إلى المكتب", "nlu_fallback"),
    ]),
    # Outside the period (Helsinki days): 23:30 on Sunday 4 January, 00:30 on Monday 12 January.
    ("webchat", "web-d", "fi", [
        (utc(2026, 1, 4, 21, 30), "ennen jaksoa", "nlu_fallback"),
        (utc(2026, 1, 11, 22, 30), "jakson jälkeen", "nlu_fallback"),
    ]),
]
GUESSES = {"nlu_fallback": [{"name": "benefit_apply", "confidence": 0.15}, {"name": "appointment", "confidence": 0.05}],
           "ambiguous": [{"name": "studying_while_unemployed", "confidence": 0.16},
                         {"name": "benefit_apply", "confidence": 0.14}],
           "out_of_scope": [{"name": "out_of_scope", "confidence": 0.9}]}


def seed(database: Database) -> dict[str, int]:
    """The history of CONVERSATIONS and a claimed handoff; the unresolved row ids by text."""
    conversations, handoffs = ConversationStore(database), HandoffStore(database)
    log = InsightsLog(database, "analyst-secret", fallback_threshold=0.2)
    ids: dict[str, int] = {}
    for channel, external_id, language, messages in CONVERSATIONS:
        conversation = conversations.get_or_create(channel, external_id)
        conversations.update_conversation(conversation.id, language=language)
        for at, text, reason in messages:
            for direction, sender, body, when in (("in", "user", text, at),
                                                  ("out", "bot", "vastaus", at + timedelta(seconds=1))):
                message_id = conversations.add_message(conversation.id, direction, sender, body, language=language,
                                                       status="answered")
                with database.session() as session:
                    session.execute(update(Message).where(Message.id == message_id).values(created_at=when))
            if reason:
                ids[text] = log.record(conversation.id, channel=channel, reason=reason, language=language, text=text,
                                       intents=GUESSES.get(reason), at=at)
        if external_id == "web-a":
            log.record(conversation.id, channel=channel, reason="handoff_request", trigger="button", language="fi",
                       at=utc(2026, 1, 7, 10, 6))
            handoff = handoffs.open_handoff(conversation.id, status="waiting", state="waiting", reason="button",
                                            topic=None, language="fi", channel=channel)
            with database.session() as session:
                session.execute(update(Handoff).where(Handoff.id == handoff.id).values(
                    requested_at=utc(2026, 1, 7, 10, 6), claimed_at=utc(2026, 1, 7, 10, 8), status="closed",
                    outcome_topic="benefit_apply"))
    return ids


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    url = f"sqlite:///{tmp_path_factory.mktemp('analyst') / 'analyst.db'}"
    app = create_app(Settings(database_url=url, rasa_url="http://127.0.0.1:9"))
    database = Database(url)
    store = HandoffStore(database)
    password = hash_password(PASSWORD)
    for username, role, ui in [("aino", "analyst", "en"), ("eino", "analyst", "fi"), ("anna", "adviser", "en"),
                               ("root", "admin", "en")]:
        store.add_adviser(username, username.title(), password, role, ["fi"], ui)
    ids = seed(database)
    yield app, database, ids
    database.engine.dispose()


@pytest.fixture
def fresh(env):  # noqa: ANN001, ANN201
    """Every question back to `new` before each test."""
    app, database, ids = env
    with database.session() as session:
        session.execute(update(UnresolvedQuestion).values(label_status="new", label_intent=None, labelled_by=None,
                                                          labelled_at=None))
    return env


def client_for(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="http://testserver")


# --- reading the pages -----------------------------------------------------------------------------


class Page(HTMLParser):
    """Tables (cell texts per row), form controls, labels, and whatever would break the CSP."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.th_without_scope = 0
        self.inline = 0  # <script>, <style>, style="" or on...="" attributes
        self.langs: list[tuple[str, str, str]] = []  # (lang, dir, text) of elements with both
        self._cell: list[str] | None = None
        self._open: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style") or "style" in a or any(k.startswith("on") for k in a):
            self.inline += 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
            if tag == "th" and "scope" not in a:
                self.th_without_scope += 1
        elif tag in ("input", "select", "textarea", "button"):
            self.controls.append({"tag": tag, **a})
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if "lang" in a and "dir" in a and tag not in ("html",):
            self._open.append((tag, a))
            self._lang_text: list[str] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if self._open and self._open[-1][0] == tag:
            _, a = self._open.pop()
            self.langs.append((a["lang"], a["dir"], "".join(self._lang_text).strip()))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._open:
            self._lang_text.append(data)

    def row(self, first: str) -> list[str]:
        for table in self.tables:
            for row in table:
                if row and row[0] == first:
                    return row
        raise AssertionError(f"no table row {first!r}")


def norm(text: str) -> str:
    return text.replace("\u00a0", " ")


def assert_accessible(text: str) -> Page:
    page = Page(text)
    assert page.inline == 0, "inline script or style: the console's CSP forbids them"
    assert page.th_without_scope == 0
    for control in page.controls:
        if control["tag"] in ("select", "textarea") or (control["tag"] == "input" and control.get("type") != "hidden"):
            assert control.get("id") in page.label_for, f"no <label> for {control}"
    return page


def assert_masked(text: str) -> None:
    for personal in PERSONAL:
        assert personal not in text


def hidden(text: str, form_action: str, name: str) -> list[str]:
    """The values of hidden field `name` in the forms posting to `form_action`."""
    values = []
    for form in re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', text, re.S):
        if form[0] == form_action:
            values += re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', form[1])
    return values


# --- authorization and CSRF ---------------------------------------------------------------------------


def test_pages_redirect_and_forms_refuse_without_a_session(env) -> None:
    app, _, _ = env
    with client_for(app) as client:
        for path in GETS:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/console/login", path
            assert {k: response.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
        for path in POSTS:
            response = client.post(path, data={"csrf_token": "x", "label": "dismissed", "ids": "1"})
            assert response.status_code == 401, path
            assert response.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_an_adviser_is_refused_every_analyst_view(env) -> None:
    app, _, _ = env
    with client_for(app) as client:
        csrf = sign_in(client, "anna")
        for path in GETS:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 403, path
            assert {k: response.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
        for path in POSTS:
            response = client.post(path, data={"csrf_token": csrf, "label": "dismissed", "ids": "1"})
            assert response.status_code == 403, path
        # ... and still has the adviser page.
        assert client.get("/console/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("username", ["aino", "root"])
def test_analysts_and_admins_see_every_view(env, username: str) -> None:
    app, _, _ = env
    with client_for(app) as client:
        sign_in(client, username)
        for path in GETS:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 200, path
            assert {k: response.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS, path
        landing = client.get("/console/", follow_redirects=False)
        if username == "aino":
            assert landing.status_code == 303 and landing.headers["location"] == "/console/reports"
        else:  # an admin keeps the adviser page, with a way to the analyst views
            assert landing.status_code == 200
            assert '<a href="/console/">' in client.get("/console/inbox").text


def test_forms_need_the_sessions_csrf_token(fresh) -> None:
    app, database, ids = fresh
    item = ids["voiko koiran tuoda toimistoon"]
    with client_for(app) as client:
        sign_in(client, "aino")
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(f"/console/inbox/{item}/label", data={**data, "label": "dismissed"},
                                   follow_redirects=False)
            assert response.status_code == 403
            response = client.post("/console/topics/label", data={**data, "label": "dismissed", "ids": str(item)},
                                   follow_redirects=False)
            assert response.status_code == 403
            assert {k: response.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert Inbox(database).get(item).status == "new"


def test_another_sessions_token_is_refused(fresh) -> None:
    app, database, ids = fresh
    item = ids["voiko koiran tuoda toimistoon"]
    with client_for(app) as other:
        other_token = sign_in(other, "root")
    with client_for(app) as client:
        sign_in(client, "aino")
        response = client.post(f"/console/inbox/{item}/label", data={"csrf_token": other_token, "label": "dismissed"})
        assert response.status_code == 403
    assert Inbox(database).get(item).status == "new"


# --- the report ---------------------------------------------------------------------------------


def test_the_report_shows_the_numbers_of_the_history(env) -> None:
    app, _, _ = env
    with client_for(app) as client:
        sign_in(client, "aino")
        response = client.get("/console/reports", params=PERIOD)
    assert response.status_code == 200
    page = assert_accessible(response.text)
    text = norm(response.text)
    assert 'value="2026-01-05"' in text and 'value="2026-01-11"' in text
    # 11 user messages in the period (the button press included), 5 + 2 + 3 questions.
    assert "User messages: <strong>11</strong>" in text
    fi, sv, ar = (language_label(code, "en") for code in ("fi", "sv", "ar"))
    # Finnish: 5 questions, 3 not understood and 1 ambiguous: 1 resolved, 20.0 %.
    assert page.row(fi) == [fi, "5", "3", "1", "0", "0", "1", "20.0 %"]
    assert page.row(sv) == [sv, "2", "0", "0", "1", "0", "1", "50.0 %"]
    assert page.row(ar) == [ar, "3", "2", "0", "0", "0", "1", "33.3 %"]
    # Unresolved by reason: 5 of 8 not understood (fi 3, ar 2), in 2 conversations.
    not_understood = page.row("Not understood")
    assert not_understood[1:4] == ["5", "62.5 %", "2"]
    assert page.row("Ambiguous")[1:4] == ["1", "12.5 %", "1"]
    assert page.row("Out of scope")[1:4] == ["1", "12.5 %", "1"]
    assert page.row("Handoff request")[1:4] == ["1", "12.5 %", "1"]
    # The handoff: waited two minutes, closed with the topic benefit_apply.
    assert page.row("Requests")[1] == "1"
    assert page.row("Waiting time, median")[1] == "2 min 00 s"
    # Charts are embedded images with a text alternative; CSV links keep the period.
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="Bar chart of', text)
    assert 'href="/console/reports/unresolved_reasons.csv?since=2026-01-05&amp;until=2026-01-11"' in text
    # Masked examples only.
    assert "[phone]" in text and "[email]" in text
    assert_masked(response.text)


def test_the_report_defaults_to_the_last_30_days_with_today(env) -> None:
    app, database, _ = env
    today = datetime.now(HELSINKI).date()
    conversations = ConversationStore(database)
    conversation = conversations.get_or_create("webchat", "web-today")
    conversations.add_message(conversation.id, "in", "user", "kysyn tänään", language="fi", status="answered")
    try:
        with client_for(app) as client:
            sign_in(client, "aino")
            text = client.get("/console/reports").text
            volumes = list(csv.DictReader(io.StringIO(client.get("/console/reports/volumes.csv").text)))
    finally:
        with database.session() as session:
            session.execute(delete(Conversation).where(Conversation.id == conversation.id))
    assert f'name="since" value="{today - timedelta(days=29)}"' in text
    assert f'name="until" value="{today}"' in text
    assert "User messages: <strong>1</strong>" in text  # today's message is in the report
    assert [(row["language"], row["messages"]) for row in volumes] == [("fi", "1")]


def chart_descriptions(text: str) -> list[str]:
    """What each chart of a page names (the PNG's Description text)."""
    return [Image.open(io.BytesIO(base64.b64decode(data))).text["Description"]
            for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_charts_name_languages_and_reasons_in_the_consoles_language(env) -> None:
    app, _, _ = env
    pages = {}
    for username in ("eino", "aino"):  # Finnish and English console
        with client_for(app) as client:
            sign_in(client, username)
            pages[username] = chart_descriptions(client.get("/console/reports", params=PERIOD).text)
    finnish, english = pages["eino"], pages["aino"]
    # Volumes (most messages first), questions resolved, reasons; no unsupported languages or feedback here.
    assert finnish == ["suomi; arabia; ruotsi", "suomi; arabia; ruotsi",
                       "Ei ymmärretty; Epäselvä; Aiheen ulkopuolella; Siirtopyyntö neuvojalle"]
    assert english == ["Finnish; Arabic; Swedish", "Finnish; Arabic; Swedish",
                       "Not understood; Ambiguous; Out of scope; Handoff request"]
    for description in finnish + english:
        assert not {"fi", "sv", "ar", "nlu_fallback", "out_of_scope"} & set(description.split("; "))


def test_understood_handoff_requests_stay_out_of_the_inbox(fresh) -> None:
    app, database, _ = fresh
    log = InsightsLog(database, "analyst-secret", fallback_threshold=0.2)
    request = log.record("web-h", channel="webchat", reason="handoff_request", trigger="user_request", language="fi",
                         text="haluan puhua ihmisen kanssa", intents=[{"name": "request_human", "confidence": 0.97}],
                         at=utc(2026, 2, 1, 9, 0))
    try:
        with client_for(app) as client:
            sign_in(client, "aino")
            every = client.get("/console/inbox", params={"status": "all"})
            filtered = client.get("/console/inbox", params={"reason": "handoff_request"})
    finally:
        with database.session() as session:
            session.delete(session.get(UnresolvedQuestion, request))
    assert every.status_code == 200 and "haluan puhua ihmisen kanssa" not in every.text
    page = Page(every.text)
    assert page.row(language_label("fi", "en"))[1:6] == ["6", "0", "0", "0", "6"]  # the six questions only
    assert 'value="handoff_request"' not in every.text and 'value="contact_request"' not in every.text
    assert filtered.status_code == 400


def test_a_bad_period_is_refused_with_a_message(env) -> None:
    app, _, _ = env
    with client_for(app) as client:
        sign_in(client, "aino")
        for params in ({"since": "2026-01-11", "until": "2026-01-05"}, {"since": "5.1.2026"},
                       {"since": "2020-01-01", "until": "2026-01-01"}):
            response = client.get("/console/reports", params=params)
            assert response.status_code == 400 and 'role="alert"' in response.text
        assert client.get("/console/reports/volumes.csv", params={"until": "x"}).status_code == 400
        assert client.get("/console/reports/secrets.csv", params=PERIOD).status_code == 404


def test_csv_downloads_have_the_reports_numbers_and_no_personal_data(env) -> None:
    app, _, _ = env
    with client_for(app) as client:
        sign_in(client, "aino")
        response = client.get("/console/reports/unresolved_reasons.csv", params=PERIOD)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == \
            "attachment; filename=unresolved_reasons_2026-01-05_2026-01-11.csv"
        rows = {row["reason"]: row for row in csv.DictReader(io.StringIO(response.text))}
        assert rows["nlu_fallback"]["count"] == "5" and rows["nlu_fallback"]["share"] == "0.625"
        understanding = {row["language"]: row for row in csv.DictReader(io.StringIO(
            client.get("/console/reports/understanding.csv", params=PERIOD).text))}
        assert understanding["fi"]["understood_share"] == "0.2"
        for name in ("unresolved_reasons", "clusters", "volumes"):
            assert_masked(client.get(f"/console/reports/{name}.csv", params=PERIOD).text)
        assert_masked(response.text)


# --- candidate topics and the inbox -----------------------------------------------------------


def test_candidate_topics_show_masked_examples_in_their_languages_direction(fresh) -> None:
    app, _, ids = fresh
    with client_for(app) as client:
        sign_in(client, "aino")
        response = client.get("/console/topics", params=PERIOD)
    assert response.status_code == 200
    page = assert_accessible(response.text)
    assert_masked(response.text)
    examples = [(lang, direction, text) for lang, direction, text in page.langs]
    assert ("ar", "rtl", "هل يمكنني إحضار كلبي إلى المكتب") in examples
    assert any(lang == "fi" and direction == "ltr" and "[phone]" in text for lang, direction, text in examples)
    # Each cluster has one set of forms carrying all its ids; the Finnish dog cluster is one of them.
    clusters = {value for value in hidden(response.text, "/console/topics/label", "ids")}
    dogs = {ids["voiko koiran tuoda toimistoon"], ids["voiko koiran ottaa mukaan toimistoon"], ids[PII_TEXT]}
    assert any(set(map(int, value.split(","))) == dogs for value in clusters)
    assert '<select id="language" name="language">' in response.text
    with client_for(app) as client:
        sign_in(client, "aino")
        only_sv = client.get("/console/topics", params={**PERIOD, "language": "sv"}).text
    assert "كلب" not in only_sv and "koiran" not in only_sv


def test_labelling_a_whole_cluster_through_the_form(fresh) -> None:
    app, database, ids = fresh
    dogs = [ids["voiko koiran tuoda toimistoon"], ids["voiko koiran ottaa mukaan toimistoon"], ids[PII_TEXT]]
    with client_for(app) as client:
        csrf = sign_in(client, "aino")
        here = f"/console/topics?since={SINCE}&until={UNTIL}"
        response = client.post("/console/topics/label", data={
            "csrf_token": csrf, "ids": ",".join(map(str, dogs)), "label": "new_topic",
            "topic_name": "Pets at office", "next": here}, follow_redirects=False)
        assert response.status_code == 303
        location = urlsplit(response.headers["location"])
        assert location.path == "/console/topics" and parse_qs(location.query)["done"] == ["3"]
        after = client.get(response.headers["location"])
        assert 'role="status"' in after.text and "Labelled: 3." in after.text
        assert "koiran" not in after.text  # only new questions are clustered
        # The Arabic cluster, with the ids repeated instead of comma-separated.
        arabic = [ids["هل يمكنني إحضار كلبي إلى المكتب"], ids["هل يمكن إحضار الكلب إلى المكتب"]]
        response = client.post("/console/topics/label", data={
            "csrf_token": csrf, "ids": [str(i) for i in arabic], "label": "appointment",
            "next": "https://evil.example/console/topics"}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/topics?done=2"
    inbox = Inbox(database)
    for item_id in dogs:
        item = inbox.get(item_id)
        assert (item.status, item.label_intent, item.labelled_by) == ("new_topic", "pets_at_office", "aino")
    assert {inbox.get(i).status for i in arabic} == {"labelled"}
    assert {inbox.get(i).label_intent for i in arabic} == {"appointment"}


def test_a_cluster_form_with_unknown_ids_or_label_changes_nothing(fresh) -> None:
    app, database, ids = fresh
    item = ids["voiko koiran tuoda toimistoon"]
    with client_for(app) as client:
        csrf = sign_in(client, "aino")
        for data in ({"ids": f"{item},999999", "label": "dismissed"}, {"ids": f"{item},x", "label": "dismissed"},
                     {"ids": str(item), "label": "no_such_intent"}, {"ids": "", "label": "dismissed"},
                     {"ids": str(item), "label": "new_topic", "topic_name": "Ä!"}):
            response = client.post("/console/topics/label", data={"csrf_token": csrf, **data})
            assert response.status_code == 400, data
            assert 'role="alert"' in response.text
    assert Inbox(database).get(item).status == "new"


def test_the_inbox_lists_masked_questions_with_their_language(fresh) -> None:
    app, _, ids = fresh
    with client_for(app) as client:
        sign_in(client, "aino")
        response = client.get("/console/inbox")
        fi_only = client.get("/console/inbox", params={"language": "fi", "reason": "ambiguous"})
        every = client.get("/console/inbox", params={"status": "all"})
    assert response.status_code == 200
    page = assert_accessible(response.text)
    assert_masked(response.text)
    assert_masked(every.text)
    questions = {text: (lang, direction) for lang, direction, text in page.langs}
    masked = "voiko koiran tuoda toimistoon, soita [phone] tai [email]"
    assert questions[masked] == ("fi", "ltr")
    assert questions["هل يمكن إحضار الكلب إلى المكتب"] == ("ar", "rtl")
    # Time in Helsinki, reason, best guess of the classifier.
    row = page.row(masked)
    assert row[1] == "2026-01-07 12:00" and row[2] == language_label("fi", "en") and row[3] == "Not understood"
    assert row[4].startswith("benefit_apply 15.0")
    # Counts per language and status: 6 Finnish questions with text (two outside the period), all new.
    assert page.row(language_label("fi", "en"))[1:6] == ["6", "0", "0", "0", "6"]
    # Filters.
    assert "saanko tukea" in fi_only.text and "koiran" not in fi_only.text
    assert 'value="ambiguous" selected' in fi_only.text
    # A form per row, with the suggested intent chosen.
    assert hidden(response.text, f"/console/inbox/{ids[PII_TEXT]}/label", "label") == ["new_topic", "dismissed"]
    assert '<option value="benefit_apply" selected>' in response.text


def test_labelling_one_question_through_the_form(fresh) -> None:
    app, database, ids = fresh
    item, other = ids[PII_TEXT], ids["vad blir vädret i morgon"]
    with client_for(app) as client:
        csrf = sign_in(client, "aino")
        response = client.post(f"/console/inbox/{item}/label", data={
            "csrf_token": csrf, "label": "benefit_apply", "next": "/console/inbox?language=fi&done=7"},
            follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/inbox?language=fi&done=1"
        response = client.post(f"/console/inbox/{other}/label", data={"csrf_token": csrf, "label": "dismissed"},
                               follow_redirects=False)
        assert response.headers["location"] == "/console/inbox?done=1"
        listed = client.get("/console/inbox").text
        assert "[email]" not in listed and "vädret" not in listed  # no longer new
        labelled = client.get("/console/inbox", params={"status": "labelled"})
        page = assert_accessible(labelled.text)
        assert hidden(labelled.text, f"/console/inbox/{item}/label", "label")[-1] == "new"  # can be taken back
        assert page.row(language_label("fi", "en"))[1:3] == ["5", "1"]
        missing = client.post("/console/inbox/999999/label", data={"csrf_token": csrf, "label": "dismissed"})
        assert missing.status_code == 404
        wrong = client.post(f"/console/inbox/{other}/label", data={"csrf_token": csrf, "label": "nlu_fallback"})
        assert wrong.status_code == 400
    inbox = Inbox(database)
    assert (inbox.get(item).status, inbox.get(item).label_intent, inbox.get(item).labelled_by) == \
        ("labelled", "benefit_apply", "aino")
    assert inbox.get(other).status == "dismissed"


def test_the_inbox_pages(fresh) -> None:
    app, database, _ = fresh
    log = InsightsLog(database, "analyst-secret", fallback_threshold=0.2)
    extra = [log.record(f"paging-{i}", channel="webchat", reason="nlu_fallback", language="et",
                        text=f"küsimus number {i}", at=utc(2026, 1, 10, 12, i)) for i in range(30)]
    try:
        with client_for(app) as client:
            sign_in(client, "aino")
            first = client.get("/console/inbox", params={"language": "et"}).text
            assert 'rel="next"' in first and 'rel="prev"' not in first
            assert "küsimus number 29" in first and "küsimus number 4<" not in first
            second = client.get("/console/inbox", params={"language": "et", "page": "2"}).text
            assert 'rel="prev"' in second and 'rel="next"' not in second
            assert "küsimus number 4<" in second and "küsimus number 0<" in second
            assert client.get("/console/inbox", params={"page": "0"}).status_code == 400
            assert client.get("/console/inbox", params={"status": "bogus"}).status_code == 400
    finally:
        with database.session() as session:
            for item_id in extra:
                session.delete(session.get(UnresolvedQuestion, item_id))


# --- the export ---------------------------------------------------------------------------------


def test_the_export_is_rasa_nlu_yaml_of_the_labelled_questions(fresh) -> None:
    app, _, ids = fresh
    with client_for(app) as client:
        csrf = sign_in(client, "aino")
        assert "Nothing has been labelled yet." in client.get("/console/inbox").text
        for text in (PII_TEXT, "voiko koiran ottaa mukaan toimistoon"):
            client.post(f"/console/inbox/{ids[text]}/label", data={"csrf_token": csrf, "label": "appointment"})
        client.post(f"/console/inbox/{ids['voiko koiran tuoda toimistoon']}/label",
                    data={"csrf_token": csrf, "label": "new_topic", "topic_name": "pets"})
        page = client.get("/console/inbox").text
        assert 'href="/console/inbox/export?language=fi"' in page
        response = client.get("/console/inbox/export", params={"language": "fi"})
        assert client.get("/console/inbox/export", params={"language": "../etc"}).status_code == 400
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/yaml; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename=nlu_fi.yml"
    assert_masked(response.text)
    data = yaml.safe_load(response.text)
    assert data["version"] == "3.1"
    by_intent = {entry["intent"]: entry["examples"] for entry in data["nlu"]}
    assert set(by_intent) == {"appointment"}  # new topics are no training examples yet
    examples = [line[2:] for line in by_intent["appointment"].splitlines()]
    assert examples == ["voiko koiran ottaa mukaan toimistoon",
                        "voiko koiran tuoda toimistoon, soita [phone] tai [email]"]


# --- Finnish ------------------------------------------------------------------------------------


def test_finnish_users_get_finnish_pages(fresh) -> None:
    app, _, _ = fresh
    with client_for(app) as client:
        csrf = sign_in(client, "eino")
        reports = client.get("/console/reports", params=PERIOD).text
        inbox = client.get("/console/inbox").text
        topics = client.get("/console/topics", params=PERIOD).text
        # The switch to English and back.
        response = client.post("/console/analyst/ui-language",
                               data={"csrf_token": csrf, "language": "en", "next": "/console/inbox?status=new"},
                               follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/inbox?status=new"
        english = client.get("/console/inbox").text
        client.post("/console/analyst/ui-language", data={"csrf_token": csrf, "language": "fi"})
    assert '<html lang="fi">' in reports
    page = assert_accessible(reports)
    fi = language_label("fi", "fi")
    assert page.row(fi)[-1] == "20,0 %"
    for expected in ("Raportit", "Ratkaistujen osuus", "Ratkaisemattomat kysymykset syyn mukaan", "Kirjaudu ulos",
                     "Ei ymmärretty"):
        assert expected in reports
    assert "Saapuneet kysymykset" in inbox and "Luokittele" in inbox and "Hylkää" in inbox
    assert "Aihe-ehdotukset" in topics and "Merkitse kaikki uudeksi aiheeksi" in topics
    assert "Questions by status" not in inbox
    assert '<html lang="en">' in english and "Questions by status" in english


def test_every_analyst_text_is_in_both_languages() -> None:
    from bot.console.texts import console_texts

    en = {k for k in console_texts("en") if k.startswith("analyst.")}
    fi = {k for k in console_texts("fi") if k.startswith("analyst.")}
    assert en == fi and len(en) > 100


def test_the_content_page_lists_every_topic_due_for_a_re_check(env) -> None:
    """Issue 14: the service team sees in the console what `make content-check` lists."""
    from bot.console.topics import topic_titles
    from bot.content.catalogue import topics
    from bot.content.currency import currency_rows

    app, _, _ = env
    rows = currency_rows()
    with client_for(app) as client:
        sign_in(client, "aino")
        page = client.get("/console/content")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for name in topics():
        assert f"<code>{name}</code>" in text
        assert topic_titles("en")[name] in text
    assert f"Topics due for a re-check: {sum(r.needs_review for r in rows)}" in text
    for row in rows:
        if row.reviewed is not None:
            assert row.reviewed.isoformat() in text
    volatile = next(r for r in rows if r.volatile_facts)
    assert volatile.volatile_facts[0] in text
    assert 'href="/console/content" aria-current="page"' in page.text
