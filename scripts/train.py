"""Train the model unless one trained from the same inputs is already in models/."""

from __future__ import annotations

import subprocess
import sys

from scripts.model import MODELS_DIR, model_name, model_path

KEEP_MODELS = 3


def prune_old_models() -> None:
    models = sorted(MODELS_DIR.glob("assistant-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in models[:-KEEP_MODELS]:
        old.unlink()


def main() -> int:
    target = model_path()
    if target.exists():
        print(f"model up to date: {target.relative_to(MODELS_DIR.parent)}")
        return 0
    print(f"training {target.name} (inputs changed)", flush=True)
    command = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--config",
        "config/config.yml",
        "--domain",
        "domain",
        "--data",
        "data",
        "--out",
        str(MODELS_DIR),
        "--fixed-model-name",
        model_name(),
    ]
    result = subprocess.run(command, cwd=MODELS_DIR.parent)
    if result.returncode == 0:
        prune_old_models()
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
