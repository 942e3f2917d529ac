"""Held-out NLU evaluation: top-1 intent accuracy and macro F1 per language.

The held-out sets in tests/nlu/heldout/<lang>.yml are never trained on.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

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


async def _predict(agent, examples: list[tuple[str, str]]) -> list[Prediction]:
    out = []
    for text, expected in examples:
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
            )
        )
    return out


def predict(agent, examples: list[tuple[str, str]]) -> list[Prediction]:
    return asyncio.run(_predict(agent, examples))


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


def evaluate(
    model: Path, languages: list[str] | None = None
) -> dict[str, tuple[LanguageScore, list[Prediction]]]:
    agent = load_agent(model)
    results = {}
    for language, examples in heldout_sets(languages).items():
        predictions = predict(agent, examples)
        results[language] = (score(language, predictions), predictions)
    return results


def confusions(predictions: list[Prediction]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for p in predictions:
        if p.intent != p.expected:
            counts[(p.expected, p.intent)] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
