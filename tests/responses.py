"""The assistant's responses as the domain has them, for tests to recognise replies."""

from __future__ import annotations

from functools import lru_cache

import yaml

from bot.paths import PROJECT_ROOT


@lru_cache(maxsize=1)
def _responses() -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    for path in sorted((PROJECT_ROOT / "domain" / "responses").glob("*.yml")):
        merged.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", {}))
    return merged


def response(key: str, language: str) -> dict:
    for variation in _responses()[key]:
        if any(c.get("value") == language for c in variation.get("condition") or []):
            return variation
    raise KeyError((key, language))


def response_text(key: str, language: str, **slots: str) -> str:
    """The response's first line, with the given slot values filled in."""
    text = response(key, language)["text"].split("\n")[0]
    for name, value in slots.items():
        text = text.replace("{" + name + "}", value)
    return text


def response_start(key: str, language: str) -> str:
    """The beginning of a domain response in one language (before any {slot})."""
    return response(key, language)["text"].split("{")[0][:40]
