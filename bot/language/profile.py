"""What our users' messages look like in each language: a character n-gram model
learnt from the assistant's own training data (data/nlu/<language>/).

Lingua knows general text (newspapers, the Leipzig corpora) and is the better
judge of an arbitrary word pair; but it has never seen a chat opener such as
"hej" (it says Albanian), Vietnamese without tone marks, Arabic in Latin letters
(Arabizi), Persian in Latin letters (Finglish) or Russian translit, all of which
the training data has in the folder of their language. One multinomial naive
Bayes model per script answers "which of our languages is this text in", so a
Latin-script message can be Arabic, Persian, Russian or Ukrainian too.

Messages the training data has verbatim ("hej", "tere", "salaan", "kiitos") are
looked up first: the languages whose training data has the message, by how often.
A message that the data of many languages has ("ok", "hi", "hei", "thanks":
immigrants write them in every language) is ambiguous, and the channel's hints
decide it.

Built when first needed, once per process, from the training data next to the
code (about three seconds): the model's data and this profile are always the
same files.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import yaml

from bot.language.text import ServiceWords, dominant_script, normalise
from bot.paths import PROJECT_ROOT

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
# Which languages each script's model may answer. Latin: every language, since
# Arabic, Persian, Russian, Ukrainian and Chinese are all typed in Latin letters too.
SCRIPT_CLASSES: dict[str, tuple[str, ...] | None] = {"Latin": None, "Cyrillic": ("ru", "uk"), "Arabic": ("ar", "fa")}
NGRAMS = (1, 4)
ALPHA = 0.1


def _examples(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:].strip())
    return texts


class DomainProfile:
    """Per-script naive Bayes over character 1-4-grams of the cleaned training texts."""

    def __init__(self, texts_by_language: dict[str, list[str]], service_words: ServiceWords) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.naive_bayes import MultinomialNB

        by_script: dict[str, tuple[list[str], list[str]]] = {}
        self._known: dict[str, Counter[str]] = {}
        self._vocabulary: dict[str, set[str]] = {}
        for language, texts in texts_by_language.items():
            vocabulary = self._vocabulary.setdefault(language, set())
            for text in texts:
                cleaned = service_words.strip(text).lower()
                if key := normalise(cleaned):
                    self._known.setdefault(key, Counter())[language] += 1
                    vocabulary.update(key.split())
                script = dominant_script(cleaned)
                allowed = SCRIPT_CLASSES.get(script, ()) if script else ()
                if script and (allowed is None or language in allowed):
                    by_script.setdefault(script, ([], []))[0].append(cleaned)
                    by_script[script][1].append(language)
        self._models = {}
        for script, (texts, labels) in by_script.items():
            if len(set(labels)) < 2:
                continue
            vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAMS)
            # Uniform priors: how many examples a language has says nothing about a message.
            model = MultinomialNB(alpha=ALPHA, fit_prior=False).fit(vectorizer.fit_transform(texts), labels)
            # Predicting multiplies by the transpose: in Fortran order it is read in place
            # instead of copied on every message (0.8 -> 0.35 ms; components/intent_classifier.py).
            model.feature_log_prob_ = np.asfortranarray(model.feature_log_prob_)
            self._models[script] = (vectorizer, model)

    def known(self, cleaned: str) -> dict[str, float]:
        """{language: share} of a message the training data has verbatim (once normalised); {} if none."""
        counts = self._known.get(normalise(cleaned))
        if not counts:
            return {}
        total = sum(counts.values())
        return {code: n / total for code, n in counts.most_common()}

    def vocabulary_share(self, cleaned: str) -> tuple[str | None, float]:
        """Our language whose training data has the largest share of the message's words
        (folded), and that share: "studera med dagpenning" is all Swedish words, whatever a
        detector of newspaper text says."""
        message_words = normalise(cleaned).split()
        if not message_words:
            return None, 0.0
        shares = {
            language: sum(word in vocabulary for word in message_words) / len(message_words)
            for language, vocabulary in self._vocabulary.items()
        }
        best = max(shares, key=shares.__getitem__, default=None)
        return best, shares.get(best, 0.0) if best else 0.0

    def log_probabilities(self, cleaned: str, script: str) -> dict[str, float]:
        """{language: log probability} for a message already cleaned of service words; {} if no model."""
        if script not in self._models or not cleaned.strip():
            return {}
        vectorizer, model = self._models[script]
        scores = model.predict_log_proba(vectorizer.transform([cleaned.lower()]))[0]
        return {str(code): float(score) for code, score in zip(model.classes_, scores, strict=True)}


@lru_cache(maxsize=2)
def load_profile(languages: tuple[str, ...], service_words: ServiceWords, nlu_dir: Path = NLU_DIR) -> DomainProfile:
    """The profile of the training data of `languages`, built once per process."""
    texts = {code: _examples(nlu_dir / code) for code in languages if (nlu_dir / code).is_dir()}
    return DomainProfile(texts, service_words)
