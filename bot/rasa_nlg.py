"""Rasa's response generator with one addition: a conversation in a language the
assistant does not speak is answered in the pair of `unsupported_reply_languages`
(English and Finnish) in every reply, not only in the first.

Rasa picks a response's variation by the `language` slot, which stays on the
conversation's language (Finnish, or the browser's language) when someone writes
Turkish or Spanish. The first answer, `utter_unsupported_language`, is written in
both languages; without this generator everything after it (the handoff's
messages after "Adviser", the language menu after "Other languages") came in the
slot's language only. Here each response with per-language variations is
rendered once per language of the pair and joined: the texts one after the
other, button titles "English / Suomi" (the payloads are the same in every
language).

Whether the pair is needed is read from the conversation itself: the latest user
message that said anything about the language decides. The LanguageDecider marks
a message in a language the assistant does not speak with an
`unsupported_language` entity, and a language the user chose or wrote in (long
enough to trust) with a `language` entity; messages with neither ("ok", a
button, the gateway's handoff events) change nothing. So the pair lasts until
the user picks a language or writes in one the assistant speaks.

Configured in the endpoints file (`nlg: type: bot.rasa_nlg.PairedLanguageNLG`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import UserUttered

from bot.language.catalog import load_catalog

LANGUAGE_SLOT = "language"
LANGUAGE_ENTITY = "language"
UNSUPPORTED_ENTITY = "unsupported_language"
TITLE_SEPARATOR = " / "
TEXT_SEPARATOR = "\n\n"


def in_unsupported_language(events: Iterable[Any]) -> bool:
    """True when the latest user message that decided anything about the language was in a
    language the assistant does not speak (see the module's docstring)."""
    for event in reversed(list(events)):
        if not isinstance(event, UserUttered):
            continue
        names = {entity.get("entity") for entity in event.entities or []}
        if UNSUPPORTED_ENTITY in names:
            return True
        if LANGUAGE_ENTITY in names:
            return False
    return False


def join_responses(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """Responses of the same name in several languages as one: texts one after the other,
    button titles side by side when the buttons are the same (else the first language's)."""
    first = dict(rendered[0])
    texts = list(dict.fromkeys(r["text"] for r in rendered if r.get("text")))
    if texts:
        first["text"] = TEXT_SEPARATOR.join(texts)
    buttons = [r.get("buttons") or [] for r in rendered]
    payloads = [[b.get("payload") for b in group] for group in buttons]
    if buttons[0] and all(p == payloads[0] for p in payloads):
        first["buttons"] = [
            {**button, "title": TITLE_SEPARATOR.join(dict.fromkeys(group[i].get("title") for group in buttons))}
            for i, button in enumerate(buttons[0])
        ]
    return first


class PairedLanguageNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's templated generator; in an unsupported-language conversation, in two languages."""

    def __init__(self, endpoint_config: Any = None, domain: Any = None) -> None:
        super().__init__(domain.responses if domain is not None else {})
        self.pair = load_catalog().unsupported_reply_languages

    def _per_language(self, utter_action: str) -> bool:
        """The response has a variation per language (not one already written in both)."""
        return any(
            condition.get("name") == LANGUAGE_SLOT
            for variation in self.responses.get(utter_action, [])
            for condition in variation.get("condition") or []
        )

    async def generate(self, utter_action: str, tracker: Any, output_channel: str,
                       **kwargs: Any) -> dict[str, Any] | None:
        slots = tracker.current_slot_values()
        if not (self._per_language(utter_action) and in_unsupported_language(tracker.events)):
            return self.generate_from_slots(utter_action, slots, output_channel, **kwargs)
        rendered = [
            response
            for code in self.pair
            if (response := self.generate_from_slots(utter_action, {**slots, LANGUAGE_SLOT: code}, output_channel,
                                                     **kwargs)) is not None
        ]
        return join_responses(rendered) if rendered else None
