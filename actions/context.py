"""What the actions read from the tracker."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

FALLBACK_INTENT = "nlu_fallback"


def latest_entities(tracker: Tracker, name: str) -> list[Any]:
    return [
        e.get("value")
        for e in tracker.latest_message.get("entities", [])
        if e.get("entity") == name
    ]


def user_events(tracker: Tracker) -> list[dict[str, Any]]:
    return [e for e in tracker.events if e.get("event") == "user"]


def intent_of(event: dict[str, Any]) -> str | None:
    return (event.get("parse_data") or {}).get("intent", {}).get("name")


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the assistant did not understand."""
    count = 0
    for event in reversed(user_events(tracker)):
        if intent_of(event) != FALLBACK_INTENT:
            break
        count += 1
    return count


def last_topic(tracker: Tracker, topics: set[str]) -> str | None:
    """The service topic the assistant last understood in this conversation."""
    for event in reversed(user_events(tracker)):
        if intent_of(event) in topics:
            return intent_of(event)
    return None
