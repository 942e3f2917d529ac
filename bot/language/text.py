"""Text helpers shared by language detection and explicit-request matching."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

URL_OR_EMAIL = re.compile(r"(https?://\S+|www\.\S+|\S+@\S+\.\S+)", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)
# Chinese written straight after a Finnish word ("kotoutumiskoulutus怎么报名") is a word of its own.
HAN_RUN = re.compile("([\u3400-\u4dbf\u4e00-\u9fff]+)")

# Unicode blocks of the scripts the assistant has to tell apart.
SCRIPT_RANGES: tuple[tuple[str, int, int], ...] = (
    ("Cyrillic", 0x0400, 0x052F),
    ("Arabic", 0x0600, 0x06FF),
    ("Arabic", 0x0750, 0x077F),
    ("Arabic", 0xFB50, 0xFDFF),
    ("Arabic", 0xFE70, 0xFEFF),
    ("Han", 0x3400, 0x4DBF),
    ("Han", 0x4E00, 0x9FFF),
    ("Kana", 0x3040, 0x30FF),
    ("Hangul", 0xAC00, 0xD7AF),
    ("Ethiopic", 0x1200, 0x139F),
    ("Greek", 0x0370, 0x03FF),
    ("Hebrew", 0x0590, 0x05FF),
    ("Devanagari", 0x0900, 0x097F),
    ("Thai", 0x0E00, 0x0E7F),
    ("Georgian", 0x10A0, 0x10FF),
    ("Armenian", 0x0530, 0x058F),
)
UNSPACED_SCRIPTS = frozenset({"Han", "Kana", "Thai"})


# Persian written with an Arabic keyboard: ي and ك for ی and ک; and Vietnamese đ, which
# has no decomposition, written as d without the stroke like every other mark.
FOLD_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc", "đ": "d"})


def fold(text: str) -> str:
    """Lower-case and strip accents, so that 'Tyottomyys' matches 'työttömyys' and
    'dang ky' matches 'đăng ký', and write Arabic-keyboard ي/ك as ی/ک so both
    spellings are one word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", folded).translate(FOLD_LETTERS)


NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Folded (lower case, no accents), punctuation removed, single spaces: "Hej!" -> "hej"."""
    return " ".join(NOT_WORD.sub(" ", fold(text)).split())


def char_script(ch: str) -> str | None:
    code = ord(ch)
    for script, low, high in SCRIPT_RANGES:
        if low <= code <= high:
            return script
    if ch.isalpha():
        return "Latin"
    return None


def dominant_script(text: str) -> str | None:
    """The script of the message. Latin loses to any other script present: in
    "soviteltu päiväraha شو يعني" the Finnish service words are Latin, the user's
    own language is not."""
    counts: dict[str, int] = {}
    for ch in text:
        script = char_script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    others = {k: v for k, v in counts.items() if k != "Latin" and v >= 2}
    return max((others or counts).items(), key=lambda item: item[1])[0]


def words(text: str) -> list[str]:
    return WORD.findall(HAN_RUN.sub(r" \1 ", text))


@dataclass(frozen=True)
class ServiceWords:
    """Finnish service words (Kela, starttiraha, työkkäri, ...) that people use inside
    every language: whole words, and beginnings of inflected and compound forms
    ("Työmarkkinatoril", "kotoutumiskoulutusse")."""

    terms: frozenset[str]
    stems: tuple[str, ...]

    @classmethod
    def of(cls, terms: frozenset[str] | set[str], stems: tuple[str, ...]) -> ServiceWords:
        return cls(frozenset(fold(t) for t in terms), tuple(fold(s) for s in stems))

    def __contains__(self, word: str) -> bool:
        folded = fold(word)
        return folded in self.terms or folded.startswith(self.stems)

    def strip(self, text: str) -> str:
        """The text without links, e-mail addresses, numbers and service words."""
        return " ".join(w for w in words(URL_OR_EMAIL.sub(" ", text)) if w not in self)

    def count(self, text: str) -> int:
        return sum(1 for w in words(URL_OR_EMAIL.sub(" ", text)) if w in self)
