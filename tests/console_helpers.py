"""Console accounts and sign-in for tests: accounts are created with the real
CLI (`python -m bot adviser add --password-stdin`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx

from bot.paths import PROJECT_ROOT

PASSWORD = "correct horse battery"


def add_adviser(database_url: str, username: str, name: str, languages: str, role: str = "adviser",
                ui: str = "en") -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", "adviser", "add", username, "--name", name, "--languages", languages,
         "--role", role, "--ui", ui, "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, capture_output=True,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def login_form_token(client: httpx.Client) -> str:
    page = client.get("/console/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Signs `client` in; returns the session's CSRF token."""
    token = login_form_token(client)
    response = client.post("/console/login", data={"username": username, "password": password,
                                                   "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/console/")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
