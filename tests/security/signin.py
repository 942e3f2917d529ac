"""Signing in to the console over HTTP as a browser does (the login form's CSRF
cookie and field), optionally from a client address named by X-Forwarded-For."""

from __future__ import annotations

import re

import httpx

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database
from tests.console_helpers import PASSWORD
from tests.helpers import Gateway

WRONG = "not the password"


def browser(gateway: Gateway, address: str | None = None) -> httpx.Client:
    """A browser (its own cookies) whose requests reach the gateway through the trusted
    proxy as coming from `address`."""
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.Client(base_url=gateway.url, headers=headers, timeout=60)


def add_account(gateway: Gateway, username: str, role: str = "adviser") -> int:
    store = HandoffStore(Database(gateway.database_url))
    return store.add_adviser(username, username.title(), hash_password(PASSWORD), role, ["fi", "en"], "en")


def login_token(client: httpx.Client) -> str:
    page = client.get("/console/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def attempt(client: httpx.Client, username: str, password: str = PASSWORD, token: str | None = None) -> int:
    """One sign-in: 303 (signed in), 401 (wrong password) or 429 (throttled)."""
    token = token or login_token(client)
    response = client.post("/console/login", data={"username": username, "password": password, "csrf_token": token},
                           follow_redirects=False)
    return response.status_code


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/console/")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def sign_out(client: httpx.Client) -> None:
    client.post("/console/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
