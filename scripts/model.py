"""The trained model is named after the hash of everything that goes into it,
so that training runs only when an input changed (`make train`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.paths import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
# The project as Rasa's commands take it (train, data validate).
RASA_PROJECT_ARGS = ["--config", "config/config.yml", "--domain", "domain", "--data", "data"]
# Everything that changes what `rasa train` produces.
INPUT_GLOBS = (
    "config/config.yml",
    "config/languages.yml",
    "domain/**/*.yml",
    "data/**/*.yml",
    "components/**/*.py",
    "bot/language/**/*.py",
)


def input_files() -> list[Path]:
    files: set[Path] = set()
    for pattern in INPUT_GLOBS:
        files.update(p for p in PROJECT_ROOT.glob(pattern) if p.is_file())
    return sorted(files)


def inputs_hash() -> str:
    from rasa import __version__ as rasa_version

    digest = hashlib.sha256(f"rasa=={rasa_version}\n".encode())
    for path in input_files():
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_name() -> str:
    return f"assistant-{inputs_hash()}"


def model_path() -> Path:
    return MODELS_DIR / f"{model_name()}.tar.gz"
