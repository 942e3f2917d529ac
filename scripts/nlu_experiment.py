"""Train an NLU-only model per experiment config and print training time and
accuracy per language on the development sets (docs/nlu.md records the results).

    python -m scripts.nlu_experiment docs/experiments/*.yml
    python -m scripts.nlu_experiment --timeout 1200 docs/experiments/lr_fold_char36.yml

Every config is trained on the full training data (data/nlu, all languages) into
models/experiments/<name>.tar.gz and evaluated on every development set in
tests/nlu/dev/ (pipeline choices are tuning: never on the held-out sets). The
output is a Markdown table, one row per config and one column per language:
top-1 accuracy with `nlu_fallback` counted wrong, and the unweighted mean over
the languages. A second table gives the classifier's best intent (fallback
ignored), and a third the accuracy per kind of message (plain, short, typos,
story, indirect, out_of_scope, ...) over all languages. A training run longer
than --timeout seconds is stopped and reported as such.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT
from scripts.nlu_data import DEV_KINDS
from scripts.nlu_eval import DEV, LanguageScore, Prediction, dev_sets, evaluate

OUT = PROJECT_ROOT / "models" / "experiments"


def train(config: Path, timeout: float | None) -> float | None:
    """Train one config; the wall-clock seconds, or None when stopped at the timeout."""
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "nlu",
            "--config",
            str(config),
            "--nlu",
            "data/nlu",
            "--out",
            str(OUT),
            "--fixed-model-name",
            config.stem,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    if code != 0:
        raise subprocess.CalledProcessError(code, process.args)
    return time.monotonic() - started


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def row(name: str, time_cell: str, cells: list[str]) -> str:
    return "| " + " | ".join([name, time_cell, *cells]) + " |"


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def kind_accuracies(predictions: list[Prediction]) -> list[str]:
    """Top-1 accuracy (fallback counted wrong) per kind of message, in DEV_KINDS order."""
    cells = []
    for kind in DEV_KINDS:
        of_kind = [p for p in predictions if p.kind == kind]
        cells.append(f"{sum(p.intent == p.expected for p in of_kind) / len(of_kind):.3f}" if of_kind else "–")
    return cells


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=1200, help="stop a training run after this many seconds")
    args = parser.parse_args(argv)

    # The catalogue's order (fi, sv, en, ...), then any other development set.
    supported = load_catalog().supported
    available = list(dev_sets())
    languages = [c for c in supported if c in available] + [c for c in available if c not in supported]
    header = row("configuration", "train time", [*languages, "mean"])
    rule = "|" + "---|" * (len(languages) + 3)
    accuracy_rows, top1_rows, kind_rows = [], [], []
    print(header, rule, sep="\n", flush=True)
    for config in args.configs:
        seconds = train(config, args.timeout)
        if seconds is None:
            line = row(config.stem, f"stopped after {duration(args.timeout)}", ["–"] * (len(languages) + 1))
            accuracy_rows.append(line)
            top1_rows.append(line)
            kind_rows.append(row(config.stem, line.split(" | ")[1], ["–"] * len(DEV_KINDS)))
            print(line, flush=True)
            continue
        results = evaluate(OUT / f"{config.stem}.tar.gz", data=DEV)
        scores: dict[str, LanguageScore] = {language: s for language, (s, _) in results.items()}
        everything = [p for _, predictions in results.values() for p in predictions]
        kind_rows.append(row(config.stem, duration(seconds), kind_accuracies(everything)))
        acc = [scores[language].accuracy for language in languages]
        top1 = [scores[language].top1_accuracy for language in languages]
        line = row(config.stem, duration(seconds), [f"{a:.3f}" for a in [*acc, mean(acc)]])
        accuracy_rows.append(line)
        top1_rows.append(row(config.stem, duration(seconds), [f"{a:.3f}" for a in [*top1, mean(top1)]]))
        print(line, flush=True)

    print("\nTop-1 accuracy, nlu_fallback counted wrong:", header, rule, *accuracy_rows, sep="\n")
    print("\nClassifier's best intent (fallback ignored):", header, rule, *top1_rows, sep="\n")
    kind_header = row("configuration", "train time", list(DEV_KINDS))
    print("\nTop-1 accuracy per kind of message, all languages:", kind_header,
          "|" + "---|" * (len(DEV_KINDS) + 2), *kind_rows, sep="\n")


if __name__ == "__main__":
    main()
