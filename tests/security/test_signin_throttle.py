"""The sign-in throttle on a real database, SQLite and PostgreSQL: the attempt is stored
before the password is checked and then counted, so parallel guesses (threads here; on
production several gateway processes share the database the same way) cannot get past
the limit, and the username, address and device limits are separate."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bot.console.auth import Accounts, Throttled, hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database
from bot.store.models import SignInFailure
from tests.console_helpers import PASSWORD

WRONG = "not the password"


def accounts_with(database: Database, *usernames: str) -> Accounts:
    store = HandoffStore(database)
    for username in usernames:
        store.add_adviser(username, username.title(), hash_password(PASSWORD), "adviser", ["fi"], "fi")
    return Accounts(database, max_failures=5, max_failures_per_address=8)


def outcome(accounts: Accounts, username: str, password: str, client: str, device: str | None = None) -> str:
    try:
        return "signed_in" if accounts.sign_in(username, password, client, device) else "wrong"
    except Throttled:
        return "throttled"


def test_parallel_guesses_are_checked_at_most_max_failures_times(migrated_database: Database) -> None:
    accounts = accounts_with(migrated_database, "anna")
    barrier = threading.Barrier(30)
    results: list[str] = []

    def guess(index: int) -> None:
        barrier.wait()
        results.append(outcome(accounts, "anna", WRONG, f"10.0.0.{index}"))

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 30 and set(results) <= {"wrong", "throttled"}
    # At most five were checked; parallel attempts may refuse one another early, never late.
    assert results.count("wrong") <= 5, results
    with migrated_database.session() as session:
        stored = session.execute(select(func.count()).select_from(SignInFailure)).scalar_one()
    assert stored == results.count("wrong")  # the refused attempts were not kept
    # The rest of the five guesses are left, and then the username is locked.
    left = 5 - results.count("wrong")
    assert [outcome(accounts, "anna", WRONG, "10.9.9.9") for _ in range(left + 1)] == ["wrong"] * left + ["throttled"]
    assert outcome(accounts, "anna", PASSWORD, "10.9.9.9") == "throttled"


def test_username_and_address_limits_are_separate(migrated_database: Database) -> None:
    accounts = accounts_with(migrated_database, "anna", "bertil")
    assert [outcome(accounts, "anna", WRONG, "10.0.0.1") for _ in range(6)] == ["wrong"] * 5 + ["throttled"]
    assert outcome(accounts, "anna", PASSWORD, "10.0.0.2") == "throttled"  # a new browser, anywhere
    assert outcome(accounts, "bertil", PASSWORD, "10.0.0.1") == "signed_in"  # same address, other account
    for index in range(2):
        assert outcome(accounts, f"nobody{index}", WRONG, "10.0.0.1") == "wrong"
    # 5 + 2 failures from the address, and the next attempt is the eighth: still allowed ...
    assert outcome(accounts, "nobody", WRONG, "10.0.0.1") == "wrong"
    # ... and then the address is locked for every account without a device cookie.
    assert outcome(accounts, "bertil", PASSWORD, "10.0.0.1") == "throttled"
    assert outcome(accounts, "bertil", PASSWORD, "10.0.0.3") == "signed_in"


def test_a_device_cookie_skips_the_lock_out_and_has_a_limit_of_its_own(migrated_database: Database) -> None:
    accounts = accounts_with(migrated_database, "anna", "bertil")
    signed_in = accounts.sign_in("anna", PASSWORD, "10.0.0.1")
    device = signed_in.device_token
    assert device and accounts.sign_in("anna", PASSWORD, "10.0.0.1", device).device_token is None  # kept, not new
    for index in range(10):
        outcome(accounts, "anna", WRONG, f"10.1.0.{index}")
    assert outcome(accounts, "anna", PASSWORD, "10.0.0.9") == "throttled"
    assert outcome(accounts, "anna", PASSWORD, "10.0.0.9", device) == "signed_in"
    # Anna's device cookie means nothing for another account.
    assert accounts.trusted_device("bertil", device) is None
    assert [outcome(accounts, "anna", WRONG, "10.0.0.9", device) for _ in range(6)] == ["wrong"] * 5 + ["throttled"]
    assert outcome(accounts, "anna", PASSWORD, "10.0.0.9", device) == "throttled"


@pytest.mark.parametrize("password", [PASSWORD, WRONG])
def test_a_disabled_account_never_signs_in(migrated_database: Database, password: str) -> None:
    accounts = accounts_with(migrated_database, "anna")
    store = HandoffStore(migrated_database)
    store.update_adviser(store.adviser_by_username("anna").id, active=False)
    assert outcome(accounts, "anna", password, "10.0.0.1") == "wrong"
