"""A new password or a disabled account ends the account's sessions: over HTTP against a
real gateway, with the real command line (`python -m bot adviser password|disable`)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import column, func, select, table

from bot.paths import PROJECT_ROOT
from bot.store.db import Database
from bot.store.models import Adviser, AdviserSession
from tests.console_helpers import PASSWORD
from tests.helpers import Gateway
from tests.security.signin import add_account, attempt, browser, csrf_of

NEW_PASSWORD = "a brand new passphrase"
# Read as a plain table: the file then runs (and fails) on a schema without it, too.
SIGN_IN_DEVICES = table("sign_in_devices", column("adviser_id"))


def adviser_command(gateway: Gateway, *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "bot", "adviser", *args], input=stdin, text=True, check=True,
                          capture_output=True, cwd=PROJECT_ROOT,
                          env={**os.environ, "DATABASE_URL": gateway.database_url, "PYTHONPATH": str(PROJECT_ROOT)})
    return done.stdout


def rows(gateway: Gateway, model: object, username: str) -> int:
    """How many rows of `model` (a table with adviser_id) belong to `username`."""
    adviser_id = model.c.adviser_id if hasattr(model, "c") else model.adviser_id
    with Database(gateway.database_url).session() as session:
        return session.execute(select(func.count()).select_from(model).join(Adviser, Adviser.id == adviser_id)
                               .where(Adviser.username == username)).scalar_one()


def test_a_new_password_from_the_command_line_ends_every_session(signin_gateway: Gateway) -> None:
    add_account(signin_gateway, "ilse6")
    with browser(signin_gateway, "203.0.113.60") as office, browser(signin_gateway, "203.0.113.61") as home:
        assert attempt(office, "ilse6") == 303 and attempt(home, "ilse6") == 303
        assert office.get("/console/api/me").status_code == 200 and home.get("/console/api/me").status_code == 200
        output = adviser_command(signin_gateway, "password", "ilse6", "--password-stdin", stdin=NEW_PASSWORD + "\n")
        assert office.get("/console/api/me").status_code == 401
        assert home.get("/console/api/me").status_code == 401
        assert rows(signin_gateway, AdviserSession, "ilse6") == 0
        assert "2 session(s) ended" in output
        assert attempt(office, "ilse6") == 401  # the old password
        assert attempt(office, "ilse6", NEW_PASSWORD) == 303


def test_disabling_an_account_ends_its_sessions_and_forgets_its_devices(signin_gateway: Gateway) -> None:
    add_account(signin_gateway, "jussi7")
    with browser(signin_gateway, "203.0.113.70") as client:
        assert attempt(client, "jussi7") == 303
        assert rows(signin_gateway, AdviserSession, "jussi7") == 1
        adviser_command(signin_gateway, "disable", "jussi7")
        assert client.get("/console/api/me").status_code == 401
        assert rows(signin_gateway, AdviserSession, "jussi7") == 0
        assert rows(signin_gateway, SIGN_IN_DEVICES, "jussi7") == 0
        assert attempt(client, "jussi7") == 401


def test_a_password_change_in_the_console_keeps_only_the_current_session(signin_gateway: Gateway) -> None:
    add_account(signin_gateway, "kaisa8")
    with browser(signin_gateway, "203.0.113.80") as here, browser(signin_gateway, "203.0.113.81") as there:
        assert attempt(here, "kaisa8") == 303 and attempt(there, "kaisa8") == 303
        csrf = csrf_of(here)
        change = "/console/api/password"
        body = {"current": PASSWORD, "new": NEW_PASSWORD}
        assert here.post(change, json=body).status_code == 403  # no CSRF token
        assert here.post(change, json={"current": "wrong password", "new": NEW_PASSWORD},
                         headers={"X-CSRF-Token": csrf}).json()["error"] == "wrong_password"
        assert here.post(change, json={"current": PASSWORD, "new": "short"},
                         headers={"X-CSRF-Token": csrf}).json()["error"] == "password_too_short"
        assert there.get("/console/api/me").status_code == 200  # nothing changed yet
        assert here.post(change, json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert here.get("/console/api/me").status_code == 200
        assert there.get("/console/api/me").status_code == 401
        assert rows(signin_gateway, AdviserSession, "kaisa8") == 1
    with browser(signin_gateway, "203.0.113.82") as other:
        assert attempt(other, "kaisa8") == 401
        assert attempt(other, "kaisa8", NEW_PASSWORD) == 303
