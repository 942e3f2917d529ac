"""Masking of personal data (bot/privacy/masking.py): examples of each kind, ordinary
numbers that must stay, and properties over random text in several scripts."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.privacy.masking import (
    ADDRESS,
    CARD,
    CENTURY,
    EMAIL,
    IBAN,
    PERSONAL_ID,
    PHONE,
    TOKENS,
    UNICODE_HYPHENS,
    hetu_control,
    is_valid_hetu,
    is_valid_iban,
    luhn_ok,
    mask,
    masked_kinds,
)

# --- generators of valid personal data ------------------------------------------------------------


@st.composite
def hetus(draw) -> str:
    sign = draw(st.sampled_from(sorted(CENTURY)))
    start = date(CENTURY[sign], 1, 1)
    born = draw(st.dates(min_value=start, max_value=date(CENTURY[sign] + 99, 12, 31)))
    individual = draw(st.integers(min_value=2, max_value=999))
    digits = f"{born:%d%m}{born.year % 100:02d}{individual:03d}"
    code = f"{digits[:6]}{sign}{digits[6:]}{hetu_control(digits)}"
    return code.lower() if draw(st.booleans()) else code


def iban_of(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


@st.composite
def ibans(draw) -> str:
    country, length = draw(st.sampled_from([("FI", 14), ("SE", 20), ("DE", 18), ("EE", 16), ("GB", 18)]))
    bban = draw(st.text("0123456789", min_size=length, max_size=length))
    if country == "GB":
        bban = "NWBK" + bban[4:]
    iban = iban_of(country, bban)
    if draw(st.booleans()):  # printed form: groups of four
        iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    return iban


@st.composite
def cards(draw) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011"]))
    length = draw(st.sampled_from([15, 16] if prefix in ("34", "37") else [16]))
    body = prefix + draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1))
    check = next(str(d) for d in range(10) if luhn_ok(body + str(d)))
    number = body + check
    if draw(st.booleans()):
        number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return number


PHONE_REGIONS = ["FI", "SE", "EE", "RU", "UA", "GB", "DE", "US", "SO", "IR", "CN", "VN", "AL", "IQ", "SY", "TR"]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
]


@st.composite
def phones(draw) -> tuple[str, str]:
    """(as written, its digits): Finnish numbers in domestic and international form, and
    other countries' numbers in international form."""
    region = draw(st.sampled_from(PHONE_REGIONS))
    if region == "FI":
        prefix = draw(st.sampled_from(["40", "41", "44", "45", "46", "50", "9 816", "9 8162"]))
        rest = draw(st.text("0123456789", min_size=7 - len(prefix.replace(" ", "")) + 2,
                            max_size=7 - len(prefix.replace(" ", "")) + 2))
        national = prefix.replace(" ", "") + rest
        number = phonenumbers.parse("+358" + national)
        if not phonenumbers.is_valid_number(number):
            number = phonenumbers.example_number_for_type("FI", phonenumbers.PhoneNumberType.MOBILE)
        style = draw(st.sampled_from(["national", "e164", "international", "compact", "dashed"]))
        nsn = phonenumbers.national_significant_number(number)
        written = {
            "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
            "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            "international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            "compact": "0" + nsn,
            "dashed": f"0{nsn[:2]}-{nsn[2:]}",
        }[style]
        return written, nsn
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
    number = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    written = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS)))
    return written, phonenumbers.national_significant_number(number)


# Random surrounding text: words in several scripts (Latin with Finnish and Vietnamese letters,
# Cyrillic, Arabic, Persian, Chinese, Somali is Latin), separated from the personal data.
SCRIPTS = [
    "abcdefghijklmnopqrstuvwxyzåäöABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяєіїґАБВГДЕЖЗИЙКЛМН",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهويپچژگکی",
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生",
    "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệ",
]
words = st.one_of(*[st.text(alphabet, min_size=1, max_size=12) for alphabet in SCRIPTS])
separators = st.sampled_from([" ", "  ", "\n", ", ", ": ", " (", ") ", " - ", "? ", "! ", "، ", "，", "。"])
fillers = st.lists(words, max_size=6).map(" ".join)
# Ordinary numbers that must stay: small counts, percentages, years, dates.
ordinary_numbers = st.sampled_from(["4", "12", "80 %", "2026", "1.1.2026", "37,21 €", "10", "3 kk"])


def embed(draw, secret: str) -> str:
    return draw(fillers) + draw(separators) + secret + draw(separators) + draw(fillers)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


HETU_ANYWHERE = re.compile(r"\d{6}[-+A-FU-Ya-fu-y]\d{3}[0-9A-Ya-y]")
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- properties -----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data(), hetus())
def test_no_valid_identity_code_survives(data, code: str) -> None:
    assert is_valid_hetu(code)
    text = embed(data.draw, code)
    masked = mask(text)
    assert code.lower() not in masked.lower()
    assert PERSONAL_ID in masked
    assert not any(is_valid_hetu(candidate) for candidate in HETU_ANYWHERE.findall(masked))


@PROPERTY_SETTINGS
@given(st.data(), phones())
def test_no_phone_number_survives(data, phone: tuple[str, str]) -> None:
    written, national_digits = phone
    masked = mask(embed(data.draw, written))
    assert written not in masked
    # The surrounding text has no digits: none of the number's digits may be left.
    assert national_digits not in digits(masked)
    assert PHONE in masked


@PROPERTY_SETTINGS
@given(st.data(), phones(), st.lists(ordinary_numbers, min_size=1, max_size=3))
def test_phone_numbers_are_masked_among_ordinary_numbers(data, phone: tuple[str, str], numbers: list[str]) -> None:
    written, _ = phone
    text = " ".join(numbers) + " " + embed(data.draw, written) + ". " + " ja ".join(numbers)
    masked = mask(text)
    assert written not in masked
    for number in numbers:
        assert number in masked


@PROPERTY_SETTINGS
@given(st.data(), st.emails())
def test_no_email_address_survives(data, email: str) -> None:
    masked = mask(embed(data.draw, email))
    assert email not in masked
    assert "@" not in masked
    assert EMAIL in masked


@PROPERTY_SETTINGS
@given(st.data(), ibans())
def test_no_iban_survives(data, iban: str) -> None:
    assert is_valid_iban(iban)
    masked = mask(embed(data.draw, iban))
    assert iban not in masked
    assert iban.replace(" ", "")[4:] not in digits(masked)
    assert IBAN in masked


@PROPERTY_SETTINGS
@given(st.data(), cards())
def test_no_card_number_survives(data, card: str) -> None:
    masked = mask(embed(data.draw, card))
    assert digits(card) not in digits(masked)
    assert CARD in masked


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_masking_is_total_and_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(words, ordinary_numbers), max_size=12).map(" ".join))
def test_text_without_personal_data_is_unchanged(text: str) -> None:
    assert mask(text) == text


@st.composite
def hetus_with_unicode_hyphens(draw) -> str:
    """A valid identity code of someone born in the 1900s ("-") written with another hyphen."""
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)))
    digits = f"{born:%d%m}{born.year % 100:02d}{draw(st.integers(min_value=2, max_value=999)):03d}"
    return f"{digits[:6]}{draw(st.sampled_from(UNICODE_HYPHENS))}{digits[6:]}{hetu_control(digits)}"


@PROPERTY_SETTINGS
@given(st.data(), hetus_with_unicode_hyphens())
def test_identity_codes_with_unicode_hyphens_are_masked(data, code: str) -> None:
    before, after = data.draw(fillers) + data.draw(separators), data.draw(separators) + data.draw(fillers)
    assert is_valid_hetu(code)
    assert mask(before + code + after) == before + PERSONAL_ID + after


# Domains: not an article or pronoun ("at the dot com bubble" is no address).
DOMAIN_WORDS = {"the", "a", "an", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our",
                "their", "some", "any", "no", "one", "home", "work", "at", "dot", "piste", "punkt"}
local_parts = st.from_regex(r"[a-z][a-z0-9_]{1,11}(?:\.[a-z][a-z0-9]{1,11})?", fullmatch=True)
domain_labels = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True).filter(
    lambda label: label not in DOMAIN_WORDS)
SPELLED = [
    "{local} @ {domain}.{tld}", "{local} @{domain} . {tld}", "{local}@ {domain} .{tld}", "{local} ＠ {domain}.{tld}",
    "{local} at {domain} dot {tld}", "{local} AT {domain} DOT {tld}", "{local} ät {domain} piste {tld}",
    "{local} snabel-a {domain} punkt {tld}", "{local}(at){domain}(dot){tld}", "{local} [at] {domain} [dot] {tld}",
    "{local} at {domain} dot {domain} dot {tld}",
]


@PROPERTY_SETTINGS
@given(st.data(), local_parts, domain_labels, st.sampled_from(["com", "fi", "se", "net", "org", "ru", "ee"]),
       st.sampled_from(SPELLED))
def test_email_addresses_with_spaces_or_in_words_are_masked(data, local: str, domain: str, tld: str,
                                                            style: str) -> None:
    written = style.format(local=local, domain=domain, tld=tld)
    before, after = data.draw(fillers) + data.draw(separators), data.draw(separators) + data.draw(fillers)
    assert mask(before + written + after) == before + EMAIL + after


# --- examples -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # identity codes, every century sign
        ("hetu 131052-308T kiitos", f"hetu {PERSONAL_ID} kiitos"),
        ("131052-308t", PERSONAL_ID),
        ("010594Y9032", PERSONAL_ID),
        ("020502E902X", PERSONAL_ID),
        ("010100A123D", PERSONAL_ID),
        ("syntynyt 311299+999E", f"syntynyt {PERSONAL_ID}"),
        # a mistyped control character still names the person
        ("131052-308S", PERSONAL_ID),
        # hyphens, dashes and minus signs that look like "-"
        ("hetu 131052\u2010308T kiitos", f"hetu {PERSONAL_ID} kiitos"),
        ("131052\u2011308T", PERSONAL_ID),
        ("131052\u2012308T", PERSONAL_ID),
        ("131052\u2013308T", PERSONAL_ID),
        ("131052\u2014308T", PERSONAL_ID),
        ("131052\u2212308T", PERSONAL_ID),
        ("131052\ufe63308T", PERSONAL_ID),
        ("131052\uff0d308T", PERSONAL_ID),
        # phone numbers
        ("soita 040 123 4567", f"soita {PHONE}"),
        ("numeroni on 0401234567.", f"numeroni on {PHONE}."),
        ("+358 40 123 4567", PHONE),
        ("+358 (0)40 123 4567", PHONE),
        ("050-1234567", PHONE),
        ("(09) 816 21", PHONE),
        ("00358401234567", PHONE),
        ("Tel +44 20 7946 0958", f"Tel {PHONE}"),
        ("мой номер +7 912 345-67-89", f"мой номер {PHONE}"),
        ("тел 8 (912) 345-67-89", f"тел {PHONE}"),
        ("номер 067 123 45 67", f"номер {PHONE}"),
        ("رقمي ‎+964 790 123 4567", f"رقمي ‎{PHONE}"),
        ("puh0401234567", f"puh{PHONE}"),
        # e-mail addresses
        ("matti.meikalainen@example.fi.", f"{EMAIL}."),
        ("etunimi.sukunimi(at)espoo.fi", EMAIL),
        ("mail: Анна_Петрова@почта.рф", f"mail: {EMAIL}"),
        # ... with spaces, or the signs in words
        ("matti @ gmail.com", EMAIL),
        ("kirjoita: matti @gmail . com kiitos", f"kirjoita: {EMAIL} kiitos"),
        ("matti at gmail dot com", EMAIL),
        ("Matti.Virtanen AT Gmail DOT Com, thanks", f"{EMAIL}, thanks"),
        ("matti dot virtanen at gmail dot co dot uk", EMAIL),
        ("anna at the-firm dot com", EMAIL),
        ("sähköposti matti ät gmail piste com", f"sähköposti {EMAIL}"),
        ("matti ät gmail.com", EMAIL),
        ("min e-post är matti snabel-a gmail punkt com", f"min e-post är {EMAIL}"),
        ("matti(at)gmail(dot)com", EMAIL),
        ("matti [at] gmail [dot] fi", EMAIL),
        ("matti@example.fi. Seuraava lause", f"{EMAIL}. Seuraava lause"),
        ("soita 040\u2013123 4567", f"soita {PHONE}"),
        # IBANs
        ("tilille FI21 1234 5600 0007 85 kiitos", f"tilille {IBAN} kiitos"),
        ("fi2112345600000785", IBAN),
        ("DE89 3704 0044 0532 0130 00", IBAN),
        # cards
        ("kortti 4111 1111 1111 1111", f"kortti {CARD}"),
        ("5555-5555-5555-4444", CARD),
        # addresses
        ("asun Kauppakatu 12 B 34, 02100 Espoo", f"asun {ADDRESS}"),
        ("Mannerheimintie 5 A 3", ADDRESS),
        ("Leppävaarankatu 3-9 b", ADDRESS),
        ("osoite on Otaniemenkuja 2 as. 5", f"osoite on {ADDRESS}"),
        ("Tapiolantiellä 5", ADDRESS),
        ("bor på Storgatan 5 i Esbo", f"bor på {ADDRESS} i Esbo"),
        ("Esboviksvägen 3 lgh 12", ADDRESS),
        ("Kungsgränd 7", ADDRESS),
        ("Kivenlahdenväylä 10", ADDRESS),
        ("Otakaari 1", ADDRESS),
    ],
)
def test_each_kind_is_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Olen lähettänyt 4 hakemusta tässä kuussa",
        "ansiosidonnainen laskee 80 %:iin 40 päivän jälkeen",
        "Yleistuki alkaa 1.5.2026 ja on 37,21 euroa päivässä",
        "tapaaminen 01.01.2026 klo 9.00-16.00",
        "2026-01-01 10:00-12:00",
        "vuonna 2025 ja 2026",
        "vuosina 2024 2025 2026",
        "olin töissä 1990-2000 ja 2024-2026 välillä 10-20 hakemusta kuussa",
        "asun postinumerolla 02100 Espoo",
        "Y-tunnus 1234567-8",
        "asiakasnumero 123456789",
        "palkka 2 500 € kuussa, 1 200 000 euroa",
        "urapolku 5 vuotta",
        "10 työpäivää, 3 kk, 6 viikkoa",
        "I applied to 12 jobs in 3 weeks, 50 % part time",
        "Jag har sökt 5 jobb, 2 st",
        "ma-pe 8-16, 112 hätänumero",
        "Kela ja TE24, karenssi 45 päivää",
        "я отправил 4 заявки в 2026 году",
        "我在2025年申请了10个工作",
    ],
)
def test_ordinary_numbers_are_not_masked(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "I was at the dot com company in 2000",
        "Look at this dot on the map",
        "He is at home. Dot was there too",
        "at the end of the day dot dot dot",
        "I will be at work, dot the i's",
        "Register at tyomarkkinatori.fi please",
        "tapaaminen on 9\u201316, olin töissä 1990\u20132000",
        "sain 3 pistettä, piste com",
        "olen kotona. Piste.",
        "Jag är på jobbet, punkt slut",
        "ät maten punkt",
        "meet me at 5 at the station",
    ],
)
def test_ordinary_sentences_with_at_and_dot_are_not_masked(text: str) -> None:
    assert mask(text) == text


def test_tokens_are_fixed_and_free_of_digits_and_at_signs() -> None:
    assert set(TOKENS) == {"email", "iban", "personal_id", "card", "phone", "address"}
    for token in TOKENS.values():
        assert re.fullmatch(r"\[[a-z_]+\]", token)


def test_masked_kinds_names_what_was_found() -> None:
    assert masked_kinds("040 123 4567 ja matti@example.fi") == {"phone", "email"}
    assert masked_kinds("4 hakemusta") == set()


def test_validators() -> None:
    assert is_valid_hetu("131052-308T") and not is_valid_hetu("131052-308S")
    assert not is_valid_hetu("310252-308T")  # 31 February
    assert is_valid_iban("FI21 1234 5600 0007 85") and not is_valid_iban("FI21 1234 5600 0007 86")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
