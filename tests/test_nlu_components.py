"""Our Rasa NLU graph components on their own, with Rasa's real storage and messages."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.unknown_words import UnknownWordsFallback


def test_a_message_without_a_known_word_is_not_understood(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("unknown_words")
    context = ExecutionContext(GraphSchema({}), "test")
    training = TrainingData([Message({"text": t, "intent": i}) for t, i in [
        ("miten haen työttömyysetuutta", "benefit_apply"), ("hei", "greet"), ("kyllä", "affirm")]])
    UnknownWordsFallback.create({}, storage, resource, context).train(training)
    component = UnknownWordsFallback.load({}, storage, resource, context)

    def parse(text: str) -> Message:
        message = Message({"text": text, "intent": {"name": "affirm", "confidence": 0.4},
                           "intent_ranking": [{"name": "affirm", "confidence": 0.4}]})
        component.process([message])
        return message

    mash = parse("xq zzkv plorf wibble")
    assert mash.get("intent")["name"] == "nlu_fallback"
    assert mash.get("intent_ranking") == [{"name": "nlu_fallback", "confidence": 0.0},
                                          {"name": "affirm", "confidence": 0.4}]
    assert mash.get("unknown_words") is True
    for text in ("Hei!", "miten haen tyottomyysetuutta nyt", "失业金", "1234", '/affirm{"x": 1}'):
        assert parse(text).get("intent")["name"] == "affirm", text


def test_the_intent_classifier_predicts_the_same_without_copying_its_weights() -> None:
    import numpy as np
    from scipy.sparse import random as sparse_random
    from sklearn.linear_model import LogisticRegression

    from components.intent_classifier import transposable

    rng = np.random.default_rng(7)
    X = sparse_random(60, 400, density=0.05, format="csr", random_state=7)
    y = rng.integers(0, 4, 60)
    classifier = LogisticRegression(max_iter=200).fit(X, y)
    before = classifier.predict_proba(X[:5])
    assert not classifier.coef_.T.flags["C_CONTIGUOUS"]  # as trained: the product copies it
    transposable(classifier)
    assert classifier.coef_.T.flags["C_CONTIGUOUS"]
    assert np.allclose(classifier.predict_proba(X[:5]), before)
