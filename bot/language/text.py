"""Text helpers shared by language detection and explicit-request matching."""

from __future__ import annotations

import re
import unicodedata

URL_OR_EMAIL = re.compile(r"(https?://\S+|www\.\S+|\S+@\S+\.\S+)", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)

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


def fold(text: str) -> str:
    """Lower-case and strip accents, so that 'Tyottomyys' matches 'työttömyys'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def char_script(ch: str) -> str | None:
    code = ord(ch)
    for script, low, high in SCRIPT_RANGES:
        if low <= code <= high:
            return script
    if ch.isalpha():
        return "Latin"
    return None


def dominant_script(text: str) -> str | None:
    counts: dict[str, int] = {}
    for ch in text:
        script = char_script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    return max(counts.items(), key=lambda item: item[1])[0]


def words(text: str) -> list[str]:
    return WORD.findall(text)
