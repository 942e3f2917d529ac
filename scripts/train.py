"""Train the model unless one trained from the same inputs is already in models/."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from scripts.model import MODELS_DIR, RASA_PROJECT_ARGS, model_name, model_path

KEEP_MODELS = 3
# Models trained within this many seconds are kept too: several checkouts (worktrees) may share
# one models/ folder, each training its own inputs.
KEEP_RECENT_SECONDS = 24 * 3600


def prune_old_models() -> None:
    models = sorted(MODELS_DIR.glob("assistant-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    cutoff = time.time() - KEEP_RECENT_SECONDS
    for old in models[:-KEEP_MODELS]:
        if old.stat().st_mtime >= cutoff:
            continue
        old.unlink()
        old.with_suffix("").with_suffix(".train.json").unlink(missing_ok=True)


def main() -> int:
    target = model_path()
    if target.exists():
        print(f"model up to date: {target.relative_to(MODELS_DIR.parent)}")
        return 0
    print(f"training {target.name} (inputs changed)", flush=True)
    command = [
        sys.executable, "-m", "rasa", "train", *RASA_PROJECT_ARGS,
        "--out", str(MODELS_DIR), "--fixed-model-name", model_name(),
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=MODELS_DIR.parent)
    if result.returncode == 0:
        seconds = round(time.monotonic() - started, 1)
        target.with_suffix("").with_suffix(".train.json").write_text(json.dumps({"train_seconds": seconds}))
        prune_old_models()
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
