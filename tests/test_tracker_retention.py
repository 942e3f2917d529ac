"""Retention of Rasa's SQL tracker store (bot/insights/tracker_retention.py): the events of
conversations idle for longer than config/retention.yml's `conversations` period are
deleted, on SQLite and PostgreSQL, by `python -m bot retention` and by the gateway's
daily job. The stores are written by Rasa's own SQLTrackerStore, in this process, with
timestamps in the past; tests/security/test_internal_surfaces.py and tests/test_scaling.py
purge stores written by real Rasa servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.insights.tracker_retention import purge_tracker_store
from bot.paths import PROJECT_ROOT
from bot.store.db import migrate
from tests.helpers import free_port, running_gateway

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
POLICY = {"conversations": 90}
# sender: days ago of each user message
CONVERSATIONS = {"old": [120, 100], "old_but_recent": [120, 10], "new": [3, 1], "boundary_kept": [89.9]}


def ago(days: float, now: datetime = NOW) -> float:
    return (now - timedelta(days=days)).timestamp()


def store_for(url: str) -> SQLTrackerStore:
    parsed = create_engine(url).url
    if parsed.get_backend_name() == "sqlite":
        return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=parsed.database)
    return SQLTrackerStore(Domain.empty(), dialect="postgresql", host=parsed.host, port=parsed.port,
                           db=parsed.database, username=parsed.username)


def write(url: str, conversations: dict[str, list[float]], now: datetime = NOW) -> None:
    """Each conversation as Rasa writes it: a session start, then user messages."""
    store = store_for(url)
    for sender, days in conversations.items():
        events = [ActionExecuted("action_session_start", timestamp=ago(days[0], now) - 1),
                  SessionStarted(timestamp=ago(days[0], now) - 1)]
        for day in days:
            events += [ActionExecuted("action_listen", timestamp=ago(day, now) - 0.5),
                       UserUttered(f"{sender}: call me on 040 1234567", timestamp=ago(day, now))]
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    store.engine.dispose()


def senders(url: str) -> dict[str, int]:
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return dict(rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty tracker store database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
        return
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})")
    name = f"rasa_retention_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_purge_deletes_exactly_the_idle_conversations(tracker_store_url: str) -> None:
    write(tracker_store_url, CONVERSATIONS)
    before = senders(tracker_store_url)
    assert purge_tracker_store(tracker_store_url, POLICY, NOW, dry_run=True) == {
        "tracker_conversations": 1, "tracker_events": before["old"]}
    assert senders(tracker_store_url) == before
    assert purge_tracker_store(tracker_store_url, POLICY, NOW) == {
        "tracker_conversations": 1, "tracker_events": before["old"]}
    assert senders(tracker_store_url) == {k: v for k, v in before.items() if k != "old"}
    assert purge_tracker_store(tracker_store_url, POLICY, NOW) == {"tracker_conversations": 0, "tracker_events": 0}
    # A shorter period takes the older ones too.
    purge_tracker_store(tracker_store_url, {"conversations": 5}, NOW)
    assert set(senders(tracker_store_url)) == {"new"}


def test_nothing_to_purge_without_a_store_or_a_period(tmp_path: Path) -> None:
    missing = tmp_path / "never_written.db"
    assert purge_tracker_store(f"sqlite:///{missing}", POLICY, NOW) == {}
    assert not missing.exists(), "looking must not create Rasa's database"
    assert purge_tracker_store(None, POLICY, NOW) == {}
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()
    assert purge_tracker_store(f"sqlite:///{empty}", POLICY, NOW) == {}  # no events table yet
    written = f"sqlite:///{tmp_path / 'written.db'}"
    write(written, CONVERSATIONS)
    assert purge_tracker_store(written, {"conversations": None}, NOW) == {}
    assert purge_tracker_store(written, {}, NOW) == {}
    assert "old" in senders(written)


def test_retention_command_purges_the_tracker_store(tracker_store_url: str, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    write(tracker_store_url, CONVERSATIONS, now)
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(database_url)
    env = {**os.environ, "DATABASE_URL": database_url, "TRACKER_STORE_URL": tracker_store_url,
           "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "bot", "retention"]
    dry = subprocess.run([*command, "--dry-run"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 tracker_conversations" in dry.stdout, dry.stdout
    assert "old" in senders(tracker_store_url)
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "deleted 1 tracker_conversations" in result.stdout, result.stdout
    assert set(senders(tracker_store_url)) == {"old_but_recent", "new", "boundary_kept"}


def test_the_gateway_purges_the_tracker_store_at_start_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    write(url, CONVERSATIONS, datetime.now(timezone.utc))
    env = {"TRACKER_STORE_URL": url, "ACTIONS_URL": f"http://127.0.0.1:{free_port()}"}
    with running_gateway(f"http://127.0.0.1:{free_port()}", tmp_path, env):
        deadline = time.monotonic() + 60
        while "old" in senders(url) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert set(senders(url)) == {"old_but_recent", "new", "boundary_kept"}
    assert "tracker_conversations" in (tmp_path / "gateway.log").read_text()
