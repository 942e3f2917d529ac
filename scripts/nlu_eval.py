"""NLU evaluation: top-1 intent accuracy and macro F1 per language.

The held-out sets (tests/nlu/heldout/<lang>.yml) are never trained on and never
tuned on: only the floor tests and `make bench` read them. Tuning reads the
development sets (tests/nlu/dev/<lang>.yml): `evaluate(model, data=DEV)`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from scripts.nlu_data import HELDOUT_DIR, dev_sets, heldout_sets, load_examples

__all__ = ["HELDOUT_DIR", "dev_sets", "heldout_sets", "load_examples"]

FALLBACK = "nlu_fallback"


@dataclass
class Prediction:
    text: str
    expected: str
    intent: str
    confidence: float
    # The best real intent even when the fallback classifier answered nlu_fallback.
    top_intent: str
    top_confidence: float
    second_confidence: float
    language: dict = field(default_factory=dict)
    # The real intents (nlu_fallback left out), best first: [(name, confidence)].
    ranking: list[tuple[str, float]] = field(default_factory=list)
    # The development sets' kind of message (plain, short, typos, ...).
    kind: str | None = None


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro F1 over the expected labels, from (expected, predicted) pairs."""
    labels = sorted({e for e, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for e, p in pairs if e == label and p == label)
        fp = sum(1 for e, p in pairs if e != label and p == label)
        fn = sum(1 for e, p in pairs if e == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def quiet_rasa_logs() -> None:
    """Rasa logs every parse at debug level through structlog; evaluations print figures only."""
    import logging

    import structlog

    logging.getLogger().setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def load_agent(model: Path):
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    quiet_rasa_logs()
    return agent


async def _predict(agent, examples: list[tuple[str, str]], kinds: list[str] | None = None) -> list[Prediction]:
    out = []
    for index, (text, expected) in enumerate(examples):
        result = await agent.parse_message(text)
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != FALLBACK]
        top = ranking[0] if ranking else {"name": result["intent"]["name"], "confidence": 0.0}
        second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        out.append(
            Prediction(
                text,
                expected,
                result["intent"]["name"],
                result["intent"]["confidence"],
                top["name"],
                top["confidence"],
                second,
                result.get("language", {}),
                [(r["name"], r["confidence"]) for r in ranking],
                kinds[index] if kinds else None,
            )
        )
    return out


def predict(agent, examples: list[tuple[str, str]], kinds: list[str] | None = None) -> list[Prediction]:
    return asyncio.run(_predict(agent, examples, kinds))


@dataclass
class LanguageScore:
    language: str
    examples: int
    accuracy: float
    macro_f1: float
    # Accuracy counting only the classifier's best intent (fallback ignored).
    top1_accuracy: float


def score(language: str, predictions: list[Prediction]) -> LanguageScore:
    n = len(predictions)
    return LanguageScore(
        language,
        n,
        sum(p.intent == p.expected for p in predictions) / n,
        macro_f1([(p.expected, p.intent) for p in predictions]),
        sum(p.top_intent == p.expected for p in predictions) / n,
    )


HELDOUT, DEV = "heldout", "dev"


def evaluate(
    model: Path, languages: list[str] | None = None, data: str = HELDOUT, agent=None,  # noqa: ANN001
) -> dict[str, tuple[LanguageScore, list[Prediction]]]:
    """Scores and predictions per language on the held-out sets, or on the development sets."""
    agent = agent or load_agent(model)
    results = {}
    if data == DEV:
        sets = {language: ([(e["text"], e["intent"]) for e in examples], [e["kind"] for e in examples])
                for language, examples in dev_sets(languages).items()}
    else:
        sets = {language: (examples, None) for language, examples in heldout_sets(languages).items()}
    for language, (examples, kinds) in sets.items():
        predictions = predict(agent, examples, kinds)
        results[language] = (score(language, predictions), predictions)
    return results


def confusions(predictions: list[Prediction]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for p in predictions:
        if p.intent != p.expected:
            counts[(p.expected, p.intent)] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def topic_titles_by_language(languages: list[str] | None = None) -> dict[str, dict[str, str]]:
    """{language: {topic: title}}: the topics "did you mean" can offer, as actions/fallback.py names them."""
    from actions.fallback import topic_titles
    from bot.language.catalog import load_catalog
    from bot.paths import PROJECT_ROOT

    responses: dict = {}
    for path in sorted((PROJECT_ROOT / "domain").rglob("*.yml")):
        responses.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    domain = {"responses": responses}
    return {code: topic_titles(domain, code) for code in languages or load_catalog().supported}


def offered_topics(prediction: Prediction, titles: dict[str, str], min_confidence: float | None = None) -> list[str]:
    """The topics "did you mean" would offer for this message (config/fallback.yml)."""
    from actions.fallback import suggestion_settings, suggestions

    settings = suggestion_settings()
    ranking = [{"name": name, "confidence": confidence} for name, confidence in prediction.ranking]
    floor = settings["min_confidence"] if min_confidence is None else min_confidence
    return suggestions(ranking, titles, int(settings["max_topics"]), float(floor))


def did_you_mean_recall(predictions: list[Prediction], titles: dict[str, str]) -> tuple[float, int, float]:
    """(share of service-topic messages whose topic is among the offered buttons, how many
    messages fall back, and that share among them)."""
    topical = [p for p in predictions if p.expected in titles]
    offered = [p.expected in offered_topics(p, titles) for p in topical]
    fell = [p for p in topical if p.intent == FALLBACK]
    rescued = [p.expected in offered_topics(p, titles) for p in fell]
    return (sum(offered) / max(len(topical), 1), len(fell), sum(rescued) / len(rescued) if rescued else float("nan"))
