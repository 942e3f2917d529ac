"""Rasa NLU graph component: in a message of several sentences, the question weighs more.

Real jobseekers tell what happened first and ask at the end ("I worked at a
warehouse for two years. Last week they said there is no more work. Do I have
to tell someone?"). A bag of n-grams gives every word of that story the same
weight, so the situation drowns the question. This component runs after the
intent classifier and before the FallbackClassifier. For a message of at least
two sentences it classifies the *question part* on its own (the last sentence
with a question mark, else the last sentence) with a small classifier of its
own, trained on the same training examples (most of which are one-sentence
questions), and mixes the two distributions:

    p(intent) = (1 - weight) * p_whole_message + weight * p_question_part

A one-sentence message is left exactly as the classifier ranked it. The weight
was chosen on the development sets (`python -m scripts.nlu_experiment`,
docs/nlu.md), never on the held-out sets.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.language.text import fold

MODEL_FILE = "question_focus.pkl"
# Sentence ends in the twelve languages' scripts (Arabic and Persian ؟, Chinese 。！？).
SENTENCE_END = re.compile(r"(?<=[.!?؟。！？\n])\s*")
QUESTION_MARKS = ("?", "؟", "？")


def sentences(text: str) -> list[str]:
    """The sentences of a message, in order, with at least two letters each."""
    parts = [part.strip() for part in SENTENCE_END.split(text or "")]
    return [part for part in parts if sum(ch.isalpha() for ch in part) >= 2]


def question_part(text: str) -> str | None:
    """The sentence that asks (the last one with a question mark, else the last one),
    or None for a message of one sentence."""
    parts = sentences(text)
    if len(parts) < 2:
        return None
    asking = [part for part in parts if part.endswith(QUESTION_MARKS)]
    return (asking or parts)[-1]


def mix(ranking: list[dict[str, Any]], focus: dict[str, float], weight: float) -> list[dict[str, Any]]:
    """The classifier's ranking mixed with the question part's probabilities, best first."""
    scores = {entry[INTENT_NAME_KEY]: (1 - weight) * float(entry[PREDICTED_CONFIDENCE_KEY]) for entry in ranking}
    for intent, probability in focus.items():
        scores[intent] = scores.get(intent, 0.0) + weight * probability
    ordered = sorted(scores.items(), key=lambda item: item[1], reverse=True)[: max(len(ranking), 1)]
    return [{INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: score} for intent, score in ordered]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class QuestionFocusReranker(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"weight": 0.5, "min_ngram": 3, "max_ngram": 5, "C": 10.0, "random_state": 7}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: tuple[TfidfVectorizer, LogisticRegression] | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> QuestionFocusReranker:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> QuestionFocusReranker:
        try:
            with model_storage.read_from(resource) as directory:
                model = pickle.loads((directory / MODEL_FILE).read_bytes())  # noqa: S301 - our own model file
        except (ValueError, FileNotFoundError):
            model = None
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [(fold(m.get(TEXT) or ""), m.get(INTENT)) for m in training_data.intent_examples
                    if m.get(TEXT) and m.get(INTENT)]
        if len({intent for _, intent in examples}) >= 2:
            vectorizer = TfidfVectorizer(analyzer="char_wb", sublinear_tf=True,
                                         ngram_range=(self.config["min_ngram"], self.config["max_ngram"]))
            features = vectorizer.fit_transform([text for text, _ in examples])
            classifier = LogisticRegression(C=self.config["C"], max_iter=300,
                                            random_state=self.config["random_state"])
            classifier.fit(features, [intent for _, intent in examples])
            self.model = (vectorizer, classifier)
            with self._storage.write_to(self._resource) as directory:
                (directory / MODEL_FILE).write_bytes(pickle.dumps(self.model))
        return self._resource

    def focus_probabilities(self, text: str) -> dict[str, float]:
        vectorizer, classifier = self.model  # type: ignore[misc]
        probabilities = classifier.predict_proba(vectorizer.transform([fold(text)]))[0]
        best = np.argsort(probabilities)[::-1][:10]
        return {str(classifier.classes_[i]): float(probabilities[i]) for i in best}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY) or []
            part = question_part(message.get(TEXT) or "")
            if self.model is None or not ranking or part is None:
                continue
            mixed = mix(ranking, self.focus_probabilities(part), float(self.config["weight"]))
            message.set(INTENT_RANKING_KEY, mixed, add_to_output=True)
            message.set(INTENT, mixed[0], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
