"""Held-out intent accuracy per language, with floors (tests/nlu/heldout/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.language.catalog import load_catalog
from scripts.nlu_eval import confusions, evaluate

pytestmark = pytest.mark.model

# DESIGN/issue floors: 0.90 for Finnish, Swedish and English, 0.85 for the others.
FLOORS = {"fi": 0.90, "sv": 0.90, "en": 0.90}
DEFAULT_FLOOR = 0.85


@pytest.fixture(scope="module")
def results(trained_model: Path) -> dict:
    return evaluate(trained_model, load_catalog().supported)


@pytest.mark.parametrize("language", load_catalog().supported)
def test_heldout_accuracy_floor(results: dict, language: str) -> None:
    score, predictions = results[language]
    floor = FLOORS.get(language, DEFAULT_FLOOR)
    worst = list(confusions(predictions).items())[:10]
    assert score.accuracy >= floor, (
        f"{language}: {score.accuracy:.3f} < {floor}; top confusions {worst}"
    )


@pytest.mark.parametrize("language", load_catalog().supported)
def test_heldout_language_is_never_flipped_wrongly(results: dict, language: str) -> None:
    """Inside a conversation in the user's language, at most 1 % of messages switch it to another one."""
    from bot.language import LanguageDecider, load_catalog

    decider = LanguageDecider(load_catalog())
    _, predictions = results[language]
    flips = [
        (p.text, decision.code)
        for p in predictions
        if p.expected != "change_language"  # asking for another language is a switch, not a flip
        and (decision := decider.decide(p.text, {"conversation_language": language}, p.intent)).code != language
    ]
    assert len(flips) <= 0.01 * len(predictions), flips
