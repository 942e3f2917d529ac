"""The language order of DESIGN.md: explicit choice, detection on a message long
enough to trust, the conversation's language, the channel's hint, the default."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from babel import Locale

from bot.language.catalog import LanguageCatalog
from bot.language.detection import SCRIPT_LANGUAGES, LanguageDetector
from bot.language.explicit import ExplicitRequestMatcher

EXPLICIT, DETECTED, CONVERSATION, HINT, DEFAULT = (
    "explicit",
    "detected",
    "conversation",
    "hint",
    "default",
)
# Metadata keys the gateway (or any REST client) may send with a message.
META_CHOICE = "language_choice"
META_CONVERSATION = "conversation_language"
META_HINT = "language_hint"


@dataclass(frozen=True)
class LanguageDecision:
    code: str
    source: str
    detected: str | None = None
    confidence: float = 0.0
    # The language of the message when the assistant does not speak it
    # (outside the list, or listed but not yet supported): answered in the
    # unsupported-language way and counted for work package 6.
    unsupported: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["confidence"] = round(self.confidence, 4)
        return data


# A BCP-47 language tag as clients send it ("sv-FI", "zh_Hans"): a language subtag, then subtags.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
MAX_TAG_CHARS = 35


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    """ISO 639 codes that name a language (CLDR, through Babel); not 'und' (undetermined)."""
    return frozenset(code for code in Locale("en").languages if "_" not in code) - {"und"}


def normalise_tag(tag: Any) -> str | None:
    """'sv-FI' -> 'sv', 'zh_Hans' -> 'zh'; None for anything that is not a language tag of
    at most 35 characters naming a known language. Clients choose these values (the web chat's
    customData, REST metadata), so nothing else may reach the slot, the logs or the reports."""
    if not isinstance(tag, str):
        return None
    tag = tag.strip()
    if len(tag) > MAX_TAG_CHARS or not LANGUAGE_TAG.match(tag):
        return None
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if code in known_languages() else None


class LanguageDecider:
    def __init__(self, catalog: LanguageCatalog, detector: LanguageDetector | None = None) -> None:
        self.catalog = catalog
        self.detector = detector or LanguageDetector(catalog)
        self.explicit = ExplicitRequestMatcher(catalog)

    def decide(
        self, text: str, metadata: dict[str, Any] | None = None, intent: str | None = None
    ) -> LanguageDecision:
        metadata = metadata if isinstance(metadata, dict) else {}
        catalog = self.catalog
        text = text or ""

        requested = normalise_tag(metadata.get(META_CHOICE))
        if requested is None:
            requested = (
                self.explicit.from_payload(text)
                if text.startswith("/")
                else self.explicit.from_words(text, intent)
            )
        if requested is not None:
            if catalog.is_supported(requested):
                return LanguageDecision(requested, EXPLICIT, requested, 1.0)
            return self._keep(metadata, requested, 1.0, unsupported=requested)
        if text.startswith("/"):
            return self._fallback(metadata)

        detection = self.detector.detect(text)
        if detection.other_language:
            return self._keep(
                metadata, detection.other_language, detection.confidence, unsupported=detection.other_language
            )
        if not (detection.trusted and detection.code) or self._romanized(detection, metadata):
            return self._keep(metadata, detection.code, detection.confidence)
        if catalog.is_supported(detection.code):
            return LanguageDecision(detection.code, DETECTED, detection.code, detection.confidence)
        return self._keep(metadata, detection.code, detection.confidence, unsupported=detection.code)

    def _keep(
        self, metadata: dict[str, Any], detected: str | None, confidence: float, unsupported: str | None = None
    ) -> LanguageDecision:
        """The language stays what the conversation, hint or default says; what was
        detected (and whether the assistant speaks it) is recorded beside it."""
        fallback = self._fallback(metadata)
        return LanguageDecision(fallback.code, fallback.source, detected, confidence, unsupported)

    def _romanized(self, detection, metadata: dict[str, Any]) -> bool:  # noqa: ANN001
        """Arabic, Persian, Russian, Ukrainian and Chinese speakers often write their own
        language in Latin letters (Arabizi, Finglish, translit): a Latin-script message in
        such a conversation switches it only when both detectors are sure."""
        conversation = normalise_tag(metadata.get(META_CONVERSATION))
        if not conversation or conversation == detection.code:
            return False
        latin = SCRIPT_LANGUAGES["Latin"]
        if conversation in latin or detection.code not in latin:
            return False
        return detection.confidence < self.catalog.detection.min_confidence_alone

    def _fallback(self, metadata: dict[str, Any]) -> LanguageDecision:
        for key, source in ((META_CONVERSATION, CONVERSATION), (META_HINT, HINT)):
            code = normalise_tag(metadata.get(key))
            if self.catalog.is_supported(code):
                return LanguageDecision(code, source)
        return LanguageDecision(self.catalog.default, DEFAULT)


_DECIDER: LanguageDecider | None = None


def decide_language(
    text: str, metadata: dict[str, Any] | None = None, intent: str | None = None
) -> LanguageDecision:
    """Module-level convenience with a shared decider (langdetect profiles load once)."""
    global _DECIDER
    if _DECIDER is None:
        from bot.language.catalog import load_catalog

        _DECIDER = LanguageDecider(load_catalog())
    return _DECIDER.decide(text, metadata, intent)
