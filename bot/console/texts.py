"""The console's own texts (locales/console/<fi|en>.yml)."""

from __future__ import annotations

from functools import lru_cache

import yaml

from bot.paths import PROJECT_ROOT
from bot.texts import flatten

CONSOLE_LOCALES = PROJECT_ROOT / "locales" / "console"
UI_LANGUAGES = ("fi", "en")


@lru_cache(maxsize=4)
def console_texts(language: str) -> dict[str, str]:
    code = language if language in UI_LANGUAGES else UI_LANGUAGES[0]
    return flatten(yaml.safe_load((CONSOLE_LOCALES / f"{code}.yml").read_text(encoding="utf-8")))


def console_text(language: str, key: str, **values: object) -> str:
    return console_texts(language)[key].format(**values)
