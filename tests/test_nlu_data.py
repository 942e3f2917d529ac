"""Training and held-out data: coverage per language and intent, and the
held-out sets never leak into training."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.language.catalog import load_catalog
from bot.language.text import fold
from bot.paths import PROJECT_ROOT
from scripts.nlu_eval import HELDOUT_DIR, load_examples
from tests.spec import conversation_intents, topic_names

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
MIN_TRAINING = {"fi": 15, "sv": 15, "en": 15}
MIN_HELDOUT = {"fi": 5, "sv": 5, "en": 5}
DEFAULT_MIN_TRAINING, DEFAULT_MIN_HELDOUT = 12, 4


def training_examples(language: str) -> list[tuple[str, str]]:
    folder = NLU_DIR / language
    return [pair for path in sorted(folder.glob("*.yml")) for pair in load_examples(path)]


def normalised(text: str) -> str:
    return " ".join(fold(text).replace("?", " ").replace("!", " ").replace(".", " ").split())


SUPPORTED = load_catalog().supported
INTENTS = topic_names() + conversation_intents()


def test_training_data_is_one_folder_per_supported_language() -> None:
    folders = sorted(p.name for p in NLU_DIR.iterdir() if p.is_dir())
    assert set(SUPPORTED) <= set(folders)
    assert not list(NLU_DIR.glob("*.yml")), "NLU files belong in the folder of their language"


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_intent_has_enough_training_examples(language: str) -> None:
    counts = Counter(intent for _, intent in training_examples(language))
    minimum = MIN_TRAINING.get(language, DEFAULT_MIN_TRAINING)
    assert {i: counts[i] for i in INTENTS if counts[i] < minimum} == {}
    assert set(counts) <= set(INTENTS)


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_intent_has_enough_heldout_examples(language: str) -> None:
    path: Path = HELDOUT_DIR / f"{language}.yml"
    counts = Counter(intent for _, intent in load_examples(path))
    minimum = MIN_HELDOUT.get(language, DEFAULT_MIN_HELDOUT)
    assert {i: counts[i] for i in INTENTS if counts[i] < minimum} == {}


@pytest.mark.parametrize("language", SUPPORTED)
def test_heldout_examples_are_not_in_the_training_data(language: str) -> None:
    trained = {normalised(text) for lang in SUPPORTED for text, _ in training_examples(lang)}
    heldout = [text for text, _ in load_examples(HELDOUT_DIR / f"{language}.yml")]
    # One- and two-word replies ("kyllä", "tack") are the same everywhere; longer ones must not repeat.
    leaked = [t for t in heldout if len(t.split()) > 2 and normalised(t) in trained]
    assert leaked == []


@pytest.mark.parametrize("language", SUPPORTED)
def test_no_example_is_labelled_with_two_intents(language: str) -> None:
    labels: dict[str, set[str]] = {}
    for text, intent in training_examples(language):
        labels.setdefault(normalised(text), set()).add(intent)
    assert {t: i for t, i in labels.items() if len(i) > 1} == {}
