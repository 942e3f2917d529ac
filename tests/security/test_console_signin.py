"""Attacks on the console's sign-in, over HTTP against a real gateway process.

Failures are counted per username and, separately, per client address (the one
X-Forwarded-For names when the request comes from the trusted proxy); a browser
that signed in to an account before (its device cookie) is exempt from the
lock-out of untrusted clients. So guessing can neither lock a colleague out nor
an adviser out of their own account, and parallel guesses cannot get past the
limit."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import SignInFailure
from tests.helpers import Gateway, running_gateway
from tests.security.conftest import LIMITS, MAX_FAILURES, MAX_FAILURES_PER_ADDRESS, NO_RASA
from tests.security.signin import WRONG, add_account, attempt, browser, login_token, sign_out


def guess(gateway: Gateway, username: str, address: str, times: int) -> list[int]:
    with browser(gateway, address) as client:
        return [attempt(client, username, WRONG) for _ in range(times)]


def test_failures_against_one_account_do_not_stop_another_adviser(signin_gateway: Gateway) -> None:
    """Someone guesses Anna's password from the office's shared address until her user name is
    locked; Bertil, at the same address, and Carla elsewhere still sign in."""
    for name in ("anna1", "bertil1", "carla1"):
        add_account(signin_gateway, name)
    codes = guess(signin_gateway, "anna1", "198.51.100.10", MAX_FAILURES + 2)
    assert codes[:MAX_FAILURES] == [401] * MAX_FAILURES and codes[MAX_FAILURES:] == [429, 429]
    with browser(signin_gateway, "198.51.100.10") as bertil:
        assert attempt(bertil, "bertil1") == 303
        assert bertil.get("/console/api/me").json()["adviser"]["username"] == "bertil1"
    with browser(signin_gateway, "203.0.113.20") as carla:
        assert attempt(carla, "carla1") == 303


def test_failures_from_one_address_do_not_stop_advisers_elsewhere_or_in_their_own_browser(
        signin_gateway: Gateway) -> None:
    """A password sprayer at Dora's address locks that address for browsers it has not seen;
    Dora's own browser (it signed in before) and Erik at another address still sign in."""
    for name in ("dora2", "erik2"):
        add_account(signin_gateway, name)
    with browser(signin_gateway, "198.51.100.30") as dora:
        assert attempt(dora, "dora2") == 303
        sign_out(dora)
        codes = []
        for index in range(MAX_FAILURES_PER_ADDRESS + 2):
            codes += guess(signin_gateway, f"someone{index}", "198.51.100.30", 1)
        assert codes[:MAX_FAILURES_PER_ADDRESS] == [401] * MAX_FAILURES_PER_ADDRESS
        assert codes[MAX_FAILURES_PER_ADDRESS:] == [429, 429]
        with browser(signin_gateway, "198.51.100.30") as new_browser:
            assert attempt(new_browser, "erik2") == 429  # the address is locked for browsers it has not seen
        assert attempt(dora, "dora2") == 303
    with browser(signin_gateway, "203.0.113.31") as erik:
        assert attempt(erik, "erik2") == 303


def test_a_guesser_cannot_lock_an_adviser_out_of_their_own_account(signin_gateway: Gateway) -> None:
    """Guesses against Frida's user name from many addresses lock it for new browsers, not for
    the browser Frida signed in with before. That browser's own wrong passwords lock only it."""
    add_account(signin_gateway, "frida3")
    with browser(signin_gateway, "203.0.113.40") as frida:
        assert attempt(frida, "frida3") == 303
        sign_out(frida)
        codes = [guess(signin_gateway, "frida3", f"192.0.2.{index}", 1)[0] for index in range(MAX_FAILURES + 3)]
        assert codes.count(401) == MAX_FAILURES and codes[-1] == 429
        with browser(signin_gateway, "203.0.113.41") as new_browser:
            assert attempt(new_browser, "frida3") == 429  # the user name is locked for new browsers
        assert attempt(frida, "frida3") == 303
        sign_out(frida)
        # Guessing with a stolen (or Frida's own) device cookie: that device locks after its own limit.
        assert [attempt(frida, "frida3", WRONG) for _ in range(MAX_FAILURES + 1)] == [401] * MAX_FAILURES + [429]
        assert attempt(frida, "frida3") == 429


def test_parallel_wrong_passwords_do_not_get_past_the_limit(signin_gateway: Gateway) -> None:
    """30 wrong passwords at once: at most MAX_FAILURES of them are checked at all."""
    add_account(signin_gateway, "gustav4")
    clients = [browser(signin_gateway, f"203.0.113.{50 + index % 3}") for index in range(30)]
    tokens = [login_token(client) for client in clients]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def one(index: int) -> None:
        barrier.wait()
        codes.append(attempt(clients[index], "gustav4", WRONG, tokens[index]))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert len(codes) == 30 and set(codes) <= {401, 429}
    # At most MAX_FAILURES were checked (parallel attempts may refuse one another early, never late).
    assert codes.count(401) <= MAX_FAILURES, codes
    with Database(signin_gateway.database_url).session() as session:
        stored = session.execute(select(func.count()).select_from(SignInFailure)
                                 .where(SignInFailure.username == "gustav4")).scalar_one()
    assert stored == codes.count(401)


def test_clients_behind_the_trusted_proxy_are_told_apart(signin_gateway: Gateway) -> None:
    """The failures are stored under the address X-Forwarded-For names, not the proxy's."""
    add_account(signin_gateway, "hanna5")
    guess(signin_gateway, "nobody5", "198.51.100.77", 2)
    with Database(signin_gateway.database_url).session() as session:
        clients = set(session.execute(select(SignInFailure.client)
                                      .where(SignInFailure.username == "nobody5")).scalars())
    assert clients == {"198.51.100.77"}
    with browser(signin_gateway, "198.51.100.78") as hanna:
        assert attempt(hanna, "hanna5") == 303


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    """When the peer is not a trusted proxy, a made-up X-Forwarded-For neither hides the guesser
    (a fresh address per guess) nor is stored: the peer's own address is counted."""
    environment = {**LIMITS, "FORWARDED_ALLOW_IPS": "10.255.255.1"}
    with running_gateway(NO_RASA, tmp_path, environment) as gateway:
        codes = [guess(gateway, f"sprayed{index}", f"192.0.2.{index}", 1)[0]
                 for index in range(MAX_FAILURES_PER_ADDRESS + 2)]
        assert codes[-2:] == [429, 429], codes
        with Database(gateway.database_url).session() as session:
            clients = set(session.execute(select(SignInFailure.client)).scalars())
        assert clients == {"127.0.0.1"}
