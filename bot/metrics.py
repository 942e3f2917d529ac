"""Prometheus metrics of the gateway, served at `/metrics`.

Call these from the router and the handoff code (all are cheap, synchronous,
thread-safe and never raise on unusual label values):

    observe_turn(channel: str, language: str | None, seconds: float, fallback: bool = False) -> None
        One user message handled by the gateway (answered by Rasa, refused
        locally, or "assistant unavailable"): counts it in
        `assistant_messages_total{channel, language}`, observes its latency in
        `assistant_turn_seconds{channel}` (from receiving the message to having
        the replies ready to send), and when `fallback` is true (the assistant
        did not understand: utter_default / action_fallback) counts it in
        `assistant_fallbacks_total{channel, language}`.

    count_unavailable(channel: str) -> None
        Rasa did not answer in time: `assistant_unavailable_total{channel}`.

    count_failed_turn(channel: str) -> None
        A turn raised (database, insights, ...): `assistant_failed_turns_total{channel}`.

    count_refused(channel: str, reason: str) -> None
        A message refused at the boundary: `assistant_refused_messages_total{channel, reason}`.

    count_recovered(count: int) -> None
        Messages a crash left `received`, marked failed at start-up or by the sweep:
        `assistant_recovered_messages_total`.

    set_lease_held(lease: str, held: bool) -> None
        Whether this gateway holds a lease (bot/shared/lease.py: `timers`,
        `telegram_poller`): `assistant_lease_held{lease}` 1 or 0.

    count_timer_round(timer: str) -> None
        One round of a timer this gateway ran as the lease holder (`sweep`,
        `retention`): `assistant_timer_rounds_total{timer}`.

    The router learns whether a turn was a fallback from the TurnInfo that
    `RasaClient.turn(...)` returns with the replies (`.language`, `.intent`,
    `.fallback`: the same request, bot/rasa_channel.py's turn channel).

Recorded by bot/rasa_client.py itself (nothing to call):
`assistant_rasa_request_seconds{instance}` (each HTTP request to a Rasa
instance) and `assistant_rasa_unreachable_total{instance}` (connection
failures, each one moving the message to the next instance).

    register_handoff_queue(database: bot.store.db.Database) -> None
        Read the handoff queue (`handoffs` rows with status 'waiting') at every
        scrape: `assistant_handoff_queue_length{language}`,
        `assistant_handoff_queue_oldest_wait_seconds` and the gauge histogram
        `assistant_handoff_queue_wait_seconds` (waiting time = now - requested_at).
        The app calls it once; calling it again replaces the database.

    render() -> tuple[bytes, str]
        The exposition text and its content type (used by the /metrics route).

Label values are bounded: a language outside the catalogue is counted as
"other", a channel outside KNOWN_CHANNELS as "other".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.store.db import Database

log = logging.getLogger(__name__)

KNOWN_CHANNELS = frozenset({"webchat", "telegram", "console", "rest"})
# Seconds: a turn is usually well under a second; Rasa's timeout is 15 s.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0)
# Seconds a user has waited for an adviser.
WAIT_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

MESSAGES = Counter(
    "assistant_messages", "User messages handled by the gateway.", ["channel", "language"], registry=REGISTRY
)
TURN_SECONDS = Histogram(
    "assistant_turn_seconds", "Time from a user message to the replies being ready.", ["channel"],
    buckets=TURN_BUCKETS, registry=REGISTRY,
)
FALLBACKS = Counter(
    "assistant_fallbacks", "User messages the assistant did not understand.", ["channel", "language"],
    registry=REGISTRY,
)
UNAVAILABLE = Counter(
    "assistant_unavailable", "User messages Rasa did not answer in time.", ["channel"], registry=REGISTRY
)
FAILED_TURNS = Counter(
    "assistant_failed_turns", "User messages whose turn raised (the user got the 'something went wrong' answer).",
    ["channel"], registry=REGISTRY,
)
REFUSED = Counter(
    "assistant_refused_messages", "User messages refused at the boundary (rate_limited, too_long, empty).",
    ["channel", "reason"], registry=REGISTRY,
)
RECOVERED = Counter(
    "assistant_recovered_messages", "User messages a crash left 'received', marked failed (the user told).",
    registry=REGISTRY,
)
LEASE_HELD = Gauge(
    "assistant_lease_held", "1 while this gateway holds the lease (its timers or Telegram poller run here).",
    ["lease"], registry=REGISTRY,
)
TIMER_ROUNDS = Counter(
    "assistant_timer_rounds", "Rounds of a timer run by this gateway as the lease holder.", ["timer"],
    registry=REGISTRY,
)
RASA_SECONDS = Histogram(
    "assistant_rasa_request_seconds", "HTTP requests to each Rasa instance.", ["instance"],
    buckets=TURN_BUCKETS, registry=REGISTRY,
)
RASA_UNREACHABLE = Counter(
    "assistant_rasa_unreachable", "Connection failures to a Rasa instance (the message went to the next one).",
    ["instance"], registry=REGISTRY,
)

_languages: frozenset[str] | None = None


def _language_label(language: str | None) -> str:
    global _languages
    if _languages is None:
        from bot.language.catalog import load_catalog

        _languages = frozenset(load_catalog().supported)
    return language if language in _languages else "other"


def _channel_label(channel: str) -> str:
    return channel if channel in KNOWN_CHANNELS else "other"


def observe_turn(channel: str, language: str | None, seconds: float, fallback: bool = False) -> None:
    channel, language = _channel_label(channel), _language_label(language)
    MESSAGES.labels(channel, language).inc()
    TURN_SECONDS.labels(channel).observe(max(0.0, seconds))
    if fallback:
        FALLBACKS.labels(channel, language).inc()


def count_unavailable(channel: str) -> None:
    UNAVAILABLE.labels(_channel_label(channel)).inc()


def count_failed_turn(channel: str) -> None:
    FAILED_TURNS.labels(_channel_label(channel)).inc()


REFUSAL_REASONS = frozenset({"rate_limited", "too_long", "empty"})


def count_refused(channel: str, reason: str) -> None:
    REFUSED.labels(_channel_label(channel), reason if reason in REFUSAL_REASONS else "other").inc()


def count_recovered(count: int) -> None:
    RECOVERED.inc(count)


def set_lease_held(lease: str, held: bool) -> None:
    LEASE_HELD.labels(lease).set(1 if held else 0)


def count_timer_round(timer: str) -> None:
    TIMER_ROUNDS.labels(timer).inc()


def observe_rasa_request(instance: str, seconds: float) -> None:
    RASA_SECONDS.labels(instance).observe(max(0.0, seconds))


def count_rasa_unreachable(instance: str) -> None:
    RASA_UNREACHABLE.labels(instance).inc()


class HandoffQueueCollector(Collector):
    """The waiting handoffs, read from the database at scrape time."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self):  # noqa: ANN201 - no database query when registering
        return []

    def waiting(self) -> list[tuple[str, datetime]]:
        from sqlalchemy import select

        from bot.store.models import Handoff, as_utc

        with self.database.session() as session:
            rows = session.execute(
                select(Handoff.language, Handoff.requested_at).where(Handoff.status == "waiting")
            ).all()
        return [(language, as_utc(requested_at)) for language, requested_at in rows]

    def collect(self):  # noqa: ANN201
        try:
            waiting = self.waiting()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database did
            log.warning("handoff queue metrics: database not readable", exc_info=True)
            return
        now = datetime.now(timezone.utc)
        waits = [max(0.0, (now - requested_at).total_seconds()) for _, requested_at in waiting]
        per_language: dict[str, int] = defaultdict(int)
        for language, _ in waiting:
            per_language[_language_label(language)] += 1

        length = GaugeMetricFamily(
            "assistant_handoff_queue_length", "Users waiting for an adviser now.", labels=["language"]
        )
        for language, count in sorted(per_language.items()):
            length.add_metric([language], count)
        yield length
        yield GaugeMetricFamily(
            "assistant_handoff_queue_oldest_wait_seconds",
            "How long the longest-waiting user has waited (0 when nobody waits).",
            value=max(waits, default=0.0),
        )
        histogram = GaugeHistogramMetricFamily(
            "assistant_handoff_queue_wait_seconds", "How long the users waiting now have waited."
        )
        buckets = [(str(bound), sum(1 for w in waits if w <= bound)) for bound in WAIT_BUCKETS]
        histogram.add_metric([], buckets + [("+Inf", len(waits))], gsum_value=sum(waits))
        yield histogram


_handoff_collector: HandoffQueueCollector | None = None


def register_handoff_queue(database: Database) -> None:
    global _handoff_collector
    if _handoff_collector is not None:
        REGISTRY.unregister(_handoff_collector)
    _handoff_collector = HandoffQueueCollector(database)
    REGISTRY.register(_handoff_collector)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
