"""Short titles for the links in the assistant's answers: "Kela: Unemployment" instead of a URL
that takes three to eight lines on a phone. The widget and Telegram show the title and keep
the URL behind it (the link's address, for opening and copying).

Titles come from the link map (content/links.yml: every catalogue page with its site and title
per language version). When the page is in another language than the answer, the answer
usually says so right after the URL (" (englanniksi)", added by scripts/build_content.py);
where it does not (a URL from a slot such as `{espoo_services_url}`), the title says it.

URLs are found the same way here and in the widget (bot/static/widget.js): up to white space
or a quote, without the punctuation that ends a sentence, but a closing ")" that closes a "("
inside the URL stays ("…/Kela_(virasto)").
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache

from bot.content.build import LanguageStyle, language_styles
from bot.content.links import PageVersion, all_versions

log = logging.getLogger(__name__)

URL_IN_TEXT = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING_PUNCTUATION = re.compile(r"[.,;:!?'\")\]}>»”’。，：；）]+$")


def clean_url(raw: str) -> str:
    """A URL as matched, without the punctuation after it (a balanced ")" stays)."""
    trailing = TRAILING_PUNCTUATION.search(raw)
    url = raw[: trailing.start()] if trailing else raw
    rest = raw[len(url):]
    while rest.startswith(")") and url.count("(") > url.count(")"):
        url, rest = url + ")", rest[1:]
    return url


def urls_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) URL in `text`."""
    found = []
    for match in URL_IN_TEXT.finditer(text or ""):
        url = clean_url(match.group(0))
        found.append((match.start(), match.start() + len(url), url))
    return found


@lru_cache(maxsize=1)
def _versions() -> dict[str, PageVersion]:
    try:
        return {version.url: version for version in all_versions()}
    except (OSError, ValueError) as error:  # no link map here: the URLs stay as they are
        log.warning("no link titles: %s", error)
        return {}


def short_title(version: PageVersion) -> str:
    """"Kela: Unemployment"; "Työmarkkinatori – News: …" when the title has a colon of its own."""
    if not version.site or version.title.startswith(version.site):
        return version.title or version.site
    return f"{version.site}{' – ' if ':' in version.title else ': '}{version.title}"


@lru_cache(maxsize=1)
def _styles() -> dict[str, LanguageStyle]:
    try:
        return language_styles()
    except (OSError, ValueError, TypeError) as error:
        log.warning("link titles without language notes: %s", error)
        return {}


def _language_note(page_language: str, language: str | None) -> str:
    """" (englanniksi)": the page's language as an answer in `language` names it (content/languages.yml)."""
    style = _styles().get(language or "")
    if style is None or page_language == language or page_language not in style.page_language:
        return ""
    return style.link_note.format(language=style.page_language[page_language])


def link_titles(text: str | None, language: str | None) -> dict[str, str]:
    """URL -> title for the links of `text` (an answer in `language`) that the link map knows."""
    out: dict[str, str] = {}
    for _, end, url in urls_in(text or ""):
        version = _versions().get(url)
        if version is None:
            continue
        note = _language_note(version.language, language)
        said = bool(note) and (text or "")[end:].startswith(note)
        out[url] = short_title(version) + ("" if said else note)
    return out


def as_html(text: str, titles: dict[str, str]) -> str:
    """`text` as Telegram HTML: escaped, with each titled URL as <a href="url">title</a>."""
    parts, last = [], 0
    for start, end, url in urls_in(text):
        parts.append(html.escape(text[last:start], quote=False))
        if url in titles:
            parts.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(titles[url], quote=False)}</a>')
        else:
            parts.append(html.escape(url, quote=False))
        last = end
    parts.append(html.escape(text[last:], quote=False))
    return "".join(parts)
