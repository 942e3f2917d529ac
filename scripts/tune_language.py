"""Sweep the first-message language settings on the development sets (never on held-out).

For every development message of language L it decides the language of a new
conversation with no hint, with a Finnish browser (the commonest mismatch), with
an English browser and with the writer's own language as the hint, and inside a
conversation already in L (how often a message flips it). Prints the worst and
the mean language per scenario for each setting; config/languages.yml holds the
chosen ones (docs/language.md).

    python -m scripts.tune_language
    python -m scripts.tune_language --lingua-mode low   # one setting of lingua's models:
        # the scenarios at the configured thresholds, messages taken for another language,
        # and the resident memory the detector adds (run once per mode: lingua keeps models)
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from bot.language import LanguageDecider, LanguageDetector, load_catalog
from scripts.nlu_data import dev_sets

SCENARIOS = {
    "no_hint": lambda language: {},
    "fi_browser": lambda language: {"language_hints": ["fi-FI", "en-US"]},
    "en_browser": lambda language: {"language_hints": ["en-US"]},
    "own_hint": lambda language: {"language_hints": [language]},
}


class CachedDetector(LanguageDetector):
    """The detector, remembering each text's detection (the sweep decides each text many times)."""

    def __init__(self, catalog) -> None:  # noqa: ANN001
        super().__init__(catalog)
        self.detect = lru_cache(maxsize=None)(super().detect)  # type: ignore[method-assign]


def sweep(detector: CachedDetector, sets: dict[str, list[dict[str, str]]], **settings: float) -> dict[str, list[float]]:
    catalog = detector.catalog
    tuned = catalog.with_detection(**settings)
    decider = LanguageDecider(tuned, detector)
    scores: dict[str, list[float]] = {name: [] for name in [*SCENARIOS, "flips"]}
    for language, examples in sets.items():
        texts = [e["text"] for e in examples]
        for name, hints in SCENARIOS.items():
            metadata = hints(language)
            scores[name].append(sum(decider.decide(t, metadata).code == language for t in texts) / len(texts))
        context = {"conversation_language": language}
        flips = [e for e in examples if e["intent"] != "change_language"
                 and decider.decide(e["text"], context).code != language]
        scores["flips"].append(len(flips) / len(examples))
    return scores


def worst_and_mean(scenario: str, values: list[float]) -> tuple[float, float]:
    """The worst language (the highest flip rate, else the lowest accuracy) and the mean."""
    return (max(values) if scenario == "flips" else min(values)), sum(values) / len(values)


def compare_mode(mode: str) -> None:
    """The configured thresholds with lingua's models in `mode`: figures and memory."""
    import psutil

    process = psutil.Process()
    catalog = load_catalog().with_detection(lingua_mode=mode)
    sets = dev_sets(catalog.supported)
    before = process.memory_info().rss
    detector = CachedDetector(catalog)
    added = (process.memory_info().rss - before) / 2**20
    scores = sweep(detector, sets)
    others = sum(detector.detect(e["text"]).other_language is not None for ex in sets.values() for e in ex)
    print(f"lingua_mode {mode}: detector {added:.0f} MB; taken for another language {others} of "
          f"{sum(len(ex) for ex in sets.values())}")
    print(f"{'scenario':<12}" + "".join(f"{code:>7}" for code in sets) + f"{'worst':>8}{'mean':>7}")
    for name, values in scores.items():
        worst, mean = worst_and_mean(name, values)
        print(f"{name:<12}" + "".join(f"{v:>7.3f}" for v in values) + f"{worst:>8.3f}{mean:>7.3f}")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lingua-mode", help="figures and memory for one lingua_mode instead of the sweep")
    options = parser.parse_args()
    if options.lingua_mode:
        compare_mode(options.lingua_mode)
        return
    catalog = load_catalog()
    detector = CachedDetector(catalog)
    sets = dev_sets(catalog.supported)
    header = "".join(f"{name:>22}" for name in [*SCENARIOS, "flips"])
    print(f"{'first_min':>9} {'hint_w':>6} {'known':>5}{header}")
    print(f"{'':>22}" + "".join(f"{'worst  mean':>22}" for _ in [*SCENARIOS, "flips"]))
    for first_min, hint_weight, known in itertools.product((0.0, 0.2, 0.3, 0.4, 0.5), (1.0, 2.0, 4.0), (0.5, 0.6)):
        scores = sweep(detector, sets, first_message_min_confidence=first_min, hint_weight=hint_weight,
                       known_message_min_share=known)
        cells = []
        for name, values in scores.items():
            worst, mean = worst_and_mean(name, values)
            cells.append(f"{worst:>15.3f}{mean:>7.3f}")
        print(f"{first_min:>9} {hint_weight:>6} {known:>5}" + "".join(cells))


if __name__ == "__main__":
    main()
