"""Issue 13, round 10: the tokenizers and the classifier tried and not kept (docs/nlu.md, "Round 10").

Not part of the assistant. To repeat the rows of docs/nlu.md:

    PYTHONPATH=.:docs/experiments/round10 python -m scripts.nlu_experiment \\
        docs/experiments/round10/*.yml

- `CollapseTokenizer`: repeated letters written once ("waxaan" and "waxan", "shaqo" and
  "shaqoo" become one feature).
- `ConceptTokenizer`: one more token per concept of `concepts/<language>.yml` that the
  message mentions ("xxc_money" for "lacagta", "tiền", "rahaa", "钱"), shared by all twelve
  languages, so that what the classifier learns of a concept in one language carries over.
  The lexicons were written per language from `concepts/concepts.txt`. Entries that would
  mean something else are left out when loading: single words of one or two letters,
  Vietnamese single syllables (without tone marks "toi" is both "I" and "evening"), and words
  common in another language's training data whose own lexicon does not give them the same
  concept (Finnish "ja" is "and", Swedish "man" is "one"). `ContentConceptTokenizer`: the
  same without the concepts every topic's questions use.
- `WeightedBlocksClassifier`: our classifier with each featuriser's block of features scaled
  (`block_weights`).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix

from bot.language.text import fold
from components.folding_tokenizer import FoldingTokenizer
from components.intent_classifier import LogisticRegressionClassifier
from scripts.nlu_data import NLU_DIR, training_examples

REPEATED_LETTER = re.compile(r"(\w)\1+")
WORDS = re.compile(r"\w+")
HAN = re.compile("[\u3400-\u9fff]")
LEXICONS = Path(__file__).parent / "concepts"
# Service words written in Finnish inside every language keep their meaning.
SHARED_WORDS = {"cv", "te"}

Entry = tuple[tuple[str, ...], bool]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class CollapseTokenizer(FoldingTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        return [Token(REPEATED_LETTER.sub(r"\1", t.text), t.start, t.end, data=t.data)
                for t in super().tokenize(message, attribute)]


def normal(entry: str) -> Entry:
    """An entry's folded words, and whether its last word is a stem ("lacag*")."""
    entry = entry.strip().lower()
    return tuple(WORDS.findall(fold(entry.rstrip("*")))), entry.endswith("*")


@lru_cache(maxsize=1)
def training_vocabularies() -> dict[str, Counter]:
    """Folded word counts of each language's training data."""
    return {folder.name: Counter(word for text, _ in training_examples(folder.name)
                                 for word in WORDS.findall(fold(text)))
            for folder in sorted(p for p in NLU_DIR.iterdir() if p.is_dir())}


class Lexicon:
    def __init__(self, directory: Path = LEXICONS) -> None:
        self.exact: dict[str, set[str]] = {}
        self.stems: dict[str, list[tuple[str, str]]] = {}
        self.phrases: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
        self.han: list[tuple[str, str]] = []
        self.dropped: list[tuple[str, str, str]] = []
        written = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                   for path in sorted(directory.glob("*.yml"))}
        self.means = {language: {str(c): [normal(str(e)) for e in entries or []] for c, entries in data.items()}
                      for language, data in written.items()}
        for language, data in written.items():
            for concept, entries in data.items():
                for entry in map(str, entries or []):
                    if self.ambiguous(language, str(concept), entry):
                        self.dropped.append((language, str(concept), entry))
                    else:
                        self.add(str(concept), entry)

    def listed(self, language: str, concept: str, word: str) -> bool:
        """Whether `language`'s own lexicon gives `word` this concept."""
        return any(len(words) == 1 and (word == words[0] or (stem and word.startswith(words[0])))
                   for words, stem in self.means.get(language, {}).get(concept, []))

    def ambiguous(self, language: str, concept: str, entry: str) -> bool:
        if HAN.search(entry):
            return False
        words, stem = normal(entry)
        if len(words) != 1:
            return False
        word = words[0]
        if len(word) <= 2 and word not in SHARED_WORDS:
            return True
        if language == "vi" and not stem:
            return True
        for other, counts in training_vocabularies().items():
            if other == language or other not in self.means:
                continue
            used = {w for w in counts if (w.startswith(word) if stem else w == word)}
            if sum(min(counts[w], 3) for w in used) < 3:
                continue
            if not all(self.listed(other, concept, w) or self.listed("fi", concept, w) for w in used):
                return True
        return False

    def add(self, concept: str, entry: str) -> None:
        if HAN.search(entry):
            self.han.append((fold(entry.strip().lower()).replace(" ", ""), concept))
            return
        words, stem = normal(entry)
        if len(words) == 1 and stem and len(words[0]) >= 4:
            self.stems.setdefault(words[0][:4], []).append((words[0], concept))
        elif len(words) == 1:
            self.exact.setdefault(words[0], set()).add(concept)
        elif words:
            self.phrases.setdefault(words[0], []).append((words, stem, concept))

    def concepts(self, text: str) -> list[str]:
        """The concepts a message mentions, each once."""
        folded = fold(text)
        found = {concept for entry, concept in self.han if entry in folded.replace(" ", "")}
        words = WORDS.findall(folded)
        for i, word in enumerate(words):
            found.update(self.exact.get(word, ()))
            found.update(concept for stem, concept in self.stems.get(word[:4], ()) if word.startswith(stem))
            for phrase, stem, concept in self.phrases.get(word, ()):
                tail = words[i:i + len(phrase)]
                if len(tail) == len(phrase) and tail[:-1] == list(phrase[:-1]) and (
                        tail[-1] == phrase[-1] or (stem and tail[-1].startswith(phrase[-1]))):
                    found.add(concept)
        return sorted(found)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon()


# Concepts that every topic's questions use (question words, time, courtesy, feelings).
FUNCTION_CONCEPTS = frozenset({
    "how", "what_happens", "when_time", "where", "why", "week", "month", "day", "yes", "no",
    "thanks", "hello", "bye", "help", "problem", "worried", "understand_not", "change", "search",
})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class ConceptTokenizer(FoldingTokenizer):
    left_out: frozenset[str] = frozenset()

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute != "text":
            return tokens
        end = len(message.get(attribute) or "")
        return tokens + [Token(f"xxc_{concept}", end, end) for concept in lexicon().concepts(message.get(attribute))
                         if concept not in self.left_out]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class ContentConceptTokenizer(ConceptTokenizer):
    """`ConceptTokenizer` without the concepts every topic's questions use."""

    left_out = FUNCTION_CONCEPTS


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class WeightedBlocksClassifier(LogisticRegressionClassifier):
    """Our classifier with each featuriser's block of features scaled by `block_weights`, in
    the pipeline's order (words, word pairs, character n-grams): with the same
    regularisation, a block scaled down counts for less."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "block_weights": [1.0, 1.0, 1.0]}

    def _create_X(self, messages: list[Message]) -> csr_matrix:  # noqa: N802 (Rasa's name)
        """Our rows (`binary` applied), each column scaled by its featuriser's weight."""
        matrix = super()._create_X(messages)
        _, sentence_features = messages[0]._filter_sparse_features(TEXT, [])
        widths = [f.features.shape[1] for f in sentence_features]
        weights = [float(w) for w in self.config["block_weights"]]
        column_weights = np.repeat(np.asarray(weights, dtype=matrix.dtype), widths)
        return csr_matrix(matrix.multiply(column_weights))
