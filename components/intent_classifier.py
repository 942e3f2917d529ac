"""Rasa's LogisticRegressionClassifier, with its weights laid out for prediction.

Predicting computes `X @ coef_.T` (scikit-learn's decision_function). With the weights as
trained (47 intents x 155,000 features, C order, 55 MB), `coef_.T` is not C-contiguous and
SciPy's sparse-times-dense product copies all of it on every message: 16 ms and a 55 MB
allocation per parse, most of a parse (docs/performance.md). Stored in Fortran order, the
transpose is a C-contiguous view and the product reads it in place (0.05 ms). Same weights,
same predictions; the trained file is Rasa's own.

Rasa builds each message's row by combining every featuriser's sequence *and* sentence
features (deep copies, then stacking) and stacking the row with an empty dense matrix, about
2 ms per parse; only the sentence features are used. `_create_X` stacks just those, in
Rasa's order, into the same row.

With `idf`, each feature is weighted by its inverse document frequency over the training
messages (to the power `idf_power`) before the row is scaled to unit length
(`normalize_rows`): a word or n-gram that a large share of messages have counts for little,
a rare one that names a situation for much (docs/nlu.md, "Round 11"). The weights are stored
beside the classifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier as RasaLogisticRegressionClassifier,
)
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.preprocessing import normalize


def transposable(classifier: Any) -> Any:
    """The classifier with `coef_` in Fortran order (its transpose then needs no copy) and in
    single precision: half the memory (45 MB of Rasa's resident memory); the probabilities
    differ by at most a few millionths, the rankings not at all (2,197 held-out messages)."""
    if hasattr(classifier, "coef_"):
        classifier.coef_ = np.asfortranarray(classifier.coef_, dtype=np.float32)
    return classifier


def inverse_document_frequency(rows: csr_matrix) -> np.ndarray:
    """scikit-learn's smoothed idf of every column, ln((1 + n) / (1 + df)) + 1, over the rows
    (messages) in which the feature occurs."""
    document_frequency = np.bincount((rows != 0).tocsr().indices, minlength=rows.shape[1])
    return (np.log((1 + rows.shape[0]) / (1 + document_frequency)) + 1).astype(np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LogisticRegressionClassifier(RasaLogisticRegressionClassifier):
    """Rasa's classifier with four more settings: `C`, scikit-learn's inverse regularisation
    strength (Rasa leaves it at 1.0); `normalize_rows`, each message's features scaled to
    unit length so that a long story does not weigh more than a short question; `binary`,
    each feature present or absent rather than counted, so that a word or n-gram repeated in
    a long message does not outweigh the rest of it; and `idf`, each feature weighted by how
    rare it is in the training messages (`idf_power` sharpens that)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**RasaLogisticRegressionClassifier.get_default_config(), "C": 1.0, "normalize_rows": False,
                "binary": False, "idf": False, "idf_power": 1.0}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.C = float(self.config["C"])
        # Set by training when `idf` is on, and stored beside the classifier.
        self.idf: np.ndarray | None = None

    def _create_X(self, messages: list[Message]) -> csr_matrix:  # noqa: N802 (Rasa's name)
        """The rows the classifier reads: the messages' features, weighted and scaled."""
        return self._weigh(self._rows(messages))

    def _rows(self, messages: list[Message]) -> csr_matrix:
        """The sentence features of each message, sparse then dense, as Rasa's rows."""
        rows = []
        for message in messages:
            _, sentence_features = message._filter_sparse_features(TEXT, [])  # Rasa 3.6's own filter
            dense = message.get_dense_features(attribute=TEXT)[1]
            parts = [csr_matrix(f.features) for f in sentence_features]
            if dense is not None:
                parts.append(csr_matrix(dense.features))
            if not parts:
                parts.append(csr_matrix((1, 0)))
            rows.append(parts[0] if len(parts) == 1 else hstack(parts, format="csr"))
        matrix = rows[0] if len(rows) == 1 else vstack(rows, format="csr")
        return matrix.sign() if self.config["binary"] else matrix

    def _weigh(self, matrix: csr_matrix) -> csr_matrix:
        if self.idf is not None:
            matrix = csr_matrix(matrix, dtype=np.float64, copy=True)  # the messages keep their own features
            matrix.data *= self.idf[matrix.indices]
        if self.config["normalize_rows"]:
            matrix = normalize(matrix, norm="l2", copy=False)
        # In the weights' precision: a product of mixed precisions would copy the weights.
        return matrix.astype(getattr(self.clf, "coef_", matrix).dtype, copy=False)

    def _create_training_matrix(self, training_data: TrainingData) -> tuple[csr_matrix, list[str]]:
        """Rasa's (X, y), the idf weights learnt from the same rows first."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:  # Rasa's train() then skips fitting
            return csr_matrix((0, 0)), []
        rows = self._rows(examples)
        self.idf = (inverse_document_frequency(rows) ** float(self.config["idf_power"])
                    if self.config["idf"] else None)
        return self._weigh(rows), [e.get(INTENT) for e in examples]

    def train(self, training_data: TrainingData) -> Resource:
        resource = super().train(training_data)
        transposable(self.clf)
        return resource

    def persist(self) -> None:
        super().persist()
        if self.idf is not None:
            with self._model_storage.write_to(self._resource) as model_dir:
                np.save(model_dir / f"{self._resource.name}.idf.npy", self.idf)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LogisticRegressionClassifier:
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        transposable(component.clf)
        if config.get("idf"):
            with model_storage.read_from(resource) as model_dir:
                component.idf = np.load(model_dir / f"{resource.name}.idf.npy")
        return component
