"""Masking of personal data in free text (DESIGN.md, "Data").

`mask(text)` is the one function that every piece of free text goes through
before it leaves a conversation: the unresolved-question log, reports, cluster
examples, NLU exports. It replaces, in this order:

=====================  ================  ===============================================
what                   token             how it is recognised
=====================  ================  ===============================================
e-mail address         ``[email]``       local@domain.tld, also ``(at)``/``[at]``/``＠``,
                                         spaces around ``@`` and dots, and the signs
                                         as words (at/dot, ät/piste, snabel-a/punkt)
IBAN                   ``[iban]``        country code, check digits, 11-30 characters,
                                         with or without spaces; valid mod 97 only
personal identity code ``[personal_id]`` Finnish henkilötunnus DDMMYYCZZZQ with every
                                         century sign (+ - A-F Y X W V U; "-" also as
                                         a Unicode hyphen, dash or minus), valid date
card number            ``[card]``        13-19 digits, spaces or dashes, Luhn-valid
phone number           ``[phone]``       Finnish and international (libphonenumber,
                                         region FI), plus any +/00-prefixed number
                                         and Finnish mobile numbers glued to words
street address         ``[address]``     Finnish/Swedish street name (-tie, -katu,
                                         -kuja, -polku, -väylä, -vägen, -gatan,
                                         -gränd, ...) followed by a house number,
                                         with staircase/flat and postcode if present
=====================  ================  ===============================================

The tokens are fixed, lower-case ASCII words in square brackets, the same in
every language (never translated), so that reports, clusters and exports can
be read and grouped across languages. They contain no digits and no ``@``, so
masking is idempotent: ``mask(mask(x)) == mask(x)``.

A personal identity code is masked when its shape and date are valid, also
when its control character is wrong: a mistyped code still names the person.
`is_valid_hetu` checks the control character exactly (the tests use it as the
oracle "no valid identity code survives").

Ordinary numbers stay: counts ("4 hakemusta"), percentages ("80 %"), money
("37,21 €"), dates ("1.1.2026", "2026-01-01"), times ("9.00-16.00"), years,
postcodes on their own ("02100"), business ids ("1234567-8").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

EMAIL = "[email]"
IBAN = "[iban]"
PERSONAL_ID = "[personal_id]"
CARD = "[card]"
PHONE = "[phone]"
ADDRESS = "[address]"
TOKENS = {
    "email": EMAIL,
    "iban": IBAN,
    "personal_id": PERSONAL_ID,
    "card": CARD,
    "phone": PHONE,
    "address": ADDRESS,
}

# Hyphens, dashes and minus signs that look like "-" (identity codes, phone numbers and
# card numbers are typed or pasted with them). Every kind is looked for in the text with
# these read as "-": the same length, so the places found are the text's own.
UNICODE_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"
_AS_HYPHEN = str.maketrans(dict.fromkeys(UNICODE_HYPHENS, "-"))

# --- e-mail ---------------------------------------------------------------------------------------

# The local part starts where a run of its characters starts (the lookbehind keeps the
# search linear: without it every position inside a long run is tried again).
_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+"
    r"(?:@|＠|\s?[(\[]\s?(?:at|ät|AT)\s?[)\]]\s?)"
    r"(?:[\w-]+\.)+[\w-]{2,}"
)
# Addresses written to fool a machine, or by ear: spaces around "@" and the dots
# ("matti @ gmail . com"), and the signs as words: "at"/"dot" (English), "ät"/"piste"
# (Finnish), "snabel-a"/"punkt" (Swedish), also in brackets ("(dot)", "[piste]").
# Where a dot may have spaces around it, the address must end in a common top-level
# domain, so that "...@example.fi. Seuraava" does not swallow the next word.
EMAIL_TLDS = (
    "com|net|org|info|biz|edu|gov|int|io|eu|fi|se|ax|ee|lv|lt|no|dk|is|de|at|ch|nl|be|fr|es|pt|it|pl|cz|"
    "sk|hu|ro|bg|gr|uk|ie|ru|ua|by|kz|so|ir|af|iq|sy|tr|cn|hk|tw|vn|al|xk|mk|us|ca|au|in|pk|bd|ng|ke|et|"
    "er|ma|dz|tn|eg|sa|ae|jo|lb|ps|ye|am|ge|az|uz|tj|th|ph|my|id|jp|kr|br|ar|mx|cl|co|me|tv|online|app"
)
_EMAIL_LOCAL = r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+"
_DOT_WORD = r"(?:\s+(?:dot|piste|punkt)\s+|\s?[(\[]\s?(?:dot|piste|punkt)\s?[)\]]\s?)"
_DOT_ANY = rf"(?:\s?\.\s?|{_DOT_WORD})"
_TLD = rf"(?:{EMAIL_TLDS})(?![\w-])"
# "@" as a sign (with spaces), in brackets, or as a word only an address uses ("ät", "snabel-a").
_AT_SURE = (r"(?:\s*[@＠]\s*|\s?[(\[]\s?(?:at|ät|snabel-a)\s?[)\]]\s?"
            r"|\s+(?:ät|snabel-a|snabel a|at-merkki|miukumauku)\s+)")
_EMAIL_SPACED = re.compile(
    _EMAIL_LOCAL + _AT_SURE + rf"[\w-]+(?:{_DOT_ANY}[\w-]+){{0,8}}(?:\.[\w-]{{2,}}(?![\w-])|{_DOT_ANY}{_TLD})",
    re.IGNORECASE,
)
# "at" is also an ordinary English word: the address needs a dot in words, a known top-level
# domain at the end, and no article or pronoun as its domain ("at the dot com bubble" stays).
_NOT_A_DOMAIN = r"(?:the|a|an|this|that|these|those|my|your|his|her|its|our|their|some|any|no|one|home|work)"
_EMAIL_WORDS = re.compile(
    rf"{_EMAIL_LOCAL}(?:{_DOT_WORD}[\w-]+){{0,3}}\s+at\s+(?!{_NOT_A_DOMAIN}(?![\w-]))"
    rf"[\w-]+(?:{_DOT_WORD}[\w-]+){{0,8}}{_DOT_WORD}{_TLD}",
    re.IGNORECASE,
)

# --- IBAN -----------------------------------------------------------------------------------------

_IBAN_START = re.compile(r"(?<![^\W\d_])(?<!\d)[A-Za-z]{2}\d{2}(?=[ ]?[A-Za-z0-9])")
_IBAN_BODY = re.compile(r"(?:[ ]?[A-Za-z0-9]){11,30}")


def is_valid_iban(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    position = 0
    while match := _IBAN_START.search(text, position):
        body = _IBAN_BODY.match(text, match.end())
        found = None
        if body:
            # The longest prefix that ends on a character and validates: text may follow the IBAN.
            chunk = body.group(0)
            # The longest run of whole words that validates: ordinary words may follow an IBAN.
            ends = [end for end in range(len(chunk), 0, -1) if end == len(chunk) or chunk[end] == " "]
            for end in ends:
                if is_valid_iban(match.group(0) + chunk[:end]):
                    found = (match.start(), match.end() + end)
                    break
        if found:
            spans.append(found)
            position = found[1]
        else:
            position = match.start() + 1
    return spans


# --- personal identity code (henkilötunnus) -------------------------------------------------------

HETU_CONTROL = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURY = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}
_HETU = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})([-+A-FU-Ya-fu-y])(\d{3})([0-9A-Ya-y])(?![0-9])")


def _hetu_date_ok(day: str, month: str, year: str, sign: str) -> bool:
    try:
        date(CENTURY[sign.upper()] + int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def is_valid_hetu(code: str) -> bool:
    """A Finnish personal identity code with a valid date, century sign and control character."""
    match = _HETU.fullmatch(code.strip().translate(_AS_HYPHEN))
    if not match:
        return False
    day, month, year, sign, individual, control = match.groups()
    if not _hetu_date_ok(day, month, year, sign):
        return False
    return HETU_CONTROL[int(day + month + year + individual) % 31] == control.upper()


def hetu_control(birth_and_individual: str) -> str:
    """The control character of DDMMYY + ZZZ (nine digits)."""
    return HETU_CONTROL[int(birth_and_individual) % 31]


def _hetu_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _HETU.finditer(text) if _hetu_date_ok(m.group(1), m.group(2), m.group(3), m.group(4))]


# --- payment cards --------------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\d+])[1-9](?:[ -]?\d){12,18}(?!\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if luhn_ok(digits):
            spans.append(match.span())
    return spans


# --- phone numbers --------------------------------------------------------------------------------

# Numbers libphonenumber finds but that are dates or times ("01.01.2026", "9.00-16.00").
_DATE_OR_TIME = re.compile(
    r"\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[.:]\d{2}\s?[-–]\s?\d{1,2}[.:]\d{2}"
)
# Always a phone number: an international prefix and 7-15 digits, valid or not.
_INTERNATIONAL = re.compile(r"(?<!\d)(?:\+|00)\s?\d(?:[ \-.()/]{0,2}\d){6,14}(?!\d)")
# Finnish mobile numbers (04x, 050) also when glued to words ("puh0401234567").
_FINNISH_MOBILE = re.compile(r"(?<!\d)0(?:4\d|50)(?:[ \-.]?\d){6,8}(?!\d)")
# Other countries' domestic formats ("8 (912) 345-67-89", "067 123 45 67"): 9-15 digits in groups,
# written with a trunk prefix (0, 8) or with brackets or dashes between the groups.
_DIGIT_RUN = re.compile(r"(?<![\w.,])\(?\d+\)?(?:(?:\s{0,2}[-–]\s{0,2}|\s{1,2})\(?\d+\)?)*")
_DIGIT_GROUP = re.compile(r"\(?\d+\)?")
_NUMBER_GOES_ON = re.compile(r"[,.:]?\d")
_ISO_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}-\d{1,2}-\d{1,2}(?!\d)")


def _looks_domestic(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 9 <= len(digits) <= 15 or _ISO_DATE.search(candidate):
        return False
    return digits[0] in "08" or "(" in candidate or "-" in candidate or "–" in candidate


def _domestic_spans(text: str) -> list[tuple[int, int]]:
    """The longest groups of each run of digit groups that look like a domestic phone number."""
    spans = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _DIGIT_GROUP.finditer(run.group(0))]
        sizes = [sum(c.isdigit() for c in text[start:end]) for start, end in groups]
        first = 0
        while first < len(groups):
            # A phone number has at most 15 digits: no longer candidate is tried.
            reach, total = first, sizes[first]
            while reach + 1 < len(groups) and total + sizes[reach + 1] <= 15:
                reach += 1
                total += sizes[reach]
            for last in range(reach, first - 1, -1):
                start, end = groups[first][0], groups[last][1]
                if not _NUMBER_GOES_ON.match(text, end) and _looks_domestic(text[start:end]):
                    spans.append((start, end))
                    first = last
                    break
            first += 1
    return spans


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in PhoneNumberMatcher(text, "FI", leniency=Leniency.VALID):
        if _DATE_OR_TIME.fullmatch(match.raw_string.strip()):
            continue
        spans.append((match.start, match.end))
    spans += [m.span() for m in _INTERNATIONAL.finditer(text)]
    spans += [m.span() for m in _FINNISH_MOBILE.finditer(text)]
    spans += _domestic_spans(text)
    return spans


# --- street addresses -----------------------------------------------------------------------------

_FINNISH_STREETS = (
    "tie|tiellä|tieltä|tielle|tien|tiel|katu|kadulla|kadulta|kadulle|kadun|kadul|kuja|kujalla|kujalta|kujalle|"
    "kujan|polku|polulla|polulta|polulle|polun|väylä|väylällä|väylältä|väylälle|väylän|kaari|kaarella|kaaren|"
    "rinne|rinteellä|rinteen|raitti|raitilla|raitin|aukio|aukiolla|aukion|tori|torilla|torin|bulevardi|"
    "puistikko|mäki|mäellä|mäen|ranta|rannalla|rannan|kulma|portti|kaarre|kierros|piha|laita|penger|ahde|"
    "vaiha|veräjä|kantti|luoto|niemi"
)
_SWEDISH_STREETS = (
    "vägen|väg|gatan|gata|gränd|gränden|stigen|stig|backen|backe|torget|gången|kroken|bågen|leden|allén|allé|"
    "stranden|svängen|slingan|kvarnen|platsen|esplanaden"
)
_HOUSE_NUMBER = (
    r"\d{1,3}[A-Za-z]?(?![\d,.]\d)"                        # 12, 12a
    r"(?:\s?[-–]\s?\d{1,3}[A-Za-z]?)?"                      # 3-9
    r"(?:(?:\s?[A-HJ-Za-hj-z]\s?\d{1,3})"                   # B 34
    r"|(?:\s+(?:as|bst|lgh|asunto|bostad)\.?\s?\d{1,4})"    # as. 5, lgh 3
    r"|(?:\s?[A-HJ-Za-hj-z](?![^\W\d_])))?"                 # B
    r"(?:,?\s+\d{5}(?:\s+[^\W\d_]{2,})?)?"                  # , 02100 Espoo
)
_NOT_AN_ADDRESS_AFTER = r"(?!\s?(?:%|€|e\b|eur|euro|vuo|kk|kuu|päiv|pv|h\b|tun|vko|viik|år|dag|mån|vecka|st\b))"
_ADDRESS = re.compile(
    r"(?<![\w-])(?:[^\W\d_]+-)*[^\W\d_]{2,}?(?:" + _FINNISH_STREETS + "|" + _SWEDISH_STREETS + r")"
    r"\s+" + _HOUSE_NUMBER + _NOT_AN_ADDRESS_AFTER + r"(?!\d)",
    re.IGNORECASE,
)


def _address_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _ADDRESS.finditer(text)]


def _email_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in (_EMAIL, _EMAIL_SPACED, _EMAIL_WORDS) for m in pattern.finditer(text)]


# --- the pipeline ---------------------------------------------------------------------------------

_STEPS: list[tuple[str, Callable[[str], list[tuple[int, int]]]]] = [
    (EMAIL, _email_spans),
    (IBAN, _iban_spans),
    (PERSONAL_ID, _hetu_spans),
    (CARD, _card_spans),
    (PHONE, _phone_spans),
    (ADDRESS, _address_spans),
]


def _replace(text: str, spans: list[tuple[int, int]], token: str) -> str:
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, position = [], 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(token)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def mask(text: str) -> str:
    """The text with personal data replaced by the tokens of `TOKENS` (see the module docstring)."""
    if not text:
        return text
    for token, find in _STEPS:
        text = _replace(text, find(text.translate(_AS_HYPHEN)), token)
    return text


def masked_kinds(text: str) -> set[str]:
    """Which kinds of personal data (keys of `TOKENS`) `mask` replaces in `text`."""
    found = set()
    for token, find in _STEPS:
        spans = find(text.translate(_AS_HYPHEN))
        if spans:
            found.add(next(name for name, t in TOKENS.items() if t == token))
            text = _replace(text, spans, token)
    return found


__all__ = ["TOKENS", "mask", "masked_kinds", "is_valid_hetu", "is_valid_iban", "luhn_ok", "hetu_control"]

# libphonenumber's metadata loads lazily; load it now so the first masked message is not slow.
phonenumbers.parse("+358401234567")
