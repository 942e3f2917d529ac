"""Round 11: classifier variants on the stored rows (`round11/features.py`), development sets only.

    python -m docs.experiments.round11.classifiers ROWS.npz [VARIANT ...]

Prints top-1 accuracy per language on the development sets (the classifier's best intent,
fallback ignored, as the second table of scripts.nlu_experiment) and the mean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from components.intent_classifier import inverse_document_frequency

LANGUAGES = ("fi", "sv", "en", "ru", "uk", "et", "ar", "so", "fa", "zh", "vi", "sq")


def load(path: str) -> tuple[sparse.csr_matrix, dict[str, np.ndarray]]:
    meta = np.load(Path(path).with_suffix(".meta.npz"), allow_pickle=True)
    return sparse.load_npz(path).astype(np.float64), {key: meta[key] for key in meta.files}


def rasa_lr(**settings) -> LogisticRegression:  # noqa: ANN003
    """Rasa 3.6's LogisticRegressionClassifier as configured (config/config.yml)."""
    options = {"solver": "lbfgs", "max_iter": 100, "class_weight": "balanced", "tol": 1e-4,
               "random_state": 7, "C": 1.0}
    options.update(settings)
    return LogisticRegression(**options)


Scorer = Callable[[sparse.csr_matrix, np.ndarray, np.ndarray, sparse.csr_matrix, np.ndarray], np.ndarray]


def baseline(X, y, lang, Xd, langd, **settings):  # noqa: ANN001, ANN003
    clf = rasa_lr(**settings).fit(X, y)
    return clf.classes_[clf.predict_proba(Xd).argmax(1)]


def language_weights(X, y, lang, Xd, langd):  # noqa: ANN001
    """Every language's examples weigh the same in all (the smaller files count more)."""
    counts = {language: (lang == language).sum() for language in LANGUAGES}
    weight = np.array([len(lang) / (len(LANGUAGES) * counts[language]) for language in lang])
    clf = rasa_lr().fit(X, y, sample_weight=weight)
    return clf.classes_[clf.predict_proba(Xd).argmax(1)]


def tfidf(C: float = 10, idf_on: bool = True, unit: bool = True, power: float = 1.0,  # noqa: N803
          neighbours: float = 0.0, **settings):  # noqa: ANN003
    """Features weighted by inverse document frequency over the training rows (rare features
    count more, `power` sharpens that), each row scaled to unit length; optionally mixed with
    the intents of the ten most similar training examples (`neighbours`: their weight)."""
    def score(X, y, lang, Xd, langd):  # noqa: ANN001
        idf = inverse_document_frequency(X) ** power if idf_on else np.ones(X.shape[1])
        scale = sparse.diags(idf)
        shape = normalize if unit else (lambda m: m)
        rows, rows_d = shape(X @ scale), shape(Xd @ scale)
        clf = rasa_lr(C=C, **settings).fit(rows, y)
        probabilities = clf.predict_proba(rows_d)
        if neighbours:
            probabilities = (1 - neighbours) * probabilities + neighbours * neighbour_votes(
                rows, y, rows_d, list(clf.classes_))
        return clf.classes_[probabilities.argmax(1)]
    return score


def neighbour_votes(rows, y, rows_d, classes: list[str], k: int = 10) -> np.ndarray:  # noqa: ANN001
    """Per message, the intents of its k most similar training rows, weighted by cosine."""
    index = {c: i for i, c in enumerate(classes)}
    similarity = (normalize(rows_d) @ normalize(rows).T).toarray()
    votes = np.zeros((rows_d.shape[0], len(classes)))
    for row, sims in enumerate(similarity):
        for nearest in np.argpartition(-sims, k)[:k]:
            votes[row, index[y[nearest]]] += sims[nearest]
    return votes / np.maximum(votes.sum(1, keepdims=True), 1e-9)


def with_language_model(weight: float):
    """The joint model's probabilities mixed with a model of the message's language alone."""
    def score(X, y, lang, Xd, langd):  # noqa: ANN001
        joint = rasa_lr().fit(X, y)
        probabilities = joint.predict_proba(Xd)
        classes = list(joint.classes_)
        for language in LANGUAGES:
            rows = lang == language
            own = rasa_lr().fit(X[rows], y[rows])
            index = [classes.index(c) for c in own.classes_]
            target = np.where(langd == language)[0]
            if len(target) == 0:
                continue
            mixed = np.zeros((len(target), len(classes)))
            mixed[:, index] = own.predict_proba(Xd[target])
            probabilities[target] = (1 - weight) * probabilities[target] + weight * mixed
        return joint.classes_[probabilities.argmax(1)]
    return score


VARIANTS: dict[str, Scorer] = {
    "baseline": baseline,
    "language_weights": language_weights,
    "tfidf_c10": tfidf(),
    "tfidf_c5": tfidf(5),
    "tfidf_c15": tfidf(15),
    "tfidf_c20": tfidf(20),
    "tfidf_c40": tfidf(40),
    "unit_c10": tfidf(10, idf_on=False),
    "tfidf_c20_unbalanced": tfidf(20, class_weight=None),
    "tfidf_c20_idf2": tfidf(20, power=2.0),
    "tfidf_c20_idf15": tfidf(20, power=1.5),
    "tfidf_c20_idf3": tfidf(20, power=3.0),
    "tfidf_c10_idf2": tfidf(10, power=2.0),
    "tfidf_c40_idf2": tfidf(40, power=2.0),
    "tfidf_c20_neighbours_03": tfidf(20, neighbours=0.3),
    "own_language_03": with_language_model(0.3),
}


def main(path: str, names: list[str]) -> None:
    X, meta = load(path)
    train = meta["splits"] == "train"
    dev = meta["splits"] == "dev"
    y, lang = meta["intents"][train], meta["languages"][train]
    yd, langd = meta["intents"][dev], meta["languages"][dev]
    print("| variant | " + " | ".join(LANGUAGES) + " | mean | s |")
    print("|---" * (len(LANGUAGES) + 3) + "|")
    for name in names or list(VARIANTS):
        started = time.monotonic()
        predicted = VARIANTS[name](X[train], y, lang, X[dev], langd)
        scores = [float((predicted[langd == language] == yd[langd == language]).mean()) for language in LANGUAGES]
        cells = [f"{s:.3f}" for s in scores]
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(scores):.3f} | {time.monotonic() - started:.0f} |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
