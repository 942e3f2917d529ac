"""The gateway's, widget's and Telegram's own texts exist in every supported language."""

from __future__ import annotations

import re

import pytest

from bot.language.catalog import load_catalog
from bot.texts import LOCALES_DIR, flatten, locale, text

PLACEHOLDER = re.compile(r"\{(\w+)\}")
REFERENCE = flatten(locale("en"))


@pytest.mark.parametrize("code", load_catalog().supported)
def test_every_text_exists_with_the_same_placeholders(code: str) -> None:
    assert (LOCALES_DIR / f"{code}.yml").exists()
    texts = flatten(locale(code))
    assert set(REFERENCE) - set(texts) == set()
    for key, value in texts.items():
        assert value.strip(), (code, key)
        assert set(PLACEHOLDER.findall(value)) == set(PLACEHOLDER.findall(REFERENCE[key])), (code, key)


@pytest.mark.parametrize("code", load_catalog().supported)
def test_unavailable_text_links_to_the_contact_page(code: str) -> None:
    assert "https://" in text(code, "gateway.unavailable")


def test_the_console_has_every_text_in_finnish_and_english() -> None:
    from bot.console.texts import console_texts

    finnish, english = console_texts("fi"), console_texts("en")
    assert set(finnish) == set(english)
    for key in english:
        assert set(PLACEHOLDER.findall(finnish[key])) == set(PLACEHOLDER.findall(english[key])), key
