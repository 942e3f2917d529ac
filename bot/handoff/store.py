"""Handoffs, advisers and contact requests in the database (synchronous; the
gateway calls these through a worker thread).

Every change that two people could make at once (two advisers claiming the same
user, an adviser closing while the user leaves) is a conditional UPDATE on the
handoff's current status and adviser, so exactly one of them wins on SQLite and
on PostgreSQL alike. A conversation has at most one open handoff: a partial
unique index (migration 0004) refuses a second one, so two parallel requests
cannot queue one user twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import HANDOFF_ENDED, Adviser, ContactRequest, Conversation, Handoff, Message, as_utc, utcnow

# Conversation.state while no handoff is going on.
BOT = "bot"
# Handoff statuses that end it; the conversation is back with the assistant.
ENDED = HANDOFF_ENDED
# Handoff statuses that offer a contact request (nobody could chat, or the adviser stopped answering).
OFFERING = ("outside_hours", "no_adviser", "timeout", "adviser_timeout")


@dataclass(frozen=True)
class HandoffView:
    """A handoff with what the console shows of its conversation."""

    id: int
    conversation_id: str
    status: str
    reason: str
    topic: str | None
    language: str
    channel: str
    requested_at: datetime
    claimed_at: datetime | None
    adviser_id: int | None
    outcome_topic: str | None
    told_position: int | None
    preview: str | None = None

    @classmethod
    def of(cls, handoff: Handoff, preview: str | None = None) -> HandoffView:
        return cls(handoff.id, handoff.conversation_id, handoff.status, handoff.reason, handoff.topic,
                   handoff.language, handoff.channel, _aware(handoff.requested_at), _aware(handoff.claimed_at),
                   handoff.adviser_id, handoff.outcome_topic, handoff.told_position, preview)


def _aware(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


class HandoffStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    # --- handoffs -----------------------------------------------------------

    def open_handoff(self, conversation_id: str, *, status: str, state: str, reason: str, topic: str | None,
                     language: str, channel: str) -> HandoffView | None:
        """A new handoff, or None when the conversation has an open one already (also
        one opened at the same moment by a parallel request: the unique index decides)."""
        try:
            with self.db.session() as session:
                handoff = Handoff(conversation_id=conversation_id, status=status, reason=reason, topic=topic,
                                  language=language, channel=channel, requested_at=utcnow())
                session.add(handoff)
                session.flush()
                session.get(Conversation, conversation_id).state = state
                return HandoffView.of(handoff)
        except IntegrityError:
            return None

    def current(self, conversation_id: str) -> HandoffView | None:
        """The conversation's handoff in progress (not ended), if any."""
        with self.db.session() as session:
            handoff = session.execute(
                select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.notin_(ENDED))
                .order_by(Handoff.id.desc()).limit(1)
            ).scalar_one_or_none()
            return HandoffView.of(handoff) if handoff else None

    def get(self, handoff_id: int) -> HandoffView | None:
        with self.db.session() as session:
            handoff = session.get(Handoff, handoff_id)
            return HandoffView.of(handoff) if handoff else None

    def change(self, handoff_id: int, *, expect_status: tuple[str, ...], expect_adviser: int | None | str = "any",
               state: str | None = None, **values: Any) -> bool:
        """Move a handoff on if (and only if) it is still in one of `expect_status`
        (and with `expect_adviser`, when given); sets the conversation's state too."""
        with self.db.session() as session:
            query = update(Handoff).where(Handoff.id == handoff_id, Handoff.status.in_(expect_status))
            if expect_adviser != "any":
                query = query.where(Handoff.adviser_id.is_(None) if expect_adviser is None
                                    else Handoff.adviser_id == expect_adviser)
            result = session.execute(query.values(**values).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return False
            if state is not None:
                conversation_id = session.execute(
                    select(Handoff.conversation_id).where(Handoff.id == handoff_id)
                ).scalar_one()
                session.get(Conversation, conversation_id).state = state
            return True

    def claim(self, handoff_id: int, adviser_id: int, now: datetime) -> bool:
        """Only a waiting, unclaimed handoff can be claimed: one UPDATE decides the race."""
        return self.change(handoff_id, expect_status=("waiting",), expect_adviser=None, status="with_adviser",
                           adviser_id=adviser_id, claimed_at=func.coalesce(Handoff.claimed_at, now),
                           adviser_active_at=now, state="with_adviser")

    def pending_contact(self, handoff_id: int) -> dict | None:
        with self.db.session() as session:
            raw = session.execute(select(Handoff.pending_contact).where(Handoff.id == handoff_id)).scalar_one()
        return json.loads(raw) if raw else None

    def set_state(self, conversation_id: str, state: str) -> None:
        with self.db.session() as session:
            session.get(Conversation, conversation_id).state = state

    def waiting(self) -> list[HandoffView]:
        """The queue, first come first."""
        with self.db.session() as session:
            rows = session.execute(
                select(Handoff).where(Handoff.status == "waiting").order_by(Handoff.requested_at, Handoff.id)
            ).scalars().all()
            return [HandoffView.of(h, self._preview(session, h.conversation_id)) for h in rows]

    def with_adviser(self, adviser_id: int | None = None) -> list[HandoffView]:
        with self.db.session() as session:
            query = select(Handoff).where(Handoff.status == "with_adviser")
            if adviser_id is not None:
                query = query.where(Handoff.adviser_id == adviser_id)
            rows = session.execute(query.order_by(Handoff.claimed_at)).scalars().all()
            return [HandoffView.of(h, self._preview(session, h.conversation_id)) for h in rows]

    def chats_of_inactive_advisers(self) -> list[tuple[HandoffView, str | None]]:
        """Chats with an adviser whose account is disabled (or deleted), with their name."""
        with self.db.session() as session:
            rows = session.execute(
                select(Handoff, Adviser.display_name).outerjoin(Adviser, Adviser.id == Handoff.adviser_id)
                .where(Handoff.status == "with_adviser", or_(Adviser.id.is_(None), Adviser.active.is_(False)))
            ).all()
            return [(HandoffView.of(h), name) for h, name in rows]

    def idle_chats(self, cutoff: datetime) -> list[HandoffView]:
        """Chats with an adviser who has done nothing in them since before `cutoff`
        while the user waits for an answer: the user wrote since and that message is
        older than `cutoff`, or the adviser's console has not been seen since `cutoff`."""
        active_at = func.coalesce(Handoff.adviser_active_at, Handoff.claimed_at, Handoff.requested_at)
        unanswered = exists().where(Message.conversation_id == Handoff.conversation_id, Message.direction == "in",
                                    Message.created_at > active_at, Message.created_at < cutoff)
        console_closed = or_(Adviser.last_seen_at.is_(None), Adviser.last_seen_at < cutoff)
        with self.db.session() as session:
            rows = session.execute(
                select(Handoff).join(Adviser, Adviser.id == Handoff.adviser_id)
                .where(Handoff.status == "with_adviser", active_at < cutoff,
                       or_(unanswered, console_closed))
            ).scalars().all()
            return [HandoffView.of(h) for h in rows]

    def waiting_since(self, cutoff: datetime) -> list[HandoffView]:
        with self.db.session() as session:
            rows = session.execute(
                select(Handoff).where(Handoff.status == "waiting", Handoff.requested_at < cutoff)
            ).scalars().all()
            return [HandoffView.of(h) for h in rows]

    @staticmethod
    def _preview(session: Session, conversation_id: str) -> str | None:
        return session.execute(
            select(Message.text).where(Message.conversation_id == conversation_id, Message.direction == "in")
            .order_by(Message.id.desc()).limit(1)
        ).scalar_one_or_none()

    def median_wait_seconds(self, last: int = 20) -> float | None:
        """The median wait of the last claimed handoffs, for the waiting-time estimate."""
        with self.db.session() as session:
            rows = session.execute(
                select(Handoff.requested_at, Handoff.claimed_at).where(Handoff.claimed_at.isnot(None))
                .order_by(Handoff.claimed_at.desc()).limit(last)
            ).all()
        waits = sorted((_aware(claimed) - _aware(requested)).total_seconds() for requested, claimed in rows)
        return waits[len(waits) // 2] if waits else None

    # --- advisers -----------------------------------------------------------

    def add_adviser(self, username: str, display_name: str, password_hash: str, role: str,
                    languages: list[str], ui_language: str) -> int:
        with self.db.session() as session:
            adviser = Adviser(username=username, display_name=display_name, password_hash=password_hash,
                              role=role, languages=languages, ui_language=ui_language, active=True, available=True)
            session.add(adviser)
            session.flush()
            return adviser.id

    def adviser(self, adviser_id: int) -> Adviser | None:
        with self.db.session() as session:
            return session.get(Adviser, adviser_id)

    def adviser_by_username(self, username: str) -> Adviser | None:
        with self.db.session() as session:
            return session.execute(select(Adviser).where(Adviser.username == username)).scalar_one_or_none()

    def advisers(self) -> list[Adviser]:
        with self.db.session() as session:
            return list(session.execute(select(Adviser).order_by(Adviser.username)).scalars().all())

    def update_adviser(self, adviser_id: int, **values: Any) -> None:
        with self.db.session() as session:
            adviser = session.get(Adviser, adviser_id)
            for key, value in values.items():
                setattr(adviser, key, value)

    def online_advisers(self, seen_within_seconds: float, now: datetime | None = None) -> list[Adviser]:
        """Advisers taking chats whose console was seen recently."""
        cutoff = (now or utcnow()) - timedelta(seconds=seen_within_seconds)
        with self.db.session() as session:
            return list(session.execute(
                select(Adviser).where(Adviser.active.is_(True), Adviser.available.is_(True),
                                      Adviser.role.in_(("adviser", "admin")), Adviser.last_seen_at >= cutoff)
            ).scalars().all())

    # --- contact requests ---------------------------------------------------

    def add_contact_request(self, conversation_id: str, handoff_id: int, *, channel: str, language: str,
                            contact_type: str, contact: str, topic: str | None) -> int:
        with self.db.session() as session:
            request = ContactRequest(conversation_id=conversation_id, handoff_id=handoff_id, channel=channel,
                                     language=language, contact_type=contact_type, contact=contact, topic=topic)
            session.add(request)
            session.flush()
            return request.id

    def contact_requests(self, include_handled: bool = True) -> list[ContactRequest]:
        with self.db.session() as session:
            query = select(ContactRequest)
            if not include_handled:
                query = query.where(ContactRequest.handled_at.is_(None))
            query = query.order_by(ContactRequest.handled_at.isnot(None), ContactRequest.created_at)
            return list(session.execute(query).scalars().all())

    def contact_request(self, request_id: int) -> ContactRequest | None:
        with self.db.session() as session:
            return session.get(ContactRequest, request_id)

    def mark_contact_handled(self, request_id: int, adviser_id: int) -> bool:
        with self.db.session() as session:
            result = session.execute(
                update(ContactRequest).where(ContactRequest.id == request_id, ContactRequest.handled_at.is_(None))
                .values(handled_at=utcnow(), handled_by=adviser_id).execution_options(synchronize_session=False)
            )
            return result.rowcount == 1
