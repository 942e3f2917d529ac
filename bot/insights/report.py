"""The numbers of the work package 6 report, as plain data (render.py draws them; the
adviser console can show the same views from `build_report(...).as_dict()`).

Only aggregates and masked examples: no conversation ids, no user ids, no raw text.

Periods are whole local days (Europe/Helsinki by default): `since` and `until` are
both included. Weeks are ISO weeks of the local date ("2026-W03").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select

from bot.insights.clusters import Cluster, discover_topics
from bot.insights.log import (
    AMBIGUOUS,
    ANSWER,
    NLU_FALLBACK,
    OUT_OF_SCOPE,
    RATING,
    REASONS,
    THUMBS_UP,
    UNSUPPORTED_LANGUAGE,
)
from bot.insights.period import DEFAULT_TIMEZONE
from bot.privacy.masking import mask
from bot.store.db import Database
from bot.store.models import ContactRequest, Conversation, Feedback, Handoff, Message, UnresolvedQuestion

UNKNOWN = "unknown"
NO_TOPIC = "(none)"
EXAMPLES_PER_REASON = 3


def as_utc(moment: datetime | None) -> datetime | None:
    """Stored times are UTC; SQLite gives them back without a zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def period_bounds(since: date, until: date, zone: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """[start of `since`, start of the day after `until`) in local time, as UTC datetimes."""
    if until < since:
        raise ValueError("until is before since")
    tz = ZoneInfo(zone)
    start = datetime.combine(since, time.min, tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    return start, end


def iso_week(moment: datetime, zone: str = DEFAULT_TIMEZONE) -> str:
    year, week, _ = as_utc(moment).astimezone(ZoneInfo(zone)).isocalendar()
    return f"{year}-W{week:02d}"


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None without values."""
    return float(np.percentile(values, q)) if values else None


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class VolumeRow:
    week: str
    language: str
    channel: str
    messages: int
    conversations: int


@dataclass
class UnderstandingRow:
    """Per language: user questions (button presses left out) and how many the assistant
    could not resolve. `understood` = questions minus the four turn reasons."""

    language: str
    questions: int
    nlu_fallback: int
    ambiguous: int
    out_of_scope: int
    unsupported_language: int
    understood: int
    understood_share: float | None


@dataclass
class ReasonRow:
    reason: str
    count: int
    share: float | None
    conversations: int
    # The latest few masked questions with this reason.
    examples: list[str] = field(default_factory=list)


@dataclass
class HandoffStats:
    requests: int = 0
    # user_request, button, fallback_offer, interpreter
    by_trigger: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    claimed: int = 0
    # Seconds from the request to an adviser taking it (claimed requests only).
    wait_median_seconds: float | None = None
    wait_p90_seconds: float | None = None
    # Topics advisers chose when closing: [(topic, count)], most frequent first.
    outcomes: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ContactStats:
    requests: int = 0
    handled: int = 0
    handled_share: float | None = None
    by_language: dict[str, int] = field(default_factory=dict)


@dataclass
class LanguageDemandRow:
    """Messages in a language the assistant does not speak."""

    language: str
    messages: int
    conversations: int


@dataclass
class TopicFeedbackRow:
    topic: str
    up: int
    down: int
    positive_share: float | None


@dataclass
class RatingStats:
    count: int = 0
    mean: float | None = None
    distribution: dict[int, int] = field(default_factory=lambda: {score: 0 for score in range(1, 6)})
    by_language: dict[str, float] = field(default_factory=dict)


@dataclass
class Report:
    since: date
    until: date
    timezone: str
    generated_at: datetime
    volumes: list[VolumeRow]
    understanding: list[UnderstandingRow]
    reasons: list[ReasonRow]
    handoffs: HandoffStats
    contacts: ContactStats
    unsupported_languages: list[LanguageDemandRow]
    feedback_topics: list[TopicFeedbackRow]
    ratings: RatingStats
    clusters: dict[str, list[Cluster]] = field(default_factory=dict)

    @property
    def total_messages(self) -> int:
        return sum(row.messages for row in self.volumes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates and times as ISO strings)."""
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        data["generated_at"] = self.generated_at.isoformat()
        data["handoffs"]["outcomes"] = [list(pair) for pair in self.handoffs.outcomes]
        return data


def _volumes(session, start: datetime, end: datetime, zone: str) -> tuple[list[VolumeRow], Counter]:
    """Weekly user messages by language and channel; also the questions per language."""
    query = (
        select(Message.created_at, Message.language, Message.text, Message.conversation_id,
               Conversation.channel, Conversation.language)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.direction == "in", Message.sender == "user",
               Message.created_at >= start, Message.created_at < end)
    )
    messages: Counter = Counter()
    conversations: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    questions: Counter = Counter()
    for created_at, language, text, conversation_id, channel, conversation_language in session.execute(query):
        language = language or conversation_language or UNKNOWN
        key = (iso_week(created_at, zone), language, channel)
        messages[key] += 1
        conversations[key].add(conversation_id)
        if not (text or "").startswith("/"):
            questions[language] += 1
    rows = [VolumeRow(week, language, channel, count, len(conversations[(week, language, channel)]))
            for (week, language, channel), count in sorted(messages.items())]
    return rows, questions


def _unresolved(session, start: datetime, end: datetime, questions: Counter) -> tuple[
        list[UnderstandingRow], list[ReasonRow], list[LanguageDemandRow]]:
    query = (
        select(UnresolvedQuestion.reason, UnresolvedQuestion.language, UnresolvedQuestion.detected_language,
               UnresolvedQuestion.conversation_key, UnresolvedQuestion.text)
        .where(UnresolvedQuestion.created_at >= start, UnresolvedQuestion.created_at < end)
        .order_by(UnresolvedQuestion.created_at.desc(), UnresolvedQuestion.id.desc())
    )
    per_language: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    reason_conversations: dict[str, set[str]] = defaultdict(set)
    examples: dict[str, list[str]] = defaultdict(list)
    demand: Counter = Counter()
    demand_conversations: dict[str, set[str]] = defaultdict(set)
    for reason, language, detected, key, text in session.execute(query):
        per_language[language or UNKNOWN][reason] += 1
        reasons[reason] += 1
        reason_conversations[reason].add(key)
        if text and len(examples[reason]) < EXAMPLES_PER_REASON:
            masked = mask(text)
            if masked not in examples[reason]:
                examples[reason].append(masked)
        if reason == UNSUPPORTED_LANGUAGE:
            demand[detected or UNKNOWN] += 1
            demand_conversations[detected or UNKNOWN].add(key)

    understanding = []
    for language in sorted(set(questions) | set(per_language)):
        counts = per_language[language]
        asked = questions[language]
        turn = [counts[r] for r in (NLU_FALLBACK, AMBIGUOUS, OUT_OF_SCOPE, UNSUPPORTED_LANGUAGE)]
        understood = max(asked - sum(turn), 0)
        understanding.append(UnderstandingRow(language, asked, *turn, understood, share(understood, asked)))
    total = sum(reasons.values())
    reason_rows = [
        ReasonRow(reason, count, share(count, total), len(reason_conversations[reason]), examples[reason])
        for reason, count in sorted(reasons.items(), key=lambda pair: (-pair[1], REASONS.index(pair[0])
                                                                       if pair[0] in REASONS else 99))
    ]
    demand_rows = [LanguageDemandRow(language, count, len(demand_conversations[language]))
                   for language, count in sorted(demand.items(), key=lambda pair: (-pair[1], pair[0]))]
    return understanding, reason_rows, demand_rows


def _handoffs(session, start: datetime, end: datetime) -> HandoffStats:
    rows = session.execute(
        select(Handoff.reason, Handoff.language, Handoff.status, Handoff.requested_at, Handoff.claimed_at,
               Handoff.outcome_topic)
        .where(Handoff.requested_at >= start, Handoff.requested_at < end)
    ).all()
    waits = [
        (as_utc(claimed) - as_utc(requested)).total_seconds()
        for _, _, _, requested, claimed, _ in rows
        if claimed is not None
    ]
    outcomes = Counter(topic for *_, topic in rows if topic)
    return HandoffStats(
        requests=len(rows),
        by_trigger=dict(sorted(Counter(r[0] for r in rows).items())),
        by_language=dict(sorted(Counter(r[1] for r in rows).items())),
        by_status=dict(sorted(Counter(r[2] for r in rows).items())),
        claimed=len(waits),
        wait_median_seconds=percentile(waits, 50),
        wait_p90_seconds=percentile(waits, 90),
        outcomes=sorted(outcomes.items(), key=lambda pair: (-pair[1], pair[0])),
    )


def _contacts(session, start: datetime, end: datetime) -> ContactStats:
    rows = session.execute(
        select(ContactRequest.language, ContactRequest.handled_at)
        .where(ContactRequest.created_at >= start, ContactRequest.created_at < end)
    ).all()
    handled = sum(1 for _, handled_at in rows if handled_at is not None)
    return ContactStats(len(rows), handled, share(handled, len(rows)),
                        dict(sorted(Counter(language for language, _ in rows).items())))


def _feedback(session, start: datetime, end: datetime) -> tuple[list[TopicFeedbackRow], RatingStats]:
    rows = session.execute(
        select(Feedback.kind, Feedback.value, Feedback.topic, Feedback.language)
        .where(Feedback.created_at >= start, Feedback.created_at < end)
    ).all()
    thumbs: dict[str, Counter] = defaultdict(Counter)
    ratings = RatingStats()
    scores_by_language: dict[str, list[int]] = defaultdict(list)
    for kind, value, topic, language in rows:
        if kind == ANSWER:
            thumbs[topic or NO_TOPIC]["up" if value == THUMBS_UP else "down"] += 1
        elif kind == RATING:
            ratings.distribution[value] = ratings.distribution.get(value, 0) + 1
            scores_by_language[language or UNKNOWN].append(value)
    scores = [s for values in scores_by_language.values() for s in values]
    ratings.count = len(scores)
    ratings.mean = round(sum(scores) / len(scores), 3) if scores else None
    ratings.by_language = {language: round(sum(v) / len(v), 3) for language, v in sorted(scores_by_language.items())}
    topics = [
        TopicFeedbackRow(topic, c["up"], c["down"], share(c["up"], c["up"] + c["down"]))
        for topic, c in sorted(thumbs.items(), key=lambda pair: (-(pair[1]["up"] + pair[1]["down"]), pair[0]))
    ]
    return topics, ratings


def build_report(
    database: Database,
    since: date,
    until: date,
    *,
    zone: str = DEFAULT_TIMEZONE,
    clusters: bool = True,
    now: datetime | None = None,
) -> Report:
    """Every number of the report for the local days since..until (both included)."""
    start, end = period_bounds(since, until, zone)
    with database.session() as session:
        volumes, questions = _volumes(session, start, end, zone)
        understanding, reasons, demand = _unresolved(session, start, end, questions)
        handoffs = _handoffs(session, start, end)
        contacts = _contacts(session, start, end)
        feedback_topics, ratings = _feedback(session, start, end)
    return Report(
        since=since,
        until=until,
        timezone=zone,
        generated_at=now or datetime.now(timezone.utc),
        volumes=volumes,
        understanding=understanding,
        reasons=reasons,
        handoffs=handoffs,
        contacts=contacts,
        unsupported_languages=demand,
        feedback_topics=feedback_topics,
        ratings=ratings,
        clusters=discover_topics(database, start, end) if clusters else {},
    )
