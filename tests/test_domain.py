"""The domain against the service catalogue: every topic answered, in every
supported language, only with facts and links from topics.yml."""

from __future__ import annotations

import re

import pytest
from rasa.shared.core.domain import Domain

from bot.content.build import reviewed_dates, reviewed_line
from bot.content.links import all_versions
from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT
from tests.spec import conversation_intents, source_urls, topic_names

# Responses that are deliberately the same for every language: a user whose
# language the assistant does not speak is answered in English and Finnish.
LANGUAGE_NEUTRAL = {"utter_unsupported_language"}
URL = re.compile(r"https?://\S+[^\s.,;:!?]")
PLACEHOLDER = re.compile(r"\{([^}]*)\}")
LAST_REVIEWED = {"fi": "tarkistettu", "sv": "granskade", "en": "Last reviewed"}
# The widget's buttons and Telegram's keyboards show titles up to this length unbroken.
MAX_BUTTON_TITLE = 32


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


def variations_by_language(domain: Domain, key: str) -> dict[str | None, list[dict]]:
    out: dict[str | None, list[dict]] = {}
    for variation in domain.responses[key]:
        language = None
        for condition in variation.get("condition") or []:
            if condition.get("name") == "language":
                language = condition.get("value")
        out.setdefault(language, []).append(variation)
    return out


def test_intents_are_those_of_the_catalogue(domain: Domain) -> None:
    expected = set(topic_names()) | set(conversation_intents())
    own = {
        i
        for i in domain.intents
        # EXTERNAL_*: the gateway's handoff events, not something users say
        if not i.startswith(("nlu_fallback", "restart", "back", "out_of_scope", "session_start", "EXTERNAL_"))
    }
    assert expected - set(domain.intents) == set()
    assert own - expected == set()


def test_every_handoff_event_of_the_gateway_is_answered(domain: Domain) -> None:
    """The gateway's /EXTERNAL_<event> payloads (bot/handoff/) each have a rule and a response."""
    import re as _re

    service = (PROJECT_ROOT / "bot" / "handoff" / "service.py").read_text()
    sent = set(_re.findall(r'_(?:say|announce)\([^,]+, "(\w+)"', service))
    assert {"handoff_queued", "adviser_joined", "handoff_closed", "outside_hours", "contact_saved"} <= sent
    rules = (PROJECT_ROOT / "data" / "rules_handoff.yml").read_text()
    for event in sent:
        assert f"EXTERNAL_{event}" in domain.intents, event
        step = _re.search(rf"- intent: EXTERNAL_{event}\n  - action: (\w+)", rules)
        assert step and step.group(1) in domain.responses, event


@pytest.mark.parametrize("topic", topic_names())
def test_every_topic_has_an_answer_and_a_rule(domain: Domain, topic: str) -> None:
    assert f"utter_{topic}" in domain.responses
    rules = (PROJECT_ROOT / "data" / "rules_topics.yml").read_text()
    assert f"- intent: {topic}\n  - action: utter_{topic}\n" in rules


def test_every_response_exists_in_every_supported_language(domain: Domain) -> None:
    supported = set(load_catalog().supported)
    missing = []
    for key in domain.responses:
        if key in LANGUAGE_NEUTRAL:
            continue
        languages = variations_by_language(domain, key)
        for code in supported:
            if code not in languages:
                missing.append((key, code))
        assert None not in languages, f"{key} has a variation without a language condition"
    assert missing == []


# Consent to a contact request: the buttons choose the language to be contacted in,
# the user's own first, then Finnish (and Swedish in Swedish), English, and Cancel.
OWN_LANGUAGE_FIRST = {"utter_contact_consent"}


def consent_payloads(code: str) -> list[str]:
    languages = [code] + [c for c in (["sv", "fi", "en"] if code == "sv" else ["fi", "sv", "en"] if code == "fi"
                                      else ["fi", "en"]) if c != code]
    return [f'/contact_consent{{"language":"{c}"}}' for c in languages] + ["/contact_decline"]


def test_buttons_are_localised_and_have_the_same_payloads(domain: Domain) -> None:
    for key in domain.responses:
        languages = variations_by_language(domain, key)
        payloads = {
            code: [b["payload"] for v in variations for b in v.get("buttons", [])]
            for code, variations in languages.items()
        }
        if key in OWN_LANGUAGE_FIRST:
            assert payloads == {code: consent_payloads(code) for code in payloads}, key
            continue
        assert len({tuple(p) for p in payloads.values()}) <= 1, key
        for variations in languages.values():
            for variation in variations:
                for button in variation.get("buttons", []):
                    assert 0 < len(button["title"]) <= MAX_BUTTON_TITLE, (key, button)


def test_answers_link_only_to_catalogue_sources(domain: Domain) -> None:
    """Every link is a catalogue source or a confirmed language version of one (content/links.yml)."""
    allowed = source_urls() | {v.url for v in all_versions() if v.confirmed_via and v.confirmed_date}
    for key, variations in domain.responses.items():
        for variation in variations:
            for url in URL.findall(variation.get("text", "")):
                assert url in allowed, (key, url)


def test_only_known_placeholders(domain: Domain) -> None:
    slots = {slot.name for slot in domain.slots}
    for key, variations in domain.responses.items():
        for variation in variations:
            for name in PLACEHOLDER.findall(variation.get("text", "")):
                assert name in slots, (key, name)


@pytest.mark.parametrize("topic", topic_names())
def test_topic_answers_carry_a_last_reviewed_date_and_a_source(domain: Domain, topic: str) -> None:
    """The last line is the topic's review date of content/reviewed.yml, written for the language."""
    reviewed = reviewed_dates()[topic]
    for code, variations in variations_by_language(domain, f"utter_{topic}").items():
        for variation in variations:
            text = variation["text"]
            assert text.splitlines()[-1] == reviewed_line(code, reviewed), (topic, code)
            if code in LAST_REVIEWED:
                assert LAST_REVIEWED[code].lower() in text.lower(), (topic, code)
            assert URL.search(text) or "{espoo_services_url}" in text, (topic, code)


# The format example of the contact request ("for example 040 123 4567"), not a number to call.
FORMAT_EXAMPLE = "040 123 4567"


def test_no_invented_phone_numbers(domain: Domain) -> None:
    phone = re.compile(r"(\+358|\b0\d{1,2})[\s-]?\d{2,4}[\s-]?\d{3,4}")
    for key, variations in domain.responses.items():
        for variation in variations:
            text = URL.sub("", variation.get("text", ""))
            if key == "utter_contact_invalid":
                assert FORMAT_EXAMPLE in text, variation
                text = text.replace(FORMAT_EXAMPLE, "")
            assert not phone.search(text), key


def test_greeting_warns_against_typing_identity_numbers(domain: Domain) -> None:
    # Immigrant languages name the Finnish code in Finnish too, as users see it on their papers.
    words = {"sv": "personbeteckning", "en": "identity"}
    for code, variations in variations_by_language(domain, "utter_greet").items():
        assert words.get(code, "henkilötunnus") in variations[0]["text"].lower(), code


def test_unsupported_language_answer_names_every_supported_language(domain: Domain) -> None:
    text = domain.responses["utter_unsupported_language"][0]["text"]
    catalog = load_catalog()
    for code in catalog.supported:
        assert catalog.languages[code].native_name.lower() in text.lower(), code
