"""Explicit language requests: a payload, a gateway choice, or words such as
"in English please", "puhutaan ruotsia", "på svenska", "по-русски", "中文"."""

from __future__ import annotations

import json
import re

from bot.language.catalog import LanguageCatalog
from bot.language.text import fold, words

CHANGE_LANGUAGE_INTENT = "change_language"
FALLBACK_INTENT = "nlu_fallback"
PAYLOAD = re.compile(r"^/change_language(\{.*\})?\s*$", re.DOTALL)
# When the classifier was unsure, a language name with this many other words
# ("english please", "svara på ryska") still counts as a request.
MAX_OTHER_WORDS = 2


def _phrase_pattern(name: str) -> re.Pattern[str]:
    folded = fold(name)
    if all(not ch.isascii() and not ch.isspace() for ch in folded) and not words(folded)[1:]:
        # Chinese names are written without spaces: match anywhere.
        if any("\u3400" <= ch <= "\u9fff" for ch in folded):
            return re.compile(re.escape(folded))
    return re.compile(r"(?<![\w-])" + re.escape(folded) + r"(?![\w-])")


class ExplicitRequestMatcher:
    def __init__(self, catalog: LanguageCatalog) -> None:
        self.catalog = catalog
        self._patterns = [
            (code, len(words(fold(name))) or 1, _phrase_pattern(name))
            for code, lang in catalog.languages.items()
            for name in lang.names
        ]

    def from_payload(self, text: str) -> str | None:
        """The language of a `/change_language{"language": "sv"}` button payload."""
        match = PAYLOAD.match(text.strip())
        if not match or not match.group(1):
            return None
        try:
            value = json.loads(match.group(1)).get("language")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and value in self.catalog.languages else None

    def _other_words(self, folded: str) -> int:
        """Words besides the language names; Chinese, written without spaces, counts
        one word per two characters (most Chinese words have two)."""
        rest = folded
        for _, _, pattern in self._patterns:
            rest = pattern.sub(" ", rest)
        han = sum(1 for ch in rest if "\u3400" <= ch <= "\u9fff")
        spaced = [w for w in words(rest) if not any("\u3400" <= ch <= "\u9fff" for ch in w)]
        return len(spaced) + (han + 1) // 2

    def from_words(self, text: str, intent: str | None) -> str | None:
        """A language asked for in words; None when none or several are named."""
        folded = fold(text)
        found: dict[str, int] = {}
        for code, name_words, pattern in self._patterns:
            hits = pattern.findall(folded)
            if hits:
                found[code] = max(found.get(code, 0), name_words * len(hits))
        if len(found) != 1:
            return None
        code, _ = next(iter(found.items()))
        other_words = self._other_words(folded)
        # "interpreter in arabic" names a language but asks about interpreters:
        # only a bare name, or the classifier's change_language, is a request.
        if other_words <= 0 or intent == CHANGE_LANGUAGE_INTENT:
            return code
        if intent in (FALLBACK_INTENT, None) and other_words <= MAX_OTHER_WORDS:
            return code
        return None
