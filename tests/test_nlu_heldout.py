"""Floors on the held-out sets (tests/nlu/heldout/, cleaned of near-duplicates of training):
intent accuracy per language and its spread, "did you mean" top-3 recall, and the
language decision without context and inside a conversation (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.language import LanguageDecider, load_catalog
from scripts.nlu_eval import confusions, did_you_mean_recall, evaluate, topic_titles_by_language

pytestmark = pytest.mark.model

LANGUAGES = load_catalog().supported
ACCURACY_FLOOR = 0.95
# The weakest language within this much of the strongest.
MAX_SPREAD = 0.03
TOP3_FLOOR = 0.98
NO_CONTEXT_FLOOR = 0.95
MAX_FLIP_RATE = 0.01
# Where the model of 2026-12-06 is still below the target (docs/nlu.md): expected to fail,
# strictly, so that reaching the target turns the test red until the entry is removed.
BELOW_ACCURACY = {"vi": 0.884, "zh": 0.914, "so": 0.925, "sq": 0.928, "ar": 0.936, "fa": 0.940}
BELOW_TOP3 = {"vi": 0.972, "sq": 0.975, "ar": 0.979}


def known_gaps(measured: dict[str, float], what: str) -> list:
    return [
        pytest.param(language, marks=pytest.mark.xfail(
            strict=True, reason=f"{what} {measured[language]} below the target (issue 13, docs/nlu.md)"))
        if language in measured else language
        for language in LANGUAGES
    ]


@pytest.fixture(scope="module")
def results(trained_model: Path) -> dict:
    return evaluate(trained_model, LANGUAGES)


@pytest.fixture(scope="module")
def decider() -> LanguageDecider:
    return LanguageDecider(load_catalog())


@pytest.mark.parametrize("language", known_gaps(BELOW_ACCURACY, "accuracy"))
def test_heldout_accuracy_floor(results: dict, language: str) -> None:
    score, predictions = results[language]
    worst = list(confusions(predictions).items())[:10]
    assert score.accuracy >= ACCURACY_FLOOR, (
        f"{language}: {score.accuracy:.3f} < {ACCURACY_FLOOR}; top confusions {worst}"
    )


@pytest.mark.xfail(strict=True, reason="spread 0.091 (vi 0.884, uk 0.975) above the target (issue 13, docs/nlu.md)")
def test_the_weakest_language_is_close_to_the_strongest(results: dict) -> None:
    accuracies = {language: score.accuracy for language, (score, _) in results.items()}
    assert max(accuracies.values()) - min(accuracies.values()) <= MAX_SPREAD, accuracies


@pytest.mark.parametrize("language", known_gaps(BELOW_TOP3, "top-3 recall"))
def test_did_you_mean_offers_the_right_topic(results: dict, language: str) -> None:
    """Among the two or three topics "did you mean" would offer, the right one."""
    _, predictions = results[language]
    recall, _, _ = did_you_mean_recall(predictions, topic_titles_by_language([language])[language])
    assert recall >= TOP3_FLOOR, f"{language}: {recall:.3f}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_first_message_is_answered_in_its_language(results: dict, decider: LanguageDecider, language: str) -> None:
    """No context at all (a new conversation, no browser hint): the message's own language."""
    _, predictions = results[language]
    wrong = [(p.text, code) for p in predictions if p.expected != "change_language"
             and (code := decider.decide(p.text, {}, p.intent).code) != language]
    assert len(wrong) <= (1 - NO_CONTEXT_FLOOR) * len(predictions), wrong


@pytest.mark.parametrize("language", LANGUAGES)
def test_heldout_language_is_never_flipped_wrongly(results: dict, decider: LanguageDecider, language: str) -> None:
    """Inside a conversation in the user's language, at most 1 % of messages switch it to another one."""
    _, predictions = results[language]
    flips = [
        (p.text, decision.code)
        for p in predictions
        if p.expected != "change_language"  # asking for another language is a switch, not a flip
        and (decision := decider.decide(p.text, {"conversation_language": language}, p.intent)).code != language
    ]
    assert len(flips) <= MAX_FLIP_RATE * len(predictions), flips
