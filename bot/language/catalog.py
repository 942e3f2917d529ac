"""The language list of config/languages.yml, loaded once."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.paths import CONFIG_DIR


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str
    english_name: str
    direction: str
    status: str
    names: tuple[str, ...]

    @property
    def supported(self) -> bool:
        return self.status == "supported"


LINGUA_MODES = ("high", "high_for_latin", "low")


@dataclass(frozen=True)
class DetectionSettings:
    seed: int = 0
    min_words: int = 3
    min_chars_unspaced: int = 4
    min_confidence: float = 0.8
    min_confidence_alone: float = 0.95
    min_confidence_unsupported: float = 0.5
    # ... unless at least this share of its words are words of our training data in one language.
    our_words_min_share: float = 0.75
    # Inside a conversation another language needs langdetect to give lingua's language at least this.
    other_language_min_langdetect: float = 0.1
    max_close_partner_share: float = 0.25
    # A conversation in one of a close pair switches to the other only at this combined share.
    close_partner_switch_min_share: float = 0.75
    # The best guess: lingua's share weighted against the training-data profile's.
    lingua_weight: float = 0.3
    profile_temperature: float = 30.0
    # A conversation's first message: the best guess stands at any length when its
    # share (with the strongest hint's language weighted up) is at least this.
    first_message_min_confidence: float = 0.5
    hint_weight: float = 2.0
    # A message the training data has verbatim: its language when at least this share of
    # its occurrences are in one language ("hej"), else the hints decide ("ok", "hi").
    known_message_min_share: float = 0.6
    other_languages: tuple[str, ...] = ()
    # lingua's models: "high" (every language in high-accuracy mode), "high_for_latin" (our
    # languages written in Latin letters in high-accuracy mode for the guess among them, where
    # lingua decides most; every language, other_languages too, in low-accuracy mode for the
    # other scripts and to recognise another language) or "low" (all low-accuracy).
    lingua_mode: str = "high_for_latin"


@dataclass(frozen=True)
class LanguageCatalog:
    default: str
    languages: dict[str, Language]
    unsupported_reply_languages: tuple[str, ...]
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    service_terms: frozenset[str] = frozenset()
    service_stems: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        """Every language in the list, supported or planned."""
        return list(self.languages)

    @property
    def supported(self) -> list[str]:
        return [code for code, lang in self.languages.items() if lang.supported]

    def is_supported(self, code: str | None) -> bool:
        return code is not None and code in self.languages and self.languages[code].supported

    def direction(self, code: str) -> str:
        return self.languages[code].direction if code in self.languages else "ltr"

    def with_detection(self, **settings: Any) -> LanguageCatalog:
        """The same catalogue with some detection settings changed (tuning and tests)."""
        return dataclasses.replace(self, detection=dataclasses.replace(self.detection, **settings))


def parse_catalog(raw: dict) -> LanguageCatalog:
    languages = {
        code: Language(
            code=code,
            native_name=entry["native_name"],
            english_name=entry["english_name"],
            direction=entry.get("direction", "ltr"),
            status=entry.get("status", "planned"),
            names=tuple(str(name) for name in entry.get("names", [])),
        )
        for code, entry in raw["languages"].items()
    }
    default = raw.get("default", "fi")
    if default not in languages or not languages[default].supported:
        raise ValueError(f"default language {default!r} must be a supported language")
    return LanguageCatalog(
        default=default,
        languages=languages,
        unsupported_reply_languages=tuple(raw.get("unsupported_reply_languages", ["en", "fi"])),
        detection=_detection_settings(raw.get("detection", {})),
        service_terms=frozenset(term.lower() for term in raw.get("service_terms", [])),
        service_stems=tuple(stem.lower() for stem in raw.get("service_stems", [])),
    )


def _detection_settings(raw: dict) -> DetectionSettings:
    raw = dict(raw)
    raw["other_languages"] = tuple(raw.get("other_languages", ()))
    if raw.get("lingua_mode", DetectionSettings.lingua_mode) not in LINGUA_MODES:
        raise ValueError(f"detection.lingua_mode must be one of {', '.join(LINGUA_MODES)}")
    return DetectionSettings(**raw)


@lru_cache(maxsize=4)
def load_catalog(path: Path | None = None) -> LanguageCatalog:
    """config/languages.yml; the environment variable LINGUA_MODE overrides detection.lingua_mode
    (a deployment short of memory: docs/language.md, "Lingua's models and memory")."""
    path = path or CONFIG_DIR / "languages.yml"
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if mode := os.environ.get("LINGUA_MODE"):
        raw["detection"] = {**raw.get("detection", {}), "lingua_mode": mode}
    return parse_catalog(raw)
