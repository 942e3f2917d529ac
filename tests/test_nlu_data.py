"""Training, held-out and development data: coverage per language and intent, and
no evaluation message is a near-duplicate of a message it is measured against
(scripts/near_duplicates.py: normalised character 3-grams, Jaccard >= 0.8 or one
contained in the other, for every language and every length)."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.language.catalog import load_catalog
from bot.language.text import fold
from scripts.near_duplicates import ReferenceIndex
from scripts.nlu_data import (
    DEV_DIR,
    DEV_KINDS,
    HELDOUT_DIR,
    NLU_DIR,
    all_training_texts,
    dev_sets,
    heldout_sets,
    load_examples,
    training_examples,
)
from tests.spec import conversation_intents, topic_names

MIN_TRAINING = {"fi": 15, "sv": 15, "en": 15}
DEFAULT_MIN_TRAINING = 12
MIN_HELDOUT_PER_TOPIC, MIN_HELDOUT_MESSAGES = 1, 150


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
def test_every_service_topic_has_heldout_examples(language: str) -> None:
    """Near-duplicates of training are removed from the held-out sets, so the short
    conversation intents ("hei", "kiitos", "ok") keep few examples or none (every
    natural way to say them is in training); every service topic keeps some."""
    examples = load_examples(HELDOUT_DIR / f"{language}.yml")
    counts = Counter(intent for _, intent in examples)
    assert {i: counts[i] for i in topic_names() if counts[i] < MIN_HELDOUT_PER_TOPIC} == {}
    assert len(examples) >= MIN_HELDOUT_MESSAGES


@pytest.fixture(scope="module")
def training_index() -> ReferenceIndex:
    return ReferenceIndex(all_training_texts())


@pytest.fixture(scope="module")
def heldout_index() -> ReferenceIndex:
    return ReferenceIndex([text for examples in heldout_sets().values() for text, _ in examples])


@pytest.mark.parametrize("language", SUPPORTED)
def test_heldout_examples_are_not_near_duplicates_of_training(language: str, training_index: ReferenceIndex) -> None:
    heldout = [text for text, _ in load_examples(HELDOUT_DIR / f"{language}.yml")]
    assert training_index.leaks(heldout) == []


def test_every_supported_language_has_a_development_set() -> None:
    assert sorted(dev_sets()) == sorted(SUPPORTED), DEV_DIR


@pytest.mark.parametrize("language", SUPPORTED)
def test_development_set_is_well_formed(language: str) -> None:
    examples = dev_sets([language])[language]
    assert {e["kind"] for e in examples} <= set(DEV_KINDS)
    assert {e["intent"] for e in examples} <= set(INTENTS)
    assert len({e["text"] for e in examples}) == len(examples)


@pytest.mark.parametrize("language", SUPPORTED)
def test_development_examples_are_not_near_duplicates_of_training_or_heldout(
    language: str, training_index: ReferenceIndex, heldout_index: ReferenceIndex
) -> None:
    dev = [e["text"] for e in dev_sets([language])[language]]
    assert training_index.leaks(dev) == []
    assert heldout_index.leaks(dev) == []


@pytest.mark.parametrize("language", SUPPORTED)
def test_no_example_is_labelled_with_two_intents(language: str) -> None:
    labels: dict[str, set[str]] = {}
    for text, intent in training_examples(language):
        labels.setdefault(normalised(text), set()).add(intent)
    assert {t: i for t, i in labels.items() if len(i) > 1} == {}
