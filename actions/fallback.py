"""Messages the assistant could not answer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import FALLBACK_INTENT, consecutive_fallbacks, latest_entities
from actions.handoff import HANDOFF_OFFERED_SLOT
from bot.paths import CONFIG_DIR

DID_YOU_MEAN = "utter_did_you_mean"
GROUP_MENUS = "utter_group_"
# Set by components/unknown_words.py: no word of the message is known, so nothing to suggest.
UNKNOWN_WORDS_KEY = "unknown_words"


@lru_cache(maxsize=1)
def suggestion_settings() -> dict[str, Any]:
    """config/fallback.yml: how many topics "did you mean" offers, and how sure each must be."""
    with open(CONFIG_DIR / "fallback.yml", encoding="utf-8") as handle:
        return (yaml.safe_load(handle) or {})["did_you_mean"]


def _variation(variations: list[dict[str, Any]], language: str | None) -> dict[str, Any] | None:
    for variation in variations:
        if any(c.get("name") == "language" and c.get("value") == language for c in variation.get("condition") or []):
            return variation
    return None


def topic_titles(domain: dict[str, Any], language: str | None) -> dict[str, str]:
    """{topic: title} in the user's language, from the buttons of the help menu's groups
    (service topics only: those answered by an `utter_<topic>` response)."""
    responses = domain.get("responses") or {}
    titles: dict[str, str] = {}
    for name, variations in responses.items():
        if not name.startswith(GROUP_MENUS):
            continue
        for button in (_variation(variations, language) or {}).get("buttons") or []:
            topic = str(button.get("payload") or "").removeprefix("/")
            if topic.isidentifier() and f"utter_{topic}" in responses:
                titles.setdefault(topic, str(button.get("title")))
    return titles


def suggestions(ranking: list[dict[str, Any]], titles: dict[str, str], max_topics: int,
                min_confidence: float) -> list[str]:
    """The likeliest service topics of the classifier's ranking (those with a title)."""
    topics = [r["name"] for r in ranking
              if r.get("name") in titles and float(r.get("confidence") or 0.0) >= min_confidence]
    return topics[:max_topics]


def did_you_mean_payload(topic: str) -> str:
    return f"/{topic}" + json.dumps({"did_you_mean": topic}, separators=(",", ":"))


class ActionFallback(Action):
    """First time: "did you mean" with the likeliest topics as buttons and "something
    else" (like Rasa's two-stage fallback), or, when no topic is likely, a request to put
    it in other words with the menu. Second time in a row ("something else" counts):
    offer the handoff directly (the user accepts with yes or the button)."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_handoff")
            return [SlotSet(HANDOFF_OFFERED_SLOT, True)]
        language = tracker.get_slot("language")
        titles = topic_titles(domain, language)
        settings = suggestion_settings()
        ranking = [r for r in tracker.latest_message.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        if tracker.latest_message.get(UNKNOWN_WORDS_KEY):
            ranking = []
        topics = suggestions(ranking, titles, int(settings["max_topics"]), float(settings["min_confidence"]))
        question = _variation((domain.get("responses") or {}).get(DID_YOU_MEAN) or [], language)
        if topics and question:
            buttons = [{"title": titles[t], "payload": did_you_mean_payload(t)} for t in topics]
            dispatcher.utter_message(text=question["text"], buttons=buttons + list(question.get("buttons") or []))
        else:
            dispatcher.utter_message(response="utter_default")
        return [SlotSet(HANDOFF_OFFERED_SLOT, False)]


class ActionOutOfScope(Action):
    """Out of scope: what the assistant does not handle and where people usually
    go, then the topic menu so that the next step is a tap. A language the
    assistant does not speak is answered in English and Finnish instead, with an
    adviser offered."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if latest_entities(tracker, "unsupported_language"):
            dispatcher.utter_message(response="utter_unsupported_language")
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
            dispatcher.utter_message(response="utter_help_menu")
        return []
