"""The NLU data sets and where they live.

- training: data/nlu/<language>/*.yml (Rasa NLU YAML);
- held-out: tests/nlu/heldout/<language>.yml (Rasa NLU YAML), read only by the floor
  tests and `make bench`, never for tuning;
- development: tests/nlu/dev/<language>.yml (`language`, `examples: [{text, intent,
  kind}]`, written blind, docs/content/writing-dev-sets.md), for every tuning decision
  (fallback and did-you-mean thresholds, language thresholds, pipeline choice).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.paths import PROJECT_ROOT

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
HELDOUT_DIR = PROJECT_ROOT / "tests" / "nlu" / "heldout"
DEV_DIR = PROJECT_ROOT / "tests" / "nlu" / "dev"
DEV_KINDS = ("plain", "conversation", "short", "code_switch", "typos", "story", "indirect", "out_of_scope")


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for block in data.get("nlu", []):
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((line[2:].strip(), block["intent"]))
    return pairs


def training_examples(language: str) -> list[tuple[str, str]]:
    return [pair for path in sorted((NLU_DIR / language).glob("*.yml")) for pair in load_examples(path)]


def all_training_texts() -> list[str]:
    """Every training example of every language."""
    return [text for folder in sorted(p for p in NLU_DIR.iterdir() if p.is_dir())
            for text, _ in training_examples(folder.name)]


def heldout_sets(languages: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    sets = {p.stem: load_examples(p) for p in sorted(HELDOUT_DIR.glob("*.yml"))}
    return {k: v for k, v in sets.items() if languages is None or k in languages}


def load_dev_set(path: Path) -> list[dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [{"text": str(e["text"]), "intent": str(e["intent"]), "kind": str(e["kind"])}
            for e in data.get("examples") or []]


def dev_sets(languages: list[str] | None = None) -> dict[str, list[dict[str, str]]]:
    """{language: [{text, intent, kind}]} of the development sets."""
    sets = {p.stem: load_dev_set(p) for p in sorted(DEV_DIR.glob("*.yml"))}
    return {k: v for k, v in sets.items() if languages is None or k in languages}


def nlu_yaml(examples: list[tuple[str, str]]) -> str:
    """Rasa NLU YAML of (text, intent) pairs, intents in order of first appearance."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |", *(f"    - {text}" for text in texts)]
    return "\n".join(lines) + "\n"


def write_heldout_set(language: str, examples: list[tuple[str, str]]) -> None:
    (HELDOUT_DIR / f"{language}.yml").write_text(nlu_yaml(examples), encoding="utf-8")


def dev_yaml(language: str, examples: list[dict[str, str]]) -> str:
    return yaml.safe_dump({"language": language, "examples": examples}, allow_unicode=True, sort_keys=False,
                          width=1000, default_style=None)


def write_dev_set(language: str, examples: list[dict[str, str]]) -> None:
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    (DEV_DIR / f"{language}.yml").write_text(dev_yaml(language, examples), encoding="utf-8")
