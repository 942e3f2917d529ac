"""Messages the assistant could not answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import consecutive_fallbacks, latest_entities
from actions.handoff import HANDOFF_OFFERED_SLOT


class ActionFallback(Action):
    """First time: rephrase the menu and mention a person. Second time in a row:
    offer the handoff directly (the user accepts with yes or the button)."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_handoff")
            return [SlotSet(HANDOFF_OFFERED_SLOT, True)]
        dispatcher.utter_message(response="utter_default")
        return [SlotSet(HANDOFF_OFFERED_SLOT, False)]


class ActionOutOfScope(Action):
    """Out of scope, or a language the assistant does not speak (answered in
    English and Finnish, with an adviser and an interpreter offered)."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if latest_entities(tracker, "unsupported_language"):
            dispatcher.utter_message(response="utter_unsupported_language")
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return []
