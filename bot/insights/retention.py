"""Retention: personal data is deleted after the periods of config/retention.yml.

`purge(database, days_by_kind, now)` deletes, for each kind with a number of days,
the rows older than that:

- conversations: no activity (updated_at and every message) within the period;
  their messages and handoffs go with them (ON DELETE CASCADE), contact requests
  keep their own period (their conversation link is set to NULL);
- unresolved: unresolved_questions by created_at;
- contact_requests: by created_at, handled or not, after the days of config/handoff.yml
  `contact_request_days` (what users are told when they give consent); contact details
  typed but never confirmed (handoffs.pending_contact) are cleared after the same days;
- feedback: by created_at;
- sign_in_failures: by created_at;
- adviser_sessions: by expires_at (sessions that expired that long ago).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from sqlalchemy import delete, exists, func, select, update

from bot.handoff.config import load_handoff_config
from bot.paths import CONFIG_DIR
from bot.store.db import Database
from bot.store.models import (
    AdviserSession,
    ContactRequest,
    Conversation,
    Feedback,
    Handoff,
    Message,
    SignInFailure,
    UnresolvedQuestion,
)

KINDS = ("conversations", "unresolved", "contact_requests", "feedback", "sign_in_failures", "adviser_sessions")
RETENTION_FILE = CONFIG_DIR / "retention.yml"


def load_retention(path: Path = RETENTION_FILE, handoff_config: Path | None = None) -> dict[str, int | None]:
    """{kind: days or None} from config/retention.yml; unknown kinds are an error. Contact
    requests are kept as long as users are told when they give consent: config/handoff.yml
    `contact_request_days` (retention.yml may repeat it, but not contradict it)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    told = load_handoff_config(handoff_config).contact_request_days
    if raw.get("contact_requests", told) != told:
        raise ValueError(f"contact_requests: {raw['contact_requests']} days in {path}, but users are told "
                         f"{told} days (contact_request_days in config/handoff.yml)")
    raw["contact_requests"] = told
    return validate(raw)


def validate(days_by_kind: dict) -> dict[str, int | None]:
    unknown = set(days_by_kind) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown retention kinds: {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    checked: dict[str, int | None] = {}
    for kind, days in days_by_kind.items():
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
            raise ValueError(f"retention of {kind} must be a number of days (0 or more) or null")
        checked[kind] = days
    return checked


def _old_conversations(before: datetime):
    """The condition of conversations without activity since `before`."""
    recent_message = exists().where(Message.conversation_id == Conversation.id, Message.created_at >= before)
    return (Conversation.updated_at < before) & (Conversation.created_at < before) & ~recent_message


def _statements(days_by_kind: dict[str, int | None], now: datetime) -> list[tuple[str, object]]:
    def cutoff(kind: str) -> datetime | None:
        days = days_by_kind.get(kind)
        return None if days is None else now - timedelta(days=days)

    statements: list[tuple[str, object]] = []
    if (before := cutoff("conversations")) is not None:
        old = _old_conversations(before)
        # Counted first: the messages go with their conversations (ON DELETE CASCADE).
        statements.append(("messages", select(func.count()).select_from(Message).where(
            Message.conversation_id.in_(select(Conversation.id).where(old)))))
        statements.append(("conversations", delete(Conversation).where(old)))
    simple = [
        ("unresolved", UnresolvedQuestion, UnresolvedQuestion.created_at),
        ("contact_requests", ContactRequest, ContactRequest.created_at),
        ("feedback", Feedback, Feedback.created_at),
        ("sign_in_failures", SignInFailure, SignInFailure.created_at),
        ("adviser_sessions", AdviserSession, AdviserSession.expires_at),
    ]
    for kind, model, column in simple:
        if (before := cutoff(kind)) is not None:
            statements.append((kind, delete(model).where(column < before)))
    if (before := cutoff("contact_requests")) is not None:
        statements.append(("pending_contacts", update(Handoff).where(
            Handoff.pending_contact.is_not(None), Handoff.requested_at < before).values(pending_contact=None)))
    return statements


def purge(database: Database, days_by_kind: dict[str, int | None], now: datetime | None = None,
          *, dry_run: bool = False) -> dict[str, int]:
    """Delete what is older than its retention period; {kind: rows deleted}, with
    `messages` for the messages that went with the conversations and `pending_contacts`
    for the unconfirmed contact details cleared from handoffs. With `dry_run`, what
    would be deleted: the same statements in a transaction that is rolled back."""
    days_by_kind = validate(days_by_kind)
    now = now or datetime.now(timezone.utc)
    deleted: dict[str, int] = {}
    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            for kind, statement in _statements(days_by_kind, now):
                result = connection.execute(statement)
                deleted[kind] = result.scalar_one() if kind == "messages" else result.rowcount
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return deleted
