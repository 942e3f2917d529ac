"""Rasa NLU graph component: decides the language of every message.

It runs after the intent classifiers, so that it can tell "in English please"
(a change of language) from "I don't speak Finnish" (a question about
interpreters). It puts the decision in the parse result as
`"language": {"code", "source", ...}` (DESIGN.md, "NLU parse result") and, when
the decision should change the conversation's language (an explicit choice, or
detection on a message long enough to trust), a `language` entity that fills
the `language` slot. Short messages add no entity, so "ok" never flips a
conversation's language: the slot keeps its value.

Whether the conversation already has a language comes from the conversation
itself: Rasa hands the tracker to the component (the `tracker` argument of
`process`), and a conversation in which the user has typed a message or chosen a
language has the language of its `language` slot; one with only button payloads
so far (a menu) has none yet. Only when the tracker has no user message at all
(a new conversation, `/model/parse`, or a tracker store that lost it) does the
metadata's `conversation_language` (sent by the gateway) say. Without a
conversation language the message is a first message, whose language the
detector's best guess decides at any length (bot/language/decision.py).

A message in a language the assistant does not speak is classified as
`out_of_scope` with an `unsupported_language` entity, so that the dialogue
answers it in English and Finnish and offers an adviser with an interpreter.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language.catalog import load_catalog
from bot.language.decision import DETECTED, EXPLICIT, META_CONVERSATION
from bot.language.decision import LanguageDecider as Decider

LANGUAGE_KEY = "language"
LANGUAGE_ENTITY = "language"
UNSUPPORTED_ENTITY = "unsupported_language"
OUT_OF_SCOPE = "out_of_scope"
SLOT_CHANGING_SOURCES = (EXPLICIT, DETECTED)
# The tracker cannot tell (no tracker, or no user message in it): the metadata decides.
UNKNOWN: Any = object()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDecider(GraphComponent):
    """Adds the language decision to each parsed message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self, config: dict[str, Any]) -> None:
        self._decider = Decider(load_catalog())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDecider:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message], tracker: DialogueStateTracker | None = None) -> list[Message]:
        conversation = conversation_language(tracker)
        for message in messages:
            self._process_one(message, conversation)
        return messages

    def _process_one(self, message: Message, conversation: str | None = UNKNOWN) -> None:
        text = message.get(TEXT) or ""
        intent = (message.get(INTENT) or {}).get("name")
        metadata = message.get(METADATA) if isinstance(message.get(METADATA), dict) else {}
        if conversation is not UNKNOWN:
            metadata = {k: v for k, v in metadata.items() if k != META_CONVERSATION}
            if conversation:
                metadata[META_CONVERSATION] = conversation
        decision = self._decider.decide(text, metadata, intent)
        message.set(LANGUAGE_KEY, decision.as_dict(), add_to_output=True)

        entities = [
            e
            for e in message.get(ENTITIES, [])
            if e.get("entity") not in (LANGUAGE_ENTITY, UNSUPPORTED_ENTITY)
        ]
        if decision.unsupported:
            entities.append(self._entity(UNSUPPORTED_ENTITY, decision.unsupported))
            if not text.startswith("/"):
                ranking = message.get(INTENT_RANKING_KEY) or []
                message.set(INTENT, {"name": OUT_OF_SCOPE, "confidence": 1.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        elif decision.source in SLOT_CHANGING_SOURCES:
            entities.append(self._entity(LANGUAGE_ENTITY, decision.code))
        message.set(ENTITIES, entities, add_to_output=True)

    @staticmethod
    def _entity(name: str, value: str) -> dict[str, Any]:
        return {
            "entity": name,
            "value": value,
            "start": 0,
            "end": 0,
            "confidence_entity": 1.0,
            "extractor": LanguageDecider.__name__,
        }


def conversation_language(tracker: DialogueStateTracker | None) -> str | None:
    """The conversation's language once it has one: the `language` slot, after the user
    typed a message or chose a language. None when the user has sent only button
    payloads so far (a menu does not give the conversation a language); UNKNOWN when
    the tracker has no user message at all (then the metadata says)."""
    if tracker is None:
        return UNKNOWN
    seen = False
    for event in tracker.events:
        if not isinstance(event, UserUttered):
            continue
        seen = True
        typed = bool(event.text) and not event.text.startswith("/")
        chosen = any(e.get("entity") == LANGUAGE_ENTITY for e in event.entities or [])
        if typed or chosen:
            value = tracker.get_slot(LANGUAGE_KEY)
            return value if isinstance(value, str) else None
    return None if seen else UNKNOWN
