"""Requests for a person. The action only asks: it emits the custom payload
`{"handoff": {...}}` and says nothing itself; the gateway decides what happens
(queue, outside hours, nobody online) and has the assistant say that outcome, so
the user hears one consistent answer instead of "I will connect you" followed by
"advisers are not in the chat"."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import last_topic, user_events
from bot.content.groups import GROUPS

HANDOFF_OFFERED_SLOT = "handoff_offered"


def handoff_reason(tracker: Tracker) -> str:
    """Why the user is handed over: after the fallback offer, after an unsupported
    language (an interpreter is needed), a button, or a request in words."""
    if tracker.get_slot(HANDOFF_OFFERED_SLOT):
        return "fallback_offer"
    for event in user_events(tracker)[-2:]:
        if any(
            e.get("entity") == "unsupported_language"
            for e in (event.get("parse_data") or {}).get("entities", [])
        ):
            return "interpreter"
    if (tracker.latest_message.get("text") or "").startswith("/"):
        return "button"
    return "user_request"


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # The catalogue's service topics: not greet, thank or goodbye, whose responses share the
        # utter_<intent> naming (the widget greets every new conversation).
        topics = {topic for group in GROUPS.values() for topic in group}
        dispatcher.utter_message(
            json_message={
                "handoff": {
                    "reason": handoff_reason(tracker),
                    "language": tracker.get_slot("language"),
                    "topic": last_topic(tracker, topics),
                }
            }
        )
        return [SlotSet(HANDOFF_OFFERED_SLOT, False)]


class ActionDeclineHandoff(Action):
    def name(self) -> str:
        return "action_decline_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet(HANDOFF_OFFERED_SLOT, False)]
