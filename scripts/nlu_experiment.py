"""Train an NLU-only model per experiment config and print held-out accuracy per
language and training time (docs/nlu.md records the results).

    python -m scripts.nlu_experiment docs/experiments/*.yml
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bot.paths import PROJECT_ROOT
from scripts.nlu_eval import evaluate

OUT = PROJECT_ROOT / "models" / "experiments"


def run(config: Path) -> None:
    name = config.stem
    started = time.monotonic()
    subprocess.run(
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
            name,
        ],
        cwd=PROJECT_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    results = evaluate(OUT / f"{name}.tar.gz")
    cells = " ".join(
        f"{lang}={s.accuracy:.3f}/{s.top1_accuracy:.3f}" for lang, (s, _) in results.items()
    )
    print(f"{name}: train {seconds:.0f}s  acc/top1 {cells}", flush=True)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        run(Path(path))
