"""The console's own texts (locales/console/<fi|en>.yml)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

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


class Texts:
    """The texts of one console language under `prefix` (e.g. "analyst."), callable from
    templates: `t("key", count=3)`; `t.get(key, default)` for keys that may be missing."""

    def __init__(self, ui: str, prefix: str = "") -> None:
        self.ui = ui
        self.prefix = prefix
        self.texts = console_texts(ui)

    def __call__(self, key: str, **values: Any) -> str:
        return self.texts[self.prefix + key].format(**values)

    def get(self, key: str, default: str) -> str:
        return self.texts.get(self.prefix + key, default)

    def has(self, key: str) -> bool:
        return self.prefix + key in self.texts
