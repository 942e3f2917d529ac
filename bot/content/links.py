"""The link map (content/links.yml): every catalogue source with its published language versions.

Answers are written with the catalogue's source URLs; the generator swaps each one for the
version in the user's language. Where the site has none, the answer keeps a version in
another language and names that language in the user's language ("(in English)").
Every version in the map was confirmed against a published copy of that page. A version whose
stored copy is an earlier edition that contradicts the catalogue is kept as evidence with
`current: false` and never linked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import yaml

from bot.content.paths import LINKS_FILE

# A URL inside an answer text: up to whitespace, without trailing punctuation.
URL = re.compile(r"https?://\S+[^\s.,;:!?。，：；）)]")


@dataclass(frozen=True)
class PageVersion:
    source: str  # the catalogue URL this is a version of
    language: str
    url: str
    site: str
    title: str
    confirmed_via: str
    confirmed_date: str
    page_title: str
    seen: str = ""  # address of the stored copy the version was confirmed from
    note: str = ""
    current: bool = True  # False: the stored copy is an earlier edition; never linked


@lru_cache(maxsize=1)
def link_map() -> dict[str, dict[str, PageVersion]]:
    """catalogue URL -> language -> version."""
    data = yaml.safe_load(LINKS_FILE.read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, PageVersion]] = {}
    for source, entry in (data.get("sources") or {}).items():
        versions: dict[str, PageVersion] = {}
        for language, version in (entry.get("versions") or {}).items():
            confirmed = version.get("confirmed") or {}
            versions[language] = PageVersion(
                source=source,
                language=language,
                url=version["url"],
                site=version.get("site", ""),
                title=version.get("title", ""),
                confirmed_via=str(confirmed.get("via", "")),
                confirmed_date=str(confirmed.get("date", "")),
                page_title=str(confirmed.get("page_title", "")),
                seen=str(confirmed.get("seen", "")),
                note=str(confirmed.get("note", "")),
                current=bool(version.get("current", True)),
            )
        out[source] = versions
    return out


def all_versions() -> list[PageVersion]:
    return [v for versions in link_map().values() for v in versions.values()]


def linkable_versions(source: str) -> dict[str, PageVersion]:
    """language -> version an answer may link: every version but the earlier editions."""
    versions = link_map().get(source)
    if not versions:
        raise KeyError(f"content/links.yml has no entry for the catalogue source {source}")
    return {language: version for language, version in versions.items() if version.current}


def source_language(source: str) -> str:
    """The language of the catalogue's own page (the version whose URL is the source itself)."""
    for language, version in link_map().get(source, {}).items():
        if version.url == source:
            return language
    raise KeyError(f"content/links.yml has no entry for the catalogue page itself: {source}")


def choose_version(source: str, language: str) -> PageVersion:
    """The page to show a user of `language`: their language, else English (for languages other
    than Finnish and Swedish, whose users read the catalogue's page next), else the catalogue's page."""
    versions = linkable_versions(source)
    if language in versions:
        return versions[language]
    if language not in ("fi", "sv") and "en" in versions:
        return versions["en"]
    return versions[source_language(source)]
