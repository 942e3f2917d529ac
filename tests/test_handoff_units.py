"""The parts of the handoff that need no servers: chat hours (weekly hours,
exceptions, Finnish public holidays, Helsinki time), reading contact details,
and the queue's conditional updates (exactly one of two claims wins) on a real
database."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.contact import read_contact
from bot.handoff.hours import ServiceHours
from bot.handoff.service import format_opening
from bot.handoff.store import HandoffStore
from bot.store.db import Database, migrate
from bot.store.repository import ConversationStore

HELSINKI = ZoneInfo("Europe/Helsinki")
WEEKDAYS = {"mon": [["09:00", "15:00"]], "tue": [["09:00", "15:00"]], "wed": [["09:00", "15:00"]],
            "thu": [["09:00", "15:00"]], "fri": [["09:00", "12:00"], ["13:00", "15:00"]]}


def hours(**extra: object) -> ServiceHours:
    return ServiceHours.from_config({"time_zone": "Europe/Helsinki", "weekly": WEEKDAYS, **extra})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


def test_weekly_hours_in_helsinki_time() -> None:
    h = hours()
    assert h.is_open(local(2026, 11, 30, 9, 0))  # Monday
    assert not h.is_open(local(2026, 11, 30, 8, 59))
    assert not h.is_open(local(2026, 11, 30, 15, 0))
    assert not h.is_open(local(2026, 12, 4, 12, 30))  # Friday lunch break
    assert not h.is_open(local(2026, 11, 28, 10, 0))  # Saturday
    # 07:30 UTC is 09:30 in Helsinki in winter
    assert h.is_open(datetime(2026, 11, 30, 7, 30, tzinfo=timezone.utc))
    # ... and 10:30 in summer (EEST)
    assert h.is_open(datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc))
    assert not h.is_open(datetime(2026, 6, 1, 5, 30, tzinfo=timezone.utc))


def test_finnish_public_holidays_are_closed() -> None:
    h = hours()
    assert not h.is_open(local(2026, 12, 25, 10, 0))  # Christmas Day, a Friday
    assert not h.is_open(local(2026, 4, 3, 10, 0))  # Good Friday 2026
    assert h.is_open(local(2026, 12, 7, 10, 0))  # an ordinary Monday stays open
    assert hours(public_holidays=None).is_open(local(2026, 12, 25, 10, 0))


def test_exceptions_close_or_change_a_day() -> None:
    h = hours(exceptions={"2026-12-01": [], "2026-12-02": [["12:00", "13:00"]], "2026-11-28": [["10:00", "11:00"]]})
    assert not h.is_open(local(2026, 12, 1, 10, 0))
    assert not h.is_open(local(2026, 12, 2, 10, 0)) and h.is_open(local(2026, 12, 2, 12, 30))
    assert h.is_open(local(2026, 11, 28, 10, 30))  # a Saturday opened by exception
    assert h.hours_on(date(2026, 12, 1)) == []


def test_next_opening_skips_weekends_and_holidays() -> None:
    h = hours()
    assert h.next_opening(local(2026, 12, 24, 16, 0)) == local(2026, 12, 28, 9, 0)  # Christmas, weekend
    assert h.next_opening(local(2026, 12, 4, 12, 10)) == local(2026, 12, 4, 13, 0)
    closed = ServiceHours.from_config({"weekly": {}})
    assert closed.next_opening(local(2026, 12, 4, 12, 10)) is None


def test_bad_hours_are_refused() -> None:
    with pytest.raises(ValueError):
        ServiceHours.from_config({"weekly": {"mon": [["15:00", "09:00"]]}})


@pytest.mark.parametrize("language, expected", [("fi", "joulukuuta"), ("sv", "december"), ("ar", "ديسمبر"),
                                                ("zh", "12月"), ("so", "Diseembar")])
def test_opening_time_is_written_in_the_users_language(language: str, expected: str) -> None:
    assert expected in format_opening(local(2026, 12, 1, 9, 0), language)


@pytest.mark.parametrize("text, kind, value", [
    ("040 123 4567", "phone", "+358401234567"),
    ("puh. 0401234567", "phone", "+358401234567"),
    ("+46 70 123 45 67", "phone", "+46701234567"),
    ("09 816 21", "phone", None),
    ("Anna.Virtanen@Example.COM", "email", "Anna.Virtanen@example.com"),
    ("my email is anna@example.fi.", "email", "anna@example.fi"),
])
def test_contact_details_are_read_and_normalised(text: str, kind: str, value: str | None) -> None:
    contact = read_contact(text)
    assert contact is not None and contact.kind == kind
    if value:
        assert contact.value == value


@pytest.mark.parametrize("text", ["", "hello", "123", "anna@", "@example.com", "12.12.2026", "x" * 400,
                                  "010101-123N", "kyllä"])
def test_what_is_not_a_contact_is_refused(text: str) -> None:
    assert read_contact(text) is None


def _queue(database_url: str) -> tuple[HandoffStore, ConversationStore]:
    migrate(database_url)
    database = Database(database_url)
    return HandoffStore(database), ConversationStore(database)


def test_exactly_one_of_many_concurrent_claims_wins(database_url: str) -> None:
    store, conversations = _queue(database_url)
    conversation = conversations.get_or_create("webchat", "race")
    handoff = store.open_handoff(conversation.id, status="waiting", state="waiting", reason="user_request",
                                 topic=None, language="ar", channel="webchat")
    advisers = [store.add_adviser(f"a{i}", f"A{i}", "x", "adviser", ["ar"], "fi") for i in range(6)]
    barrier = threading.Barrier(len(advisers))
    results: dict[int, bool] = {}

    def claim(adviser_id: int) -> None:
        barrier.wait()
        results[adviser_id] = store.claim(handoff.id, adviser_id, datetime.now(timezone.utc))

    threads = [threading.Thread(target=claim, args=(a,)) for a in advisers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [a for a, won in results.items() if won]
    assert len(winners) == 1
    claimed = store.get(handoff.id)
    assert claimed.status == "with_adviser" and claimed.adviser_id == winners[0]
    assert conversations.get(conversation.id).state == "with_adviser"


def test_only_the_owner_moves_a_claimed_handoff(database_url: str) -> None:
    store, conversations = _queue(database_url)
    conversation = conversations.get_or_create("telegram", "42")
    handoff = store.open_handoff(conversation.id, status="waiting", state="waiting", reason="button",
                                 topic="pay_subsidy", language="fi", channel="telegram")
    owner = store.add_adviser("owner", "Owner", "x", "adviser", ["fi"], "fi")
    other = store.add_adviser("other", "Other", "x", "adviser", ["fi"], "fi")
    assert store.claim(handoff.id, owner, datetime.now(timezone.utc))
    assert not store.claim(handoff.id, other, datetime.now(timezone.utc))
    assert not store.change(handoff.id, expect_status=("with_adviser",), expect_adviser=other, status="closed")
    assert store.change(handoff.id, expect_status=("with_adviser",), expect_adviser=owner, adviser_id=other)
    assert store.change(handoff.id, expect_status=("with_adviser",), expect_adviser=other, status="closed",
                        state="bot")
    assert store.current(conversation.id) is None
    assert conversations.get(conversation.id).state == "bot"
