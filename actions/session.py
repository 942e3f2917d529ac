"""Session start: the language of a new conversation comes from the channel."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.language.catalog import load_catalog
from bot.language.decision import META_CHOICE, META_CONVERSATION, hint_tags, normalise_tag

SESSION_METADATA_SLOT = "session_started_metadata"


def initial_language(metadata: dict[str, Any], carried: str | None, resumed: bool) -> str:
    """Explicit choice > the conversation's language > the channel's hints > the default.

    A resumed conversation (a new session of the same user) keeps its language.
    """
    catalog = load_catalog()
    candidates = [
        normalise_tag(metadata.get(META_CHOICE)),
        normalise_tag(metadata.get(META_CONVERSATION)),
    ]
    if resumed:
        candidates.append(carried)
    candidates.extend(hint_tags(metadata))
    for code in candidates:
        if catalog.is_supported(code):
            return code
    return catalog.default


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        metadata = tracker.get_slot(SESSION_METADATA_SLOT) or {}
        resumed = any(e.get("event") == "session_started" for e in tracker.events)
        if resumed and domain.get("session_config", {}).get(
            "carry_over_slots_to_new_session", True
        ):
            events += [
                SlotSet(name, value)
                for name, value in tracker.current_slot_values().items()
                if name not in (SESSION_METADATA_SLOT, "language") and value is not None
            ]
        language = initial_language(metadata, tracker.get_slot("language"), resumed)
        events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        return events
