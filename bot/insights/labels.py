"""What the report's charts and tables call things, in the reader's language (the
console's languages, fi and en): language names instead of codes ("arabia", not
"ar"), the topic titles users see in the assistant's menus instead of intent names,
and the reasons, channels and chart texts of locales/console/<language>.yml.

Stored values the catalogues do not know (an invented language code, a topic that
was removed) are shown as they are: the charts and HTML make any string safe.
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale

from bot.console.texts import UI_LANGUAGES, console_texts
from bot.console.topics import topic_titles
from bot.insights.report import NO_TOPIC, UNKNOWN

DEFAULT_LANGUAGE = "fi"
# Language codes the report names: ISO 639 with an optional region or script subtag.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")


class ReportLabels:
    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language = language if language in UI_LANGUAGES else DEFAULT_LANGUAGE
        self.texts = console_texts(self.language)
        self._topics = topic_titles(self.language)
        self._names = _language_names(self.language)

    def text(self, key: str, **values: object) -> str:
        """A text of the `analyst` section of the console's locale file."""
        return self.texts[f"analyst.{key}"].format(**values)

    def language_name(self, code: str | None) -> str:
        """"arabia" / "Arabic" for "ar"; a region subtag is named when the locale knows it."""
        if not code or code == UNKNOWN:
            return self.text("unknown_language")
        if not LANGUAGE_CODE.fullmatch(code):
            return code
        underscored = code.replace("-", "_")
        return self._names.get(underscored) or self._names.get(underscored.split("_")[0]) or code

    def reason(self, reason: str) -> str:
        return self.texts.get(f"analyst.reasons.{reason}", reason)

    def topic(self, name: str | None) -> str:
        if not name or name == NO_TOPIC:
            return self.text("charts.no_topic")
        return self._topics.get(name, name)

    def channel(self, channel: str) -> str:
        return self.texts.get(f"channels.{channel}", channel)


@lru_cache(maxsize=4)
def _language_names(language: str) -> dict[str, str]:
    return dict(Locale.parse(language).languages)
