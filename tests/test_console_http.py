"""The adviser console's HTTP surface on the real gateway app and a real
database: sign-in with argon2 hashes, sessions, CSRF, slowed-down guessing,
security headers, and authorization of every route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.console.auth import Accounts, hash_password
from bot.handoff.store import HandoffStore
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Adviser
from bot.store.repository import ConversationStore
from tests.console_helpers import PASSWORD, add_adviser, login_form_token, sign_in

API_GETS = ["/console/api/me", "/console/api/queue", "/console/api/handoffs/1", "/console/api/contact-requests"]
API_POSTS = ["/console/api/handoffs/1/claim", "/console/api/handoffs/1/messages", "/console/api/handoffs/1/transfer",
             "/console/api/handoffs/1/close", "/console/api/contact-requests/1/handled", "/console/api/presence",
             "/console/api/ui-language"]


def make_app(url: str):  # noqa: ANN201
    return create_app(Settings(database_url=url, rasa_url="http://127.0.0.1:9", sign_in_max_failures=3))


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """One app and database for the module; accounts made with the real CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.db'}"
    app = make_app(url)
    add_adviser(url, "anna", "Anna", "fi,ar")
    add_adviser(url, "bertil", "Bertil", "sv,en")
    add_adviser(url, "aino", "Aino", "fi", role="analyst")
    return app, url


def client_for(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="http://testserver")


def test_passwords_are_stored_as_argon2_hashes(app_db) -> None:
    _, url = app_db
    adviser: Adviser = HandoffStore(Database(url)).adviser_by_username("anna")
    assert adviser.password_hash.startswith("$argon2id$") and PASSWORD not in adviser.password_hash


def test_sign_in_sets_a_strict_http_only_session_cookie_and_sign_out_ends_it(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        token = login_form_token(client)
        response = client.post("/console/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token},
                               follow_redirects=False)
        assert response.status_code == 303
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "console_session" in v)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        page = client.get("/console/")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        assert client.get("/console/api/me").json()["adviser"]["name"] == "Anna"
        assert client.post("/console/logout", data={}).status_code == 403  # no CSRF token
        assert client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        assert client.get("/console/api/me").status_code == 401


def test_the_session_is_gone_from_the_database_after_sign_out(app_db) -> None:
    app, url = app_db
    with client_for(app) as client:
        sign_in(client, "anna")
        session_token = client.cookies.get("console_session")
        accounts = Accounts(Database(url))
        assert accounts.session_of(session_token) is not None
        csrf = re.search(r'content="([^"]+)"', client.get("/console/").text.split("csrf-token")[1]).group(1)
        client.post("/console/logout", data={"csrf_token": csrf})
        assert accounts.session_of(session_token) is None


def test_sign_in_form_needs_its_own_csrf_token(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        client.get("/console/login")
        response = client.post("/console/login", data={"username": "anna", "password": PASSWORD})
        assert response.status_code == 403


def test_wrong_passwords_are_refused_and_repeated_failures_slowed_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'throttle.db'}"
    app = make_app(url)  # its own database: the failures count per client address too
    HandoffStore(Database(url)).add_adviser("anna", "Anna", hash_password(PASSWORD), "adviser", ["fi"], "fi")
    with client_for(app) as client:
        for _ in range(3):
            token = login_form_token(client)
            response = client.post("/console/login",
                                   data={"username": "anna", "password": "wrong password!", "csrf_token": token})
            assert response.status_code == 401
            assert "Väärä käyttäjätunnus tai salasana" in response.text
        token = login_form_token(client)
        # Now even the right password is refused until the window has passed.
        response = client.post("/console/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert client.get("/console/api/me").status_code == 401


def test_every_api_route_refuses_unauthenticated_requests(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        for path in API_GETS:
            assert client.get(path).status_code == 401, path
        for path in API_POSTS:
            assert client.post(path, json={}).status_code == 401, path
        assert client.get("/console/", follow_redirects=False).status_code == 303
        assert client.post("/console/logout", data={}).status_code == 401


def test_every_changing_route_refuses_a_request_without_the_csrf_token(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        csrf = sign_in(client, "anna")
        for path in API_POSTS:
            assert client.post(path, json={}).status_code == 403, path
            assert client.post(path, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403, path
        # With the token the request gets through to the route itself.
        assert client.post("/console/api/presence", json={"available": True},
                           headers={"X-CSRF-Token": csrf}).status_code == 200


def test_an_analyst_cannot_read_chats_or_contact_requests(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        token = login_form_token(client)
        assert client.post("/console/login", data={"username": "aino", "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False).status_code == 303
        # The console's front page sends an analyst to the reports.
        assert client.get("/console/", follow_redirects=False).headers["location"] == "/console/reports"
        for path in API_GETS:
            assert client.get(path).status_code == 403, path


def test_an_adviser_cannot_act_on_another_advisers_chat(app_db) -> None:
    app, url = app_db
    database = Database(url)
    store, conversations = HandoffStore(database), ConversationStore(database)
    conversation = conversations.get_or_create("webchat", "other-advisers-chat")
    handoff = store.open_handoff(conversation.id, status="with_adviser", state="with_adviser", reason="button",
                                 topic=None, language="ar", channel="webchat")
    anna = store.adviser_by_username("anna")
    store.change(handoff.id, expect_status=("with_adviser",), adviser_id=anna.id)
    with client_for(app) as client:
        csrf = sign_in(client, "bertil")
        headers = {"X-CSRF-Token": csrf}
        base = f"/console/api/handoffs/{handoff.id}"
        assert client.get(base).status_code == 403
        assert client.post(base + "/messages", json={"text": "hei"}, headers=headers).status_code == 403
        assert client.post(base + "/close", json={"outcome": "other"}, headers=headers).status_code == 403
        assert client.post(base + "/transfer", json={"to": None}, headers=headers).status_code == 403
        assert client.post(base + "/claim", headers=headers).status_code == 409
    assert store.get(handoff.id).adviser_id == anna.id and store.get(handoff.id).status == "with_adviser"


def test_console_pages_carry_a_strict_content_security_policy(app_db) -> None:
    app, _ = app_db
    with client_for(app) as client:
        for response in (client.get("/console/login"), client.get("/console/api/me")):
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "http" not in policy  # no third-party origin
            assert response.headers["X-Frame-Options"] == "DENY"
