from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.paths import PROJECT_ROOT
from bot.store.db import Database, migrate
from scripts.model import model_path
from tests.helpers import CHROMIUM_ARGS, Gateway, Servers, running_gateway, running_servers
from tests.postgres import PostgresUnavailable, create_schema, drop_schema, schema_url


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model of the current inputs; trained here only if `make train` has not run."""
    path = model_path()
    if not path.exists():
        subprocess.run([sys.executable, "-m", "scripts.train"], cwd=PROJECT_ROOT, check=True)
    return path


@pytest.fixture(scope="session")
def servers(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Servers:
    with running_servers(trained_model, tmp_path_factory.mktemp("servers")) as running:
        yield running


@pytest.fixture(scope="session")
def gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    with running_gateway(servers.rasa_url, tmp_path_factory.mktemp("gateway")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    """Debian's Chromium, headless, driven by Playwright: one per test module. Not one per
    session: Playwright's sync API keeps an event loop running in the main thread while it
    is started, and later tests that call asyncio.run() (the Telegram ones) need it gone."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    try:
        schema = create_schema()
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    yield schema_url(schema)
    drop_schema(schema)


# A test that uses one of these fixtures gets the marker, so that `make test-fast`
# (-m "not model and not servers and not browser ...") leaves it out without each file
# having to say so.
MARKERS_BY_FIXTURE = {"trained_model": "model", "servers": "servers", "gateway": "servers", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & MARKERS_BY_FIXTURE.keys():
            item.add_marker(MARKERS_BY_FIXTURE[fixture])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly how many tests did not run (e.g. no PostgreSQL or Redis here)."""
    skipped = len(terminalreporter.stats.get("skipped", []))
    if skipped:
        terminalreporter.write_sep(
            "=", f"{skipped} test(s) skipped: they did not run (reasons in the summary below)", yellow=True, bold=True
        )


@pytest.fixture
def migrated_database(database_url: str) -> Database:
    """A database at the latest schema (SQLite, and PostgreSQL where it runs)."""
    migrate(database_url)
    db = Database(database_url)
    yield db
    db.engine.dispose()
