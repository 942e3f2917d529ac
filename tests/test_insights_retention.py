"""Retention (bot/insights/retention.py): exactly the rows older than their period are
deleted, messages and handoffs with their conversations, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.insights.log import InsightsLog
from bot.insights.retention import KINDS, load_retention, purge, validate
from bot.paths import PROJECT_ROOT
from bot.store.db import Database
from bot.store.models import (
    Adviser,
    AdviserSession,
    ContactRequest,
    Conversation,
    Feedback,
    Handoff,
    Message,
    SignInFailure,
    UnresolvedQuestion,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
POLICY = {"conversations": 90, "unresolved": 365, "contact_requests": 30, "feedback": 365,
          "sign_in_failures": 30, "adviser_sessions": 1}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def seed(database: Database) -> None:
    conversations = {
        # id: (created, updated, message times)
        "old": (ago(120), ago(100), [ago(120), ago(100)]),
        "old_but_recent_message": (ago(120), ago(100), [ago(120), ago(10)]),
        "old_but_updated": (ago(120), ago(5), [ago(120)]),
        "new": (ago(3), ago(1), [ago(3), ago(1)]),
        "old_empty": (ago(91), ago(91), []),
    }
    with database.session() as session:
        adviser = Adviser(username="anna", display_name="Anna", password_hash="x", role="adviser", languages=["fi"])
        session.add(adviser)
        for cid, (created, updated, times) in conversations.items():
            session.add(Conversation(id=cid, channel="webchat", external_id=cid, state="bot", offered_payloads=[],
                                     created_at=created, updated_at=updated))
            session.flush()
            for at in times:
                session.add(Message(conversation_id=cid, direction="in", sender="user", text="hei", status="answered",
                                    created_at=at))
            # Contact details typed but never confirmed: cleared after the contact-request period.
            pending = '{"kind": "phone", "value": "+358401234567"}' if cid in ("old_but_updated", "new") else None
            session.add(Handoff(conversation_id=cid, status="closed", reason="button", language="fi",
                                channel="webchat", requested_at=created, pending_contact=pending))
        session.flush()
        for label, cid, days in [("old", "new", 40), ("new", "new", 10), ("orphaned_new", "old", 10),
                                 ("boundary_kept", "new", 29.9)]:
            session.add(ContactRequest(conversation_id=cid, channel="webchat", language="fi", contact_type="phone",
                                       contact="+358401234567", topic=label, created_at=ago(days)))
        for username, days in [("old", 40), ("new", 1)]:
            session.add(SignInFailure(username=username, client="127.0.0.1", created_at=ago(days)))
        for token, expires in [("expired_long_ago", ago(3)), ("expired_recently", ago(0.5)), ("valid", ago(-1))]:
            session.add(AdviserSession(token_hash=token, adviser_id=adviser.id, csrf_token="c", created_at=ago(10),
                                       expires_at=expires))
    log = InsightsLog(database, "retention-secret", fallback_threshold=0.2)
    for text, days in [("old question", 400), ("new question", 300)]:
        log.record("old", channel="webchat", reason="nlu_fallback", language="fi", text=text, at=ago(days))
    for value, days in [(1, 400), (5, 100)]:
        log.record_feedback("old", channel="webchat", language="fi", kind="rating", value=value, at=ago(days))


def remaining(database: Database) -> dict[str, set]:
    with database.session() as session:
        def values(column) -> set:
            return set(session.execute(select(column)).scalars())

        return {
            "conversations": values(Conversation.id),
            "messages": values(Message.conversation_id),
            "handoffs": values(Handoff.conversation_id),
            "pending_contacts": set(session.execute(select(Handoff.conversation_id).where(
                Handoff.pending_contact.is_not(None))).scalars()),
            "contact_requests": {(c.topic, c.conversation_id)
                                 for c in session.execute(select(ContactRequest)).scalars()},
            "unresolved": values(UnresolvedQuestion.text),
            "feedback": values(Feedback.value),
            "sign_in_failures": values(SignInFailure.username),
            "adviser_sessions": values(AdviserSession.token_hash),
        }


@pytest.fixture
def database(migrated_database: Database) -> Database:
    seed(migrated_database)
    return migrated_database


def test_purge_deletes_exactly_the_old_rows(database: Database) -> None:
    with database.session() as session:
        messages_of_old = len(session.execute(select(Message).where(
            Message.conversation_id.in_(["old", "old_empty"]))).scalars().all())
    deleted = purge(database, POLICY, NOW)
    assert deleted == {"messages": messages_of_old, "conversations": 2, "unresolved": 1, "contact_requests": 1,
                       "feedback": 1, "sign_in_failures": 1, "adviser_sessions": 1, "pending_contacts": 1}
    left = remaining(database)
    assert left["conversations"] == {"old_but_recent_message", "old_but_updated", "new"}
    assert left["messages"] == left["conversations"]
    assert left["handoffs"] == left["conversations"]
    assert left["pending_contacts"] == {"new"}
    assert left["contact_requests"] == {("new", "new"), ("orphaned_new", None), ("boundary_kept", "new")}
    assert left["unresolved"] == {"new question"}
    assert left["feedback"] == {5}
    assert left["sign_in_failures"] == {"new"}
    assert left["adviser_sessions"] == {"expired_recently", "valid"}
    # nothing more the second time
    assert set(purge(database, POLICY, NOW).values()) == {0}


def test_dry_run_counts_without_deleting(database: Database) -> None:
    before = remaining(database)
    counts = purge(database, POLICY, NOW, dry_run=True)
    assert counts["conversations"] == 2 and counts["unresolved"] == 1
    assert remaining(database) == before


def test_kinds_without_a_period_are_kept(database: Database) -> None:
    deleted = purge(database, {**POLICY, "unresolved": None, "feedback": None}, NOW)
    assert "unresolved" not in deleted and "feedback" not in deleted
    left = remaining(database)
    assert left["unresolved"] == {"old question", "new question"} and left["feedback"] == {1, 5}


def test_the_retention_file(tmp_path) -> None:
    policy = load_retention()
    assert set(policy) == set(KINDS)
    assert (policy["conversations"], policy["unresolved"], policy["contact_requests"], policy["feedback"]) == (
        90, 365, 30, 365)
    # Contact requests are kept exactly as long as users are told (config/handoff.yml).
    handoff = tmp_path / "handoff.yml"
    handoff.write_text("weekly: {}\npublic_holidays: null\ncontact_request_days: 14\n", encoding="utf-8")
    assert load_retention(handoff_config=handoff)["contact_requests"] == 14
    contradicting = tmp_path / "retention.yml"
    contradicting.write_text("conversations: 90\ncontact_requests: 60\n", encoding="utf-8")
    with pytest.raises(ValueError, match="users are told"):
        load_retention(contradicting, handoff)
    for bad in ({"messages": 3}, {"conversations": -1}, {"conversations": "90"}, {"feedback": True}):
        with pytest.raises(ValueError):
            validate(bad)


def test_retention_command(database: Database, database_url: str, tmp_path) -> None:
    config = tmp_path / "retention.yml"
    config.write_text("conversations: 90\nunresolved: 365\n", encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "bot", "retention", "--config", str(config)]
    dry = subprocess.run([*command, "--dry-run"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would delete" in dry.stdout
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # The seeded rows are months older than today: every old conversation is gone.
    assert "deleted" in result.stdout
    assert "old" not in remaining(database)["conversations"]
