"""Sweep FallbackClassifier thresholds on the held-out predictions of a model.

A fallback is right when the classifier's best intent would have been wrong,
and costly when it was right; the sweep prints both for each threshold.

    python -m scripts.tune_fallback models/experiments/<name>.tar.gz
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.nlu_eval import evaluate


def main(model: Path) -> None:
    predictions = [p for _, (_, preds) in evaluate(model).items() for p in preds]
    n = len(predictions)
    print(
        f"{'threshold':>9} {'ambiguity':>9} {'accuracy':>8} {'caught_wrong':>12} {'lost_right':>10}"
    )
    for threshold in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        for ambiguity in (0.0, 0.02, 0.05):
            kept_right = caught = lost = 0
            for p in predictions:
                falls_back = (
                    p.top_confidence < threshold
                    or (p.top_confidence - p.second_confidence) < ambiguity
                )
                right = p.top_intent == p.expected
                kept_right += right and not falls_back
                caught += (not right) and falls_back
                lost += right and falls_back
            print(f"{threshold:>9} {ambiguity:>9} {kept_right / n:>8.3f} {caught:>12} {lost:>10}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
