"""The language order of DESIGN.md, rule by rule, on the decision logic itself."""

from __future__ import annotations

import pytest

from bot.language import LanguageDecider, LanguageDetector, load_catalog
from bot.language.catalog import LanguageCatalog, parse_catalog
from bot.language.decision import normalise_tag


@pytest.fixture(scope="module")
def decider() -> LanguageDecider:
    return LanguageDecider(load_catalog())


def test_catalog_lists_the_twelve_contract_languages() -> None:
    catalog = load_catalog()
    assert catalog.codes == ["fi", "sv", "en", "ru", "uk", "et", "ar", "so", "fa", "zh", "vi", "sq"]
    assert catalog.default == "fi"
    assert {"fi", "sv", "en"} <= set(catalog.supported)
    assert catalog.direction("ar") == "rtl" and catalog.direction("fa") == "rtl"
    assert catalog.direction("fi") == "ltr"


def test_default_language_must_be_supported() -> None:
    with pytest.raises(ValueError):
        parse_catalog(
            {
                "default": "ru",
                "languages": {
                    "ru": {"native_name": "Русский", "english_name": "Russian", "status": "planned"}
                },
            }
        )


def test_lingua_mode_must_be_one_of_the_three() -> None:
    raw = {"languages": {"fi": {"native_name": "Suomi", "english_name": "Finnish", "status": "supported"}}}
    assert parse_catalog({**raw, "detection": {"lingua_mode": "low"}}).detection.lingua_mode == "low"
    with pytest.raises(ValueError, match="lingua_mode"):
        parse_catalog({**raw, "detection": {"lingua_mode": "fast"}})


def test_lingua_mode_can_be_set_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    load_catalog.cache_clear()
    monkeypatch.setenv("LINGUA_MODE", "low")
    try:
        assert load_catalog().detection.lingua_mode == "low"
    finally:
        load_catalog.cache_clear()
    monkeypatch.delenv("LINGUA_MODE")
    assert load_catalog().detection.lingua_mode == "high_for_latin"  # config/languages.yml


def catalog_in_mode(lingua_mode: str) -> LanguageCatalog:
    return load_catalog().with_detection(lingua_mode=lingua_mode)


@pytest.fixture(scope="module")
def low_accuracy_detector() -> LanguageDetector:
    return LanguageDetector(catalog_in_mode("low"))


def test_vocabulary_share_counts_folded_words_of_our_training_data(
    low_accuracy_detector: LanguageDetector,
) -> None:
    profile = low_accuracy_detector.profile
    assert profile.vocabulary_share("studera med dagpenning") == ("sv", 1.0)
    _, share = profile.vocabulary_share("Ich brauche Hilfe mit meinem Arbeitslosengeld")
    assert share < 0.75
    assert profile.vocabulary_share("") == (None, 0.0)


@pytest.mark.parametrize(
    ("text", "code", "other"),
    [
        ("hur ansöker jag om arbetslöshetsersättning från kassan", "sv", None),
        ("как подать заявление на пособие по безработице", "ru", None),
        ("Ich brauche Hilfe mit meinem Arbeitslosengeld, bitte", None, "de"),
        ("İşsizlik maaşı için nasıl başvurabilirim", None, "tr"),
        # Every word is in our training data: lingua's trigram models alone said Danish,
        # Slovak and Croatian (development messages; detection.our_words_min_share).
        ("studera med dagpenning", "sv", None),
        ("tim viec o espoo web nao z", "vi", None),
        ("trajnim profesional falas per te papunt a ka", "sq", None),
    ],
)
def test_lingua_in_low_accuracy_mode_still_tells_sentences_apart(low_accuracy_detector: LanguageDetector,
                                                                  text: str, code: str | None,
                                                                  other: str | None) -> None:
    """`lingua_mode: low` (docs/language.md) loads lingua's trigram models only."""
    detected = low_accuracy_detector.detect(text)
    assert (detected.other_language or detected.code, detected.other_language) == (other or code, other)


# 1. explicit choice -------------------------------------------------------


def test_explicit_choice_in_metadata_wins_over_everything(decider: LanguageDecider) -> None:
    decision = decider.decide(
        "how do I register as an unemployed jobseeker",
        {"language_choice": "sv", "conversation_language": "fi", "language_hint": "en"},
    )
    assert (decision.code, decision.source) == ("sv", "explicit")


def test_button_payload_is_explicit(decider: LanguageDecider) -> None:
    decision = decider.decide('/change_language{"language": "en"}', {"conversation_language": "fi"})
    assert (decision.code, decision.source) == ("en", "explicit")


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("in English please", "change_language", "en"),
        ("puhutaan ruotsia", "change_language", "sv"),
        ("på svenska tack", "change_language", "sv"),
        ("voitko puhua englantia", "change_language", "en"),
        ("can we speak finnish", "change_language", "fi"),
        ("suomeksi", "nlu_fallback", "fi"),
        ("English", "greet", "en"),
        ("svenska", None, "sv"),
    ],
)
def test_language_asked_for_in_words(
    decider: LanguageDecider, text: str, intent: str | None, expected: str
) -> None:
    decision = decider.decide(
        text, {"conversation_language": "fi" if expected != "fi" else "en"}, intent
    )
    assert (decision.code, decision.source) == (expected, "explicit")


def test_a_language_named_inside_a_service_question_is_not_a_switch(
    decider: LanguageDecider,
) -> None:
    decision = decider.decide(
        "I do not speak Finnish, can I get an interpreter",
        {"conversation_language": "en"},
        "interpreter",
    )
    assert decision.source != "explicit"
    assert decision.code == "en"
    decision = decider.decide(
        "interpreter in arabic", {"conversation_language": "en"}, "interpreter"
    )
    assert (decision.code, decision.unsupported) == ("en", None)


def test_asking_for_a_language_outside_the_list_is_flagged(decider: LanguageDecider) -> None:
    decision = decider.decide("türkçe lütfen konuşalım mı", {"conversation_language": "fi"}, "change_language")
    assert decision.unsupported == "tr"
    assert decision.code == "fi"  # the answer stays in a language the assistant speaks


# 2. detection -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("miten ilmoittaudun työttömäksi työnhakijaksi", "fi"),
        ("mä sain potkut töistä mitä nyt", "fi"),
        ("hur anmäler jag mig som arbetssökande", "sv"),
        ("how do I register as unemployed", "en"),
    ],
)
def test_long_enough_messages_are_detected(
    decider: LanguageDecider, text: str, expected: str
) -> None:
    decision = decider.decide(text, {"conversation_language": "fi" if expected != "fi" else "sv"})
    assert (decision.code, decision.source) == (expected, "detected")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hur ansöker jag om starttiraha från kela", "sv"),
        ("can i get palkkatuki from te-toimisto if i find an employer", "en"),
        ("kan jag få karenssi om jag säger upp mig", "sv"),
        ("what is työkkäri karenssi exactly", "en"),
    ],
)
def test_finnish_service_words_do_not_make_a_message_finnish(
    decider: LanguageDecider, text: str, expected: str
) -> None:
    decision = decider.decide(text, {"conversation_language": "fi"})
    assert (decision.code, decision.source) == (expected, "detected")


def test_detection_is_deterministic(decider: LanguageDecider) -> None:
    text = "voinko matkustaa ulkomaille"
    assert len({decider.decide(text).as_dict().__repr__() for _ in range(5)}) == 1


# 3. the conversation's language: short messages never flip it --------------------


@pytest.mark.parametrize(
    "text", ["ok", "kiitos", "tack", "hej", "thanks!", "ok thanks", "joo", "ja tack", "👍", "1234"]
)
@pytest.mark.parametrize("conversation", ["fi", "sv", "en"])
def test_one_or_two_words_keep_the_conversation_language(
    decider: LanguageDecider, text: str, conversation: str
) -> None:
    decision = decider.decide(text, {"conversation_language": conversation, "language_hint": "fi"})
    assert (decision.code, decision.source) == (conversation, "conversation")


# 4. the channel's hint, 5. the default ---------------------------------------------


def test_channel_hint_applies_when_nothing_else_decides(decider: LanguageDecider) -> None:
    decision = decider.decide("ok", {"language_hint": "sv-FI"})
    assert (decision.code, decision.source) == ("sv", "hint")


def test_unsupported_hint_falls_back_to_default(decider: LanguageDecider) -> None:
    decision = decider.decide("ok", {"language_hint": "de-DE"})
    assert (decision.code, decision.source) == ("fi", "default")


def test_default_without_any_metadata(decider: LanguageDecider) -> None:
    assert decider.decide("ok").as_dict()["source"] == "default"
    assert decider.decide("", None).code == "fi"


@pytest.mark.parametrize(
    ("tag", "code"),
    [("sv-FI", "sv"), ("en_GB", "en"), ("FI", "fi"), ("", None), (None, None), (5, None)],
)
def test_normalise_tag(tag: object, code: str | None) -> None:
    assert normalise_tag(tag) == code


# languages the assistant does not speak ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Merhaba, işsizlik parası için nasıl başvuru yapabilirim acaba", "tr"),
        ("Hola, ¿cómo puedo solicitar el subsidio de desempleo en Finlandia?", "es"),
        ("ምዝገባ ከመይ ይግበር እየ ስራ ኣልቦ", "und-Ethi"),
        ("چۆن دەتوانم وەک بێکار خۆم تۆمار بکەم", "ckb"),
        ("Как зарегистрироваться безработным в Эспоо", "ru"),
        ("我想申请失业救济金", "zh"),
    ],
)
def test_messages_in_languages_the_assistant_does_not_speak_are_flagged(
    decider: LanguageDecider, text: str, language: str
) -> None:
    decision = decider.decide(text, {"conversation_language": "sv"})
    if decider.catalog.is_supported(language):  # a listed language that has become supported
        assert (decision.code, decision.source, decision.unsupported) == (language, "detected", None)
    else:
        assert decision.unsupported == language
        assert decision.code == "sv"


@pytest.mark.parametrize(
    "text",
    [
        "update my employment plan",
        "complaint about employment services",
        "i am sick cannot do full time job",
        "applying for unemployment benefits",
        "does espoo serve kauniainen also",
    ],
)
def test_short_english_is_not_mistaken_for_another_language(
    decider: LanguageDecider, text: str
) -> None:
    decision = decider.decide(text, {"conversation_language": "fi"})
    assert decision.unsupported is None
    assert decision.code == "en"


def test_mixed_input_with_links_and_numbers(decider: LanguageDecider) -> None:
    decision = decider.decide(
        "voinko hakea https://tyomarkkinatori.fi/ kautta 4 työpaikkaa kuussa",
        {"conversation_language": "en"},
    )
    assert (decision.code, decision.source) == ("fi", "detected")


def test_decision_is_serialisable_for_the_parse_result(decider: LanguageDecider) -> None:
    data = decider.decide("how do I register as unemployed").as_dict()
    assert set(data) == {"code", "source", "detected", "confidence", "unsupported"}
    assert data["code"] == "en" and data["source"] == "detected"


# every language of the list ------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "intent", "code"),
    [
        ("говорите по-русски", "change_language", "ru"),
        ("українською, будь ласка", "change_language", "uk"),
        ("eesti keeles palun", "change_language", "et"),
        ("بالعربي من فضلك", "change_language", "ar"),
        ("af soomaali", None, "so"),
        ("به فارسی لطفا", "change_language", "fa"),
        ("中文", None, "zh"),
        ("tiếng việt", None, "vi"),
        ("shqip ju lutem", "change_language", "sq"),
    ],
)
def test_explicit_switch_works_in_every_language(decider: LanguageDecider, text: str, intent: str | None,
                                                 code: str) -> None:
    decision = decider.decide(text, {"conversation_language": "fi"}, intent)
    if decider.catalog.is_supported(code):
        assert (decision.code, decision.source) == (code, "explicit")
    else:  # listed, not yet supported: recognised, answered the unsupported way
        assert decision.unsupported == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("де можна отримати допомогу", "uk"),  # і, є: only Ukrainian
        ("где мне найти работу", "ru"),
        ("کجا میتوانم کار پیدا کنم", "fa"),  # ک, ی: Persian letters
        ("أين يمكنني أن أجد عملا", "ar"),
        ("tôi muốn đăng ký thất nghiệp", "vi"),
        ("kus ma saan tööd otsida", "et"),
        ("sidee baan u helaa shaqo", "so"),
        ("ku mund të gjej punë", "sq"),
        ("我在哪里可以找到工作", "zh"),
    ],
)
def test_scripts_and_letters_tell_close_languages_apart(decider: LanguageDecider, text: str, code: str) -> None:
    assert decider.detector.detect(text).code == code


def test_chinese_sentence_naming_a_language_is_not_a_bare_request(decider: LanguageDecider) -> None:
    # "My English isn't good, can I have an interpreter at the meeting?" names English but asks about interpreters.
    decision = decider.decide("我英语也不好开会时能有口译吗", {"conversation_language": "fi"}, "interpreter")
    assert decision.source != "explicit"


def test_romanized_writing_does_not_switch_a_non_latin_conversation(decider: LanguageDecider) -> None:
    # Finglish (Persian in Latin letters) looks like Somali to both detectors.
    decision = decider.decide("kar peyda kardam bayad be kela khabar bedam?", {"conversation_language": "fa"})
    assert decision.code == "fa"
    decision = decider.decide("could you tell me how to register as an unemployed jobseeker",
                              {"conversation_language": "fa"})
    assert (decision.code, decision.source) == ("en", "detected")


# a conversation's first message ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("здравствуйте", "ru"),
        ("привіт", "uk"),
        ("что такое starttiraha", "ru"),  # the Finnish service word does not make it "too short"
        ("مرحبا", "ar"),
        ("شو يعني starttiraha", "ar"),
        ("درود", "fa"),
        ("你好", "zh"),
        ("kotoutumiskoulutus怎么报名", "zh"),
        ("hej", "sv"),
        ("tere", "et"),
        ("salaan", "so"),
        ("xin chào", "vi"),
        ("përshëndetje", "sq"),
        ("good morning", "en"),
        ("kif asajel 7ali ba7eth 3an 3amal", "ar"),  # Arabizi: the training data's profile knows it
    ],
)
def test_first_message_uses_the_best_guess_before_a_finnish_browser_hint(
    decider: LanguageDecider, text: str, code: str
) -> None:
    decision = decider.decide(text, {"language_hints": ["fi-FI", "en-US"], "language_hint": "fi"})
    assert (decision.code, decision.source) == (code, "detected"), decision


@pytest.mark.parametrize("text", ["ok", "hi", "hei", "👍", "1234"])
def test_an_ambiguous_first_message_follows_the_hints(decider: LanguageDecider, text: str) -> None:
    """Words that people of every language write ("ok", "hi", "hei") are no evidence:
    the browser's languages decide, in their order, the first one the assistant speaks."""
    decision = decider.decide(text, {"language_hints": ["de-DE", "sv-FI", "en"], "language_hint": "en"})
    assert (decision.code, decision.source) == ("sv", "hint")
    assert decider.decide(text, {}).code == "fi"


@pytest.mark.parametrize("text", ["ok", "kiitos", "tack", "hej", "thanks", "hello"])
def test_inside_a_finnish_conversation_short_messages_keep_finnish(decider: LanguageDecider, text: str) -> None:
    decision = decider.decide(text, {"conversation_language": "fi", "language_hints": ["sv-FI"]})
    assert (decision.code, decision.source) == ("fi", "conversation")


def test_service_words_count_towards_length_when_the_rest_is_unambiguous(decider: LanguageDecider) -> None:
    decision = decider.decide("что такое starttiraha", {"conversation_language": "fi"})
    assert (decision.code, decision.source) == ("ru", "detected")
    # ... but not when the rest is a word of any language
    assert decider.decide("ok starttiraha kela", {"conversation_language": "fi"}).code == "fi"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (["fi-FI", "en-US", "sv"], ["fi-FI", "en-US", "sv"]),
        (["zh-Hans-CN", "x" * 40, "<script>", 5, None, "en"], ["zh-Hans-CN", "en"]),
        ([f"x{chr(97 + i)}" for i in range(20)], [f"x{chr(97 + i)}" for i in range(10)]),
        ("fi-FI", []),
        (None, []),
        ({"a": "fi"}, []),
    ],
)
def test_browser_language_hints_are_validated(raw: object, kept: list[str]) -> None:
    from bot.language.decision import valid_hints

    assert valid_hints(raw) == kept


def test_the_component_reads_the_conversation_language_from_the_tracker() -> None:
    """Through Rasa the component gets the tracker: after a typed Swedish message "ok"
    keeps Swedish even without metadata; a conversation with only a menu button so far
    has no language yet, whatever the metadata says."""
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.training_data.message import Message

    from components.language_decider import LanguageDecider as Component

    component = Component({})

    def decide(text: str, events: list, metadata: dict | None = None) -> dict:
        tracker = DialogueStateTracker.from_events("test", events)
        message = Message({"text": text, "metadata": metadata or {}})
        component.process([message], tracker)
        return message.get("language")

    typed = [UserUttered("hur ansöker jag om arbetslöshetsersättning", {"name": "benefit_apply"}),
             SlotSet("language", "sv")]
    assert decide("tack", typed)["code"] == "sv"
    assert decide("hello", typed) == {**decide("hello", typed), "code": "sv", "source": "conversation"}
    menu_only = [UserUttered("/help", {"name": "help"}), SlotSet("language", "fi")]
    assert decide("привет", menu_only, {"conversation_language": "fi"})["code"] == "ru"
    assert decide("привет", [], {"conversation_language": "fi"})["code"] == "fi"


@pytest.mark.parametrize(
    ("conversation", "text", "expected"),
    [
        # A near tie between Russian and Ukrainian keeps the conversation's language ...
        ("uk", "ну все добре па", "uk"),
        ("uk", "на все добре дякую", "uk"),
        # ... a clear message in the other language of the pair still switches it.
        ("uk", "Как зарегистрироваться безработным в Эспоо, подскажите пожалуйста", "ru"),
        ("ru", "Як зареєструватися безробітним в Еспоо, підкажіть будь ласка", "uk"),
    ],
)
def test_a_close_partner_switches_the_conversation_only_when_clear(
    decider: LanguageDecider, conversation: str, text: str, expected: str
) -> None:
    """In `high_for_latin` (the default), where lingua's trigram models judge Cyrillic and these
    near ties are trusted detections."""
    assert decider.catalog.detection.lingua_mode == "high_for_latin"
    detection = decider.detector.detect(text)
    assert detection.trusted  # the guard, not the length rule, decides here
    assert decider.decide(text, {"conversation_language": conversation}).code == expected


# Keyboard mash and made-up words that a detector took for a language outside the list
# (lingua's trigram models: Dutch, Swahili, Portuguese, Italian; langdetect named another).
MASH = ["blorp snarf quux grml", "qwertyuiop asdfghjkl zxcvbnm", "hgfhgf dgdfg dfgdfg",
        "asdfgh jklö qwerty", "jkjkjk kjkjk hjhj", "zzz xxx ccc vvv"]


@pytest.mark.parametrize("text", MASH)
def test_keyboard_mash_inside_a_conversation_is_not_another_language(decider: LanguageDecider, text: str) -> None:
    """It keeps the conversation's language, so the assistant says it did not understand and
    offers a person, instead of telling an English speaker it does not speak Dutch."""
    decision = decider.decide(text, {"conversation_language": "en"})
    assert (decision.code, decision.unsupported) == ("en", None), decision


def test_mash_is_told_from_another_language_by_the_two_detectors_disagreeing(decider: LanguageDecider) -> None:
    mash = decider.detector.detect("blorp snarf quux grml")
    assert mash.other_language is not None and not mash.other_confirmed  # lingua alone is sure
    turkish = decider.detector.detect("Merhaba, işsizlik parası için nasıl başvuru yapabilirim acaba")
    assert (turkish.other_language, turkish.other_confirmed) == ("tr", True)
    greek = decider.detector.detect("Πώς μπορώ να εγγραφώ ως άνεργος")
    assert (greek.other_language, greek.other_confirmed) == ("el", True)  # the script alone says so


def test_a_first_message_in_a_language_neither_detector_knows_is_still_another_language(
    decider: LanguageDecider,
) -> None:
    """Kurmanji (langid sentences): langdetect does not know it, so the two never agree on it; the
    first message of a conversation needs no agreement and is answered the unsupported way."""
    text = "Ev deverên ku xela lê hene rîska belavbûna vîrûsê zêde dikin."
    assert decider.decide(text).unsupported is not None
