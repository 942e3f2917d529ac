"""A conversation in a language the assistant does not speak keeps English and Finnish in every
reply (bot/rasa_nlg.py) until the user picks a language: through the gateway, with the real
Rasa and action servers (issue 12: Turkish and Spanish users lost English after the "Adviser"
and "Other languages" buttons)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa.shared.core.events import ActionExecuted, UserUttered

from bot.paths import PROJECT_ROOT
from bot.rasa_nlg import in_unsupported_language, join_responses
from tests.chat_client import ChatClient
from tests.helpers import Gateway, Servers
from tests.responses import response
from tests.test_handoff_flow import handoff_gateway

pytestmark = pytest.mark.servers

TURKISH = "Merhaba, işsizlik parası için nasıl başvuru yapabilirim acaba"
SPANISH = "Hola, ¿cómo puedo solicitar la prestación por desempleo en Espoo?"


@pytest.fixture(scope="module")
def gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Open hours, nobody online: asking for a person offers a contact request."""
    with handoff_gateway(servers, tmp_path_factory.mktemp("unsupported")) as running:
        yield running


def text_of(replies: list[dict]) -> str:
    return "\n\n".join(r.get("text") or "" for r in replies)


def in_both(replies: list[dict], key: str) -> bool:
    text = text_of(replies)
    return all(response(key, code)["text"].split("{")[0] in text for code in ("en", "fi"))


def payloads(replies: list[dict]) -> list[str]:
    return [q["payload"] for r in replies for q in r.get("quick_replies") or []]


def unsupported(user: ChatClient, text: str) -> None:
    replies = user.say(text)
    assert "Sorry, I cannot answer in your language yet" in text_of(replies), replies
    assert "/request_human" in payloads(replies) and "/change_language" in payloads(replies)


def test_a_turkish_user_keeps_english_and_finnish_through_the_handoff(gateway: Gateway) -> None:
    user = ChatClient(gateway.url)
    try:
        unsupported(user, TURKISH)
        replies = user.say("/request_human")  # the "Adviser" button
        assert in_both(replies, "utter_no_adviser"), replies
        offer = next(r for r in replies if r.get("quick_replies"))
        english, finnish = (response("utter_no_adviser", code)["buttons"] for code in ("en", "fi"))
        assert [q["title"] for q in offer["quick_replies"]] == [
            f"{en['title']} / {fi['title']}" for en, fi in zip(english, finnish, strict=True)]

        replies = user.say("/contact_request")
        assert in_both(replies, "utter_contact_ask"), replies
        replies = user.say("/contact_decline")
        assert in_both(replies, "utter_contact_declined"), replies
    finally:
        user.close()


def test_a_spanish_user_keeps_both_until_choosing_english(gateway: Gateway) -> None:
    user = ChatClient(gateway.url)
    try:
        unsupported(user, SPANISH)
        replies = user.say("/change_language")  # "Other languages"
        assert in_both(replies, "utter_choose_language"), replies
        assert '/change_language{"language": "es"}' not in payloads(replies)
        titles = [q["title"] for r in replies for q in r.get("quick_replies") or []]
        assert "English" in titles and "Suomi" in titles  # the same in both: not doubled

        replies = user.say('/change_language{"language": "en"}')
        assert text_of(replies) == response("utter_language_changed", "en")["text"], replies
        replies = user.say("How do I register as an unemployed jobseeker?")
        answer = response("utter_register_as_jobseeker", "en")["text"].split("\n")[0][:40]
        assert text_of(replies).startswith(answer), replies
        assert response("utter_register_as_jobseeker", "fi")["text"][:40] not in text_of(replies)
    finally:
        user.close()


def test_a_supported_language_conversation_is_answered_once(gateway: Gateway) -> None:
    user = ChatClient(gateway.url)
    try:
        replies = user.say("haluan puhua ihmisen kanssa")
        assert text_of(replies) == response("utter_no_adviser", "fi")["text"], replies
    finally:
        user.close()


# --- the rule itself --------------------------------------------------------------------------


def _said(text: str, *entities: tuple[str, str]) -> UserUttered:
    return UserUttered(text, {"name": "x"}, [{"entity": name, "value": value} for name, value in entities])


def test_the_latest_message_that_says_anything_about_the_language_decides() -> None:
    turkish = _said(TURKISH, ("unsupported_language", "tr"))
    assert in_unsupported_language([turkish, ActionExecuted("action_listen"), _said("tamam"), _said("/stop")])
    assert not in_unsupported_language([turkish, _said('/change_language{"language": "en"}', ("language", "en"))])
    assert in_unsupported_language([_said("hei", ("language", "fi")), turkish])
    assert not in_unsupported_language([_said("ok")])


def test_responses_are_joined_text_after_text_with_paired_titles() -> None:
    joined = join_responses([
        {"text": "Hello", "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "Suomi", "payload": "/x"}]},
        {"text": "Hei", "buttons": [{"title": "Kyllä", "payload": "/affirm"}, {"title": "Suomi", "payload": "/x"}]},
    ])
    assert joined["text"] == "Hello\n\nHei"
    assert joined["buttons"] == [{"title": "Yes / Kyllä", "payload": "/affirm"}, {"title": "Suomi", "payload": "/x"}]


def test_development_and_production_rasa_use_the_paired_generator() -> None:
    for name in ("endpoints.yml", "endpoints.production.yml"):
        assert "bot.rasa_nlg.PairedLanguageNLG" in (PROJECT_ROOT / "config" / name).read_text(encoding="utf-8")
