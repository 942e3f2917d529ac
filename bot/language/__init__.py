"""Language handling: which language each message is answered in (DESIGN.md, "Language choice")."""

from bot.language.catalog import LanguageCatalog, load_catalog
from bot.language.decision import LanguageDecider, LanguageDecision, decide_language
from bot.language.detection import Detection, LanguageDetector

__all__ = [
    "Detection",
    "LanguageCatalog",
    "LanguageDecider",
    "LanguageDecision",
    "LanguageDetector",
    "decide_language",
    "load_catalog",
]
