"""Rasa NLU graph component: decides the language of every message.

It runs after the intent classifiers, so that it can tell "in English please"
(a change of language) from "I don't speak Finnish" (a question about
interpreters). It puts the decision in the parse result as
`"language": {"code", "source", ...}` (DESIGN.md, "NLU parse result") and, when
the decision should change the conversation's language (an explicit choice, or
detection on a message long enough to trust), a `language` entity that fills
the `language` slot. Short messages add no entity, so "ok" never flips a
conversation's language: the slot keeps its value.

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
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language.catalog import load_catalog
from bot.language.decision import DETECTED, EXPLICIT
from bot.language.decision import LanguageDecider as Decider

LANGUAGE_KEY = "language"
LANGUAGE_ENTITY = "language"
UNSUPPORTED_ENTITY = "unsupported_language"
OUT_OF_SCOPE = "out_of_scope"
SLOT_CHANGING_SOURCES = (EXPLICIT, DETECTED)


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

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        intent = (message.get(INTENT) or {}).get("name")
        decision = self._decider.decide(text, message.get(METADATA), intent)
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
