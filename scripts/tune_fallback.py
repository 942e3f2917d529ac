"""Sweep the fallback ("did you mean") settings on the development sets of a model.

Never on the held-out sets: those are read only by the floor tests and `make bench`.

A message falls back when the classifier's best intent is below `threshold`, or the
best two are closer than `ambiguity`; the user is then offered the likeliest
topics as buttons (config/fallback.yml) instead of an answer. For each setting the
sweep prints the accuracy left (a fallback counts as wrong), how many messages fall
back, how many of those had a wrong best intent (caught) or a right one (lost: one
extra click), and how often the right topic is among the buttons when it falls back
(rescued) and over every service-topic message (top3: what the buttons could do).

    python -m scripts.tune_fallback models/<model>.tar.gz
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.model import model_path
from scripts.nlu_eval import DEV, Prediction, evaluate, offered_topics, topic_titles_by_language

THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
AMBIGUITIES = (0.0, 0.02, 0.05, 0.1)
MIN_CONFIDENCES = (0.02, 0.05, 0.1)


def falls_back(p: Prediction, threshold: float, ambiguity: float) -> bool:
    return p.top_confidence < threshold or (p.top_confidence - p.second_confidence) < ambiguity


def main(model: Path) -> None:
    results = evaluate(model, data=DEV)
    titles = topic_titles_by_language()
    predictions = [(language, p) for language, (_, preds) in results.items() for p in preds]
    n = len(predictions)
    print(f"{n} development messages")
    print(f"{'threshold':>9} {'ambiguity':>9} {'min_conf':>8} {'accuracy':>8} {'fall_back':>9} {'caught':>6} "
          f"{'lost':>5} {'rescued':>7} {'top3':>6}")
    for threshold in THRESHOLDS:
        for ambiguity in AMBIGUITIES:
            for min_confidence in MIN_CONFIDENCES:
                kept_right = fell = caught = lost = rescued = topic_messages = in_top3 = 0
                for language, p in predictions:
                    right = p.top_intent == p.expected
                    offered = offered_topics(p, titles[language], min_confidence=min_confidence)
                    if p.expected in titles[language]:
                        topic_messages += 1
                        in_top3 += p.expected in offered
                    if falls_back(p, threshold, ambiguity):
                        fell += 1
                        caught += not right
                        lost += right
                        rescued += p.expected in offered
                    else:
                        kept_right += right
                print(f"{threshold:>9} {ambiguity:>9} {min_confidence:>8} {kept_right / n:>8.3f} {fell:>9} "
                      f"{caught:>6} {lost:>5} {rescued:>7} {in_top3 / max(topic_messages, 1):>6.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else model_path())
