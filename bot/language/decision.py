"""The language order of DESIGN.md: explicit choice, detection on a message long
enough to trust, the conversation's language, the channel's hints, the default.

A conversation's first message (no conversation language yet) is different: the
detector's best guess stands at any length when the script decides (Cyrillic,
Arabic, Han, a distinctive letter) or the guess is sure enough; only otherwise
do the hints decide. Inside a conversation a short message never changes the
language, and a message is another language only when both detectors name it
(keyboard mash is a sure language to each of them, rarely the same one)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from babel import Locale

from bot.language.catalog import LanguageCatalog
from bot.language.detection import CLOSE_PAIRS, SCRIPT_LANGUAGES, LanguageDetector
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
# The browser's languages in its order of preference (navigator.languages), BCP-47 tags.
META_HINTS = "language_hints"
# What a channel may pass on as hints: BCP-47-looking tags, at most this many.
HINT_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_HINT_CHARS, MAX_HINTS = 35, 10


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


def valid_hints(raw: Any) -> list[str]:
    """The browser's language tags as a channel received them, kept only if they look
    like BCP-47 tags (at most 35 characters each; the first 10): anything else is ignored."""
    if not isinstance(raw, list | tuple):
        return []
    return [tag for tag in raw[:MAX_HINTS]
            if isinstance(tag, str) and len(tag) <= MAX_HINT_CHARS and HINT_TAG.match(tag)]


def hint_tags(metadata: dict[str, Any] | None) -> list[str]:
    """The channel's hints, strongest first: the browser's languages (`language_hints`,
    in order), then the single `language_hint` (Telegram's language_code); normalised,
    each once."""
    metadata = metadata if isinstance(metadata, dict) else {}
    listed = metadata.get(META_HINTS)
    tags = list(listed) if isinstance(listed, list | tuple) else []
    tags.append(metadata.get(META_HINT))
    out: list[str] = []
    for tag in tags:
        code = normalise_tag(tag)
        if code and code not in out:
            out.append(code)
    return out


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
        in_conversation = normalise_tag(metadata.get(META_CONVERSATION)) is not None
        if detection.other_language and (detection.other_confirmed or not in_conversation):
            return self._keep(
                metadata, detection.other_language, detection.confidence, unsupported=detection.other_language
            )
        if not in_conversation:
            return self._first_message(detection, metadata)
        if (not (detection.trusted and detection.code) or self._romanized(detection, metadata)
                or self._close_partner_in_doubt(detection, metadata)):
            return self._keep(metadata, detection.code, detection.confidence)
        return self._detected(detection.code, detection.confidence, metadata)

    def _detected(self, code: str, confidence: float, metadata: dict[str, Any]) -> LanguageDecision:
        if self.catalog.is_supported(code):
            return LanguageDecision(code, DETECTED, code, confidence)
        return self._keep(metadata, code, confidence, unsupported=code)

    def _first_message(self, detection, metadata: dict[str, Any]) -> LanguageDecision:  # noqa: ANN001
        """No conversation language yet: the best guess at any length when the script
        decides or the guess is sure enough (the strongest hint's language weighted up by
        `hint_weight`, which settles a close call between its language and another);
        otherwise the hints, then the default."""
        if not detection.code:
            return self._keep(metadata, detection.code, detection.confidence)
        if detection.trusted:
            return self._detected(detection.code, detection.confidence, metadata)
        settings = self.catalog.detection
        scores = dict(detection.scores) or {detection.code: detection.confidence}
        hint = next((code for code in hint_tags(metadata) if self.catalog.is_supported(code)), None)
        if hint in scores:
            scores[hint] *= settings.hint_weight
        total = sum(scores.values()) or 1.0
        code, share = max(((c, v / total) for c, v in scores.items()), key=lambda kv: kv[1])
        threshold = settings.known_message_min_share if detection.known else settings.first_message_min_confidence
        if detection.decisive or share >= threshold:
            return self._detected(code, share, metadata)
        return self._keep(metadata, detection.code, detection.confidence)

    def _keep(
        self, metadata: dict[str, Any], detected: str | None, confidence: float, unsupported: str | None = None
    ) -> LanguageDecision:
        """The language stays what the conversation, hint or default says; what was
        detected (and whether the assistant speaks it) is recorded beside it."""
        fallback = self._fallback(metadata)
        return LanguageDecision(fallback.code, fallback.source, detected, confidence, unsupported)

    def _close_partner_in_doubt(self, detection, metadata: dict[str, Any]) -> bool:  # noqa: ANN001
        """A Ukrainian conversation switches to Russian (and Russian to Ukrainian, Arabic to
        Persian, Finnish to Estonian and back) only when the combined guess is clear: the
        two share most words' letters, and a typo ("допоможiть напсиати резюме") can tip
        lingua while our training data's profile sees a near tie."""
        conversation = normalise_tag(metadata.get(META_CONVERSATION))
        return (conversation is not None and CLOSE_PAIRS.get(detection.code) == conversation
                and detection.confidence < self.catalog.detection.close_partner_switch_min_share)

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
        return detection.lingua_confidence < self.catalog.detection.min_confidence_alone

    def _fallback(self, metadata: dict[str, Any]) -> LanguageDecision:
        conversation = normalise_tag(metadata.get(META_CONVERSATION))
        if self.catalog.is_supported(conversation):
            return LanguageDecision(conversation, CONVERSATION)
        for code in hint_tags(metadata):
            if self.catalog.is_supported(code):
                return LanguageDecision(code, HINT)
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
