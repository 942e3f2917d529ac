"""Language detection for short chat messages.

langdetect alone is unreliable on chat-length text: it is random unless seeded,
it knows 55 languages where we care about twelve, it takes three-word English
for French or Danish, and it is easily swayed by Finnish service words inside a
Swedish or English message ("hur ansöker jag om starttiraha"). Lingua measured
far better on the short test sets (docs/language.md), so the two are combined:
both are restricted to the languages the script allows, letters that only one
of our languages has decide between close pairs, service terms are ignored, a
message is trusted only when it is long enough, lingua is confident and the profile
of our training data agrees, and a message counts as "another language" only when
both detectors say so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from lingua import IsoCode639_1, LanguageDetectorBuilder
from lingua import Language as LinguaLanguage
from lingua import LanguageDetector as LinguaDetector

from bot.language.catalog import LanguageCatalog
from bot.language.profile import load_profile
from bot.language.text import UNSPACED_SCRIPTS, ServiceWords, dominant_script, words

# Which of the assistant's languages each script can be.
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Latin": ("fi", "sv", "en", "et", "so", "vi", "sq"),
    "Cyrillic": ("ru", "uk"),
    "Arabic": ("ar", "fa"),
    "Han": ("zh",),
}
# Scripts that none of the assistant's languages use, and the language to record.
OTHER_SCRIPT_LANGUAGES: dict[str, str] = {
    "Kana": "ja",
    "Hangul": "ko",
    "Ethiopic": "und-Ethi",  # Tigrinya or Amharic: langdetect knows neither
    "Greek": "el",
    "Hebrew": "he",
    "Devanagari": "hi",
    "Thai": "th",
    "Georgian": "ka",
    "Armenian": "hy",
}
# Letters that, among the assistant's languages, only one uses.
DISTINCTIVE_LETTERS: dict[str, re.Pattern[str]] = {
    "uk": re.compile("[іїєґІЇЄҐ]"),
    "ru": re.compile("[ыэъёЫЭЪЁ]"),
    "fa": re.compile("[پچژگکی]"),
    "ar": re.compile("[ةىكيأإ]"),
    "vi": re.compile("[ăđơưĂĐƠƯ\u1ea0-\u1ef9]"),
    "et": re.compile("[õÕ]"),
}
# Letters of Kurdish (Sorani) that Arabic and Persian do not use.
SORANI_LETTERS = re.compile("[\u0695\u06b5\u06ce\u06c6\u06d5]")
# A Latin-script message the training-data profile takes for Arabic, Persian, Russian,
# Ukrainian or Chinese with this share is not "another language" (docs/language.md).
ROMANIZED_MIN_SHARE = 0.5
LANGDETECT_CODES = {"zh-cn": "zh", "zh-tw": "zh"}
# Languages that share most of their short words: a detection between them is
# trusted only when the partner is clearly behind.
CLOSE_PAIRS = {"ru": "uk", "uk": "ru", "ar": "fa", "fa": "ar", "fi": "et", "et": "fi"}


@dataclass(frozen=True)
class Detection:
    # The best guess (lingua and the training-data profile combined) and its share.
    code: str | None
    confidence: float
    # Long enough and sure enough to change an ongoing conversation's language.
    trusted: bool
    word_count: int
    # Set when the text is confidently in a language outside the catalogue.
    other_language: str | None = None
    # langdetect gives that language too (`other_language_min_langdetect`): required inside a
    # conversation, where keyboard mash is likelier than a new language (docs/language.md).
    other_confirmed: bool = False
    # The script alone narrows it to this language or pair (Cyrillic, Arabic, Han, a
    # distinctive letter): the best guess stands even for one word.
    decisive: bool = False
    # The combined shares of the candidates, best first: [(code, share)].
    scores: tuple[tuple[str, float], ...] = ()
    # Lingua's own share for its best language among the script's candidates.
    lingua_confidence: float = 0.0
    # The message is verbatim in the training data; `scores` are then the shares of the
    # languages whose data has it (by how often).
    known: bool = False


def _lingua_language(code: str) -> LinguaLanguage | None:
    try:
        return LinguaLanguage.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except (AttributeError, ValueError):
        return None


def _lingua_detector(languages: list[LinguaLanguage], high_accuracy: bool) -> LinguaDetector:
    """Preloaded, so that no turn waits for a model to load. High accuracy adds the 1-, 2-, 4-
    and 5-gram models to the trigrams (better on short text, about 25 MB per language)."""
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    return builder.build() if high_accuracy else builder.with_low_accuracy_mode().build()


class LanguageDetector:
    """Seeded, restricted langdetect and lingua, combined by the rules above."""

    def __init__(self, catalog: LanguageCatalog) -> None:
        self.catalog = catalog
        self.settings = catalog.detection
        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.set_seed(self.settings.seed)
        ours = [lang for code in catalog.codes if (lang := _lingua_language(code)) is not None]
        others = [lang for code in self.settings.other_languages if (lang := _lingua_language(code)) is not None]
        mode = self.settings.lingua_mode
        # The guess among our languages, and the check for another language; one detector
        # serves both unless our Latin-script languages alone get the (large) high-accuracy
        # models: there lingua decides between seven languages, elsewhere the script and the
        # training-data profile do most of the work (docs/language.md, "Lingua's models").
        self._lingua = _lingua_detector([*ours, *others], high_accuracy=mode == "high")
        latin = [lang for code in SCRIPT_LANGUAGES["Latin"] if code in catalog.codes
                 and (lang := _lingua_language(code)) is not None]
        self._lingua_by_script = (
            {"Latin": _lingua_detector(latin, high_accuracy=True)} if mode == "high_for_latin" else {}
        )
        self.service_words = ServiceWords.of(catalog.service_terms, catalog.service_stems)
        self.profile = load_profile(tuple(catalog.supported), self.service_words)

    def _langdetect(self, text: str) -> list[tuple[str, float]]:
        """Seeded langdetect over all its languages, best first."""
        detector = self._factory.create()
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:
            return []
        merged: dict[str, float] = {}
        for item in ranked:
            code = LANGDETECT_CODES.get(item.lang, item.lang)
            merged[code] = merged.get(code, 0.0) + item.prob
        return sorted(merged.items(), key=lambda kv: kv[1], reverse=True)

    def _lingua_ranked(self, text: str, detector: LinguaDetector | None = None) -> list[tuple[str, float]]:
        return [
            (value.language.iso_code_639_1.name.lower(), value.value)
            for value in (detector or self._lingua).compute_language_confidence_values(text)
        ]

    def strip_service_terms(self, text: str) -> str:
        return self.service_words.strip(text)

    def raw(self, text: str) -> str | None:
        """Plain seeded langdetect over all its languages: the baseline for benchmarks."""
        ranked = self._langdetect(text)
        return ranked[0][0] if ranked else None

    def _other_language(self, cleaned: str, lingua_ranked: list[tuple[str, float]]) -> tuple[str | None, bool]:
        """A language outside the catalogue, when lingua and langdetect both say so; and whether
        langdetect gives lingua's language a share too (not only another of its own)."""
        if not lingua_ranked:
            return None, False
        top, confidence = lingua_ranked[0]
        if top in self.catalog.languages or confidence < self.settings.min_confidence_unsupported:
            return None, False
        _, our_words = self.profile.vocabulary_share(cleaned)
        if our_words >= self.settings.our_words_min_share:
            # Chat Swedish ("studera med dagpenning") and Vietnamese without tone marks read
            # as Danish or Latvian to lingua's smaller models; every word is in our data.
            return None, False
        unrestricted = self._langdetect(cleaned)
        if not unrestricted or unrestricted[0][0] in self.catalog.languages:
            return None, False
        # Keyboard mash ("blorp snarf quux grml") is a sure language to each detector, rarely the
        # same one: lingua's trigram models said Dutch, langdetect French and Catalan.
        confirmed = any(code == top and share >= self.settings.other_language_min_langdetect
                        for code, share in unrestricted)
        return top, confirmed

    def _combined(self, cleaned: str, script: str, lingua: dict[str, float]) -> dict[str, float]:
        """Lingua's shares and the training-data profile's, weighted (config/languages.yml);
        the profile's log probabilities are softened by a temperature, since naive Bayes
        is far too sure of itself."""
        settings = self.settings
        log_probs = self.profile.log_probabilities(cleaned, script)
        if not log_probs:
            return lingua
        top = max(log_probs.values())
        soft = {code: math.exp((lp - top) / settings.profile_temperature) for code, lp in log_probs.items()}
        total = sum(soft.values())
        weight = settings.lingua_weight
        codes = set(lingua) | set(soft)
        return {c: weight * lingua.get(c, 0.0) + (1 - weight) * soft.get(c, 0.0) / total for c in codes}

    def detect(self, text: str) -> Detection:
        cleaned = self.service_words.strip(text)
        tokens = words(cleaned)
        script = dominant_script(cleaned)
        if script is None:
            return Detection(None, 0.0, False, 0)
        service_count = self.service_words.count(text)
        if script in UNSPACED_SCRIPTS:
            size = sum(1 for ch in cleaned if not ch.isspace())
            own_enough = size >= self.settings.min_chars_unspaced
        else:
            own_enough = len(tokens) >= self.settings.min_words
        # Service words never make a message too short when the rest of it is unambiguous.
        with_service = own_enough or len(tokens) + service_count >= self.settings.min_words

        if script == "Arabic" and own_enough and SORANI_LETTERS.search(cleaned):
            # Kurdish (Sorani) in Arabic script: neither detector knows it, and it would pass for Persian.
            return Detection(None, 0.0, False, len(tokens), other_language="ckb", other_confirmed=True)
        if script in OTHER_SCRIPT_LANGUAGES:
            other = OTHER_SCRIPT_LANGUAGES[script] if own_enough else None
            # The script alone says so (Japanese, Greek, Ethiopic ...): no mash is written in it.
            return Detection(None, 0.0, False, len(tokens), other_language=other, other_confirmed=other is not None)

        candidates = [c for c in SCRIPT_LANGUAGES.get(script, ()) if c in self.catalog.languages]
        cue = [
            c
            for c in candidates
            if c in DISTINCTIVE_LETTERS and DISTINCTIVE_LETTERS[c].search(cleaned)
        ]
        if len(cue) == 1:
            candidates = cue
        if not candidates:
            return Detection(None, 0.0, False, len(tokens))
        if len(candidates) == 1:
            return Detection(candidates[0], 1.0, with_service, len(tokens), decisive=True,
                             scores=((candidates[0], 1.0),), lingua_confidence=1.0)

        if script != "Latin":
            # "пришел kielteinen päätös от Kela": the Finnish words say nothing of the pair.
            cleaned = " ".join(w for w in tokens if dominant_script(w) == script) or cleaned
        ours_detector = self._lingua_by_script.get(script, self._lingua)
        lingua_ranked = self._lingua_ranked(cleaned, ours_detector)
        other, other_confirmed = None, False
        if own_enough:
            every_language = lingua_ranked if ours_detector is self._lingua else self._lingua_ranked(cleaned)
            other, other_confirmed = self._other_language(cleaned, every_language)
        scores = {code: p for code, p in lingua_ranked if code in candidates}
        total = sum(scores.values())
        if total <= 0:
            return Detection(None, 0.0, False, len(tokens), other_language=other, other_confirmed=other_confirmed)
        shares = {code: p / total for code, p in scores.items()}
        code, lingua_share = max(shares.items(), key=lambda kv: kv[1])
        partner = CLOSE_PAIRS.get(code)
        close_call = partner in shares and shares[partner] >= self.settings.max_close_partner_share
        unambiguous = lingua_share >= self.settings.min_confidence_alone and not close_call
        long_enough = own_enough or (unambiguous and with_service)
        known = {c: v for c, v in self.profile.known(cleaned).items() if script == "Latin" or c in candidates}
        if known:
            total_known = sum(known.values())
            known = {c: v / total_known for c, v in known.items()}
            combined = sorted(known.items(), key=lambda kv: -kv[1])
        else:
            combined = sorted(self._combined(cleaned, script, shares).items(), key=lambda kv: -kv[1])
        best, best_share = combined[0]
        if other and best not in SCRIPT_LANGUAGES["Latin"] and best_share >= ROMANIZED_MIN_SHARE:
            # Russian translit or Arabizi reads as Slovak or Indonesian to both detectors,
            # which know nothing of romanised writing; the profile of our data does.
            other = None
        # Lingua sure enough and the training-data profile agreeing. (langdetect's agreement was
        # also required below min_confidence_alone: on the development sets it only kept 11
        # messages from switching a conversation to their right language, and it was a third
        # of a parse's language decision: docs/language.md, "Why two detectors".)
        trusted = (
            long_enough
            and other is None
            and best == code
            and lingua_share >= self.settings.min_confidence
            and not close_call
        )
        return Detection(best, best_share, trusted, len(tokens), other_language=other,
                         other_confirmed=other is not None and other_confirmed,
                         decisive=script != "Latin", scores=tuple(combined), lingua_confidence=lingua_share,
                         known=bool(known))
