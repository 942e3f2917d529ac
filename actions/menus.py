"""The help menu and the choice of language."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.context import latest_entities
from bot.language.catalog import load_catalog


class ActionHelp(Action):
    """The menu of topic groups, or the topics of one group (a group button's payload)."""

    def name(self) -> str:
        return "action_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        responses = domain.get("responses", {})
        for group in latest_entities(tracker, "topic_group"):
            if f"utter_group_{group}" in responses:
                dispatcher.utter_message(response=f"utter_group_{group}")
                return []
        dispatcher.utter_message(response="utter_help_menu")
        return []


class ActionChangeLanguage(Action):
    """Confirms a new language (the slot is already set) or asks which one."""

    def name(self) -> str:
        return "action_change_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        decision = tracker.latest_message.get("language") or {}
        if latest_entities(tracker, "unsupported_language") or decision.get("unsupported"):
            dispatcher.utter_message(response="utter_unsupported_language")
            return []
        chosen = latest_entities(tracker, "language")
        if chosen and load_catalog().is_supported(chosen[-1]):
            dispatcher.utter_message(response="utter_language_changed")
            return []
        dispatcher.utter_message(response="utter_choose_language")
        return []
