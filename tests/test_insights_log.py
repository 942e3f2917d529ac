"""The unresolved-question log (bot/insights/log.py): classification of parse results,
pseudonymous keys, masking inside record, outcomes and feedback, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select

from bot.insights.log import (
    AMBIGUOUS,
    NEGATIVE_FEEDBACK,
    NLU_FALLBACK,
    OUT_OF_SCOPE,
    UNSUPPORTED_LANGUAGE,
    InsightsLog,
    classify_turn,
    fallback_threshold_from_config,
    top_intents,
)
from bot.insights.pseudonym import ENV_VARIABLE, conversation_key, resolve_secret
from bot.settings import load_settings
from bot.store.db import Database, alembic_config, migrate
from bot.store.models import Feedback, UnresolvedQuestion

SECRET = "test-secret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def parse(text: str, ranking: list[tuple[str, float]], *, fallback: bool = False, language: str = "fi",
          unsupported: str | None = None, entities: list[dict] | None = None) -> dict:
    """A parse result as Rasa 3.6 gives it (FallbackClassifier puts nlu_fallback first)."""
    intent_ranking = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    intent = intent_ranking[0] if intent_ranking else {"name": None, "confidence": 0.0}
    if fallback:
        intent = {"name": "nlu_fallback", "confidence": 0.8}
        intent_ranking = [intent, *intent_ranking]
    return {
        "text": text,
        "intent": intent,
        "intent_ranking": intent_ranking,
        "entities": entities or [],
        "language": {"code": language, "source": "detected", "detected": unsupported or language,
                     "confidence": 0.9, "unsupported": unsupported},
    }


@pytest.fixture
def database(migrated_database: Database) -> Database:
    return migrated_database


@pytest.fixture
def log(database: Database) -> InsightsLog:
    return InsightsLog(database, SECRET, fallback_threshold=0.2, clock=lambda: NOW)


def rows(database: Database, model=UnresolvedQuestion) -> list:
    with database.session() as session:
        return list(session.execute(select(model).order_by(model.id)).scalars())


# --- classify_turn --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse_data", "expected"),
    [
        (parse("miten ilmoittaudun työttömäksi", [("register_as_jobseeker", 0.91), ("benefit_apply", 0.03)]), None),
        (parse("hei", [("greet", 0.97)]), None),
        (parse('/change_language{"language":"sv"}', [("change_language", 1.0)]), None),
        (parse("/request_human", [], fallback=True), None),
        # nothing matched well: the best real intent far ahead of the next, or nothing at all
        (parse("voiko koiran tuoda toimistoon", [("appointment", 0.15), ("contact_info", 0.02)], fallback=True),
         NLU_FALLBACK),
        (parse("asdf qwerty", [("greet", 0.05), ("thank", 0.04)], fallback=True), NLU_FALLBACK),
        (parse("xyz", [], fallback=True), NLU_FALLBACK),
        # torn between two topics
        (parse("tuki ja hakemukset", [("benefit_apply", 0.18), ("job_search_obligation", 0.15)], fallback=True),
         AMBIGUOUS),
        # below the threshold without the FallbackClassifier's intent (e.g. /model/parse of another pipeline)
        (parse("jotain", [("benefit_apply", 0.12), ("cv_help", 0.01)]), NLU_FALLBACK),
        (parse("what is the weather tomorrow", [("out_of_scope", 0.88), ("greet", 0.02)]), OUT_OF_SCOPE),
        (parse("Ich brauche Hilfe mit Arbeitslosengeld", [("out_of_scope", 1.0)], language="fi", unsupported="de"),
         UNSUPPORTED_LANGUAGE),
        (parse("Ich brauche Hilfe", [("out_of_scope", 1.0)],
               entities=[{"entity": "unsupported_language", "value": "de"}]), UNSUPPORTED_LANGUAGE),
    ],
)
def test_classify_turn(parse_data: dict, expected: str | None) -> None:
    assert classify_turn(parse_data, fallback_threshold=0.2) == expected


def test_ambiguity_needs_two_real_candidates_close_together() -> None:
    close = parse("x y z", [("benefit_apply", 0.18), ("cv_help", 0.12)], fallback=True)
    assert classify_turn(close, 0.2, ambiguity_gap=0.1) == AMBIGUOUS
    assert classify_turn(close, 0.2, ambiguity_gap=0.05) == NLU_FALLBACK
    assert classify_turn(close, 0.2, ambiguity_floor=0.15) == NLU_FALLBACK


def test_top_intents_leave_out_the_fallback_and_round() -> None:
    data = parse("x", [("a", 0.123456), ("b", 0.1), ("c", 0.05), ("d", 0.01)], fallback=True)
    assert top_intents(data) == [{"name": "a", "confidence": 0.1235}, {"name": "b", "confidence": 0.1},
                                 {"name": "c", "confidence": 0.05}]


def test_threshold_comes_from_the_rasa_pipeline() -> None:
    assert fallback_threshold_from_config() == 0.15  # config/config.yml


# --- pseudonymous keys ----------------------------------------------------------------------------


def test_conversation_key_is_a_truncated_hmac() -> None:
    key = conversation_key("3f2a" * 8, SECRET)
    assert len(key) == 32 and int(key, 16) >= 0
    assert key == conversation_key("3f2a" * 8, SECRET.encode())
    assert key != conversation_key("3f2a" * 8, "another secret")
    assert key != conversation_key("3f2b" * 8, SECRET)
    with pytest.raises(ValueError):
        conversation_key("x", "")


def test_secret_from_setting_environment_or_a_private_file(tmp_path) -> None:
    path = tmp_path / "secret"
    assert resolve_secret("configured", {ENV_VARIABLE: "env"}, path) == "configured"
    assert resolve_secret(None, {ENV_VARIABLE: "env"}, path) == "env"
    created = resolve_secret(None, {}, path)
    assert len(created) == 64 and path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_secret(None, {}, path) == created
    assert load_settings(environ={ENV_VARIABLE: "from-env"}).pseudonym_secret == "from-env"


# --- the log in the database ----------------------------------------------------------------------


def test_migration_0003_goes_down_and_up(database_url: str) -> None:
    migrate(database_url)
    engine = create_engine(database_url, future=True)
    assert {"unresolved_questions", "feedback"} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(database_url), "0002")
    assert not {"unresolved_questions", "feedback"} & set(inspect(engine).get_table_names())
    migrate(database_url)
    assert {"unresolved_questions", "feedback"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_record_masks_text_and_keys_by_pseudonym(log: InsightsLog, database: Database) -> None:
    conversation_id = "c0ffee" * 5
    item = log.record(conversation_id, channel="telegram", reason=NLU_FALLBACK, language="fi",
                      text="soita 040 123 4567 tai matti@example.fi, hetu 131052-308T",
                      intents=[{"name": "appointment", "confidence": 0.15}])
    [row] = rows(database)
    assert row.id == item
    assert row.text == "soita [phone] tai [email], hetu [personal_id]"
    assert row.conversation_key == conversation_key(conversation_id, SECRET) != conversation_id
    assert row.intents == [{"name": "appointment", "confidence": 0.15}]
    assert row.label_status == "new" and row.outcome is None
    stored = " ".join(str(getattr(row, c.key)) for c in UnresolvedQuestion.__table__.columns)
    for secret in ("4567", "matti", "131052", conversation_id):
        assert secret not in stored


def test_record_checks_reasons_and_triggers(log: InsightsLog, database: Database) -> None:
    with pytest.raises(ValueError):
        log.record("c1", channel="webchat", reason="confused")
    with pytest.raises(ValueError):
        log.record("c1", channel="webchat", reason="handoff_request")
    with pytest.raises(ValueError):
        log.record("c1", channel="webchat", reason="handoff_request", trigger="telepathy")
    with pytest.raises(ValueError):
        log.record("c1", channel="webchat", reason=NLU_FALLBACK, trigger="button")
    log.record("c1", channel="webchat", reason="handoff_request", trigger="interpreter", topic="benefit_apply",
               language="en")
    log.record("c1", channel="webchat", reason="contact_request", topic="benefit_apply", language="en")
    assert [(r.reason, r.trigger, r.topic) for r in rows(database)] == [
        ("handoff_request", "interpreter", "benefit_apply"), ("contact_request", None, "benefit_apply")]


def test_record_turn_logs_only_unresolved_turns(log: InsightsLog, database: Database) -> None:
    assert log.record_turn("c1", channel="webchat", parse_data=parse(
        "miten ilmoittaudun", [("register_as_jobseeker", 0.9)])) is None
    log.record_turn("c1", channel="webchat", parse_data=parse(
        "voiko koiran tuoda, numeroni 0401234567", [("appointment", 0.15), ("contact_info", 0.02)], fallback=True))
    log.record_turn("c1", channel="webchat", parse_data=parse(
        "Ich brauche Hilfe mit Arbeitslosengeld", [("out_of_scope", 1.0)], language="en", unsupported="de"))
    first, second = rows(database)
    assert (first.reason, first.text, first.language) == (NLU_FALLBACK, "voiko koiran tuoda, numeroni [phone]", "fi")
    assert [i["name"] for i in first.intents] == ["appointment", "contact_info"]
    assert (second.reason, second.language, second.detected_language) == (UNSUPPORTED_LANGUAGE, "en", "de")


def test_outcome_reaches_the_conversations_open_questions_only(log: InsightsLog, database: Database) -> None:
    log.record("c1", channel="webchat", reason=NLU_FALLBACK, text="old", at=NOW - timedelta(days=40))
    log.record("c1", channel="webchat", reason=NLU_FALLBACK, text="a", at=NOW - timedelta(minutes=5))
    log.record("c1", channel="webchat", reason="handoff_request", trigger="fallback_offer",
               at=NOW - timedelta(minutes=4))
    log.record("c2", channel="webchat", reason=NLU_FALLBACK, text="other conversation", at=NOW)
    assert log.record_outcome("c1", "answered_by_adviser", "benefit_apply") == 2
    # already answered: a later outcome does not overwrite it
    assert log.record_outcome("c1", "timeout") == 0
    with pytest.raises(ValueError):
        log.record_outcome("c1", "vanished")
    outcomes = [(r.text, r.outcome, r.outcome_topic) for r in rows(database)]
    assert outcomes == [("old", None, None), ("a", "answered_by_adviser", "benefit_apply"),
                        (None, "answered_by_adviser", "benefit_apply"), ("other conversation", None, None)]
    answered = rows(database)[1]
    assert answered.outcome_at.replace(tzinfo=timezone.utc) == NOW


def test_feedback_and_thumbs_down_as_negative_feedback(log: InsightsLog, database: Database) -> None:
    log.record_feedback("c1", channel="webchat", language="fi", kind="answer", value=1, topic="benefit_apply")
    log.record_feedback("c1", channel="webchat", language="fi", kind="answer", value=-1, topic="benefit_amount",
                        question="paljonko saan rahaa, tilini FI21 1234 5600 0007 85",
                        answer="Kela laskee määrän, soita 020 692 210")
    log.record_feedback("c1", channel="telegram", language="sv", kind="rating", value=4)
    for bad in [dict(kind="answer", value=0), dict(kind="rating", value=6), dict(kind="stars", value=3)]:
        with pytest.raises(ValueError):
            log.record_feedback("c1", channel="webchat", language="fi", **bad)
    feedback = rows(database, Feedback)
    assert [(f.kind, f.value, f.topic, f.language) for f in feedback] == [
        ("answer", 1, "benefit_apply", "fi"), ("answer", -1, "benefit_amount", "fi"), ("rating", 4, None, "sv")]
    assert {f.conversation_key for f in feedback} == {log.key("c1")}
    [negative] = rows(database)
    assert negative.reason == NEGATIVE_FEEDBACK
    assert negative.text == "paljonko saan rahaa, tilini [iban]"
    assert negative.answer == "Kela laskee määrän, soita [phone]"
    assert negative.topic == "benefit_amount"
    assert [q.id for q in log.questions_of("c1")] == [negative.id]


# --- "did you mean": the user's choice labels their question --------------------------------------


def test_a_did_you_mean_choice_labels_the_question_it_answers(log: InsightsLog, database: Database) -> None:
    from bot.insights.inbox import Inbox
    from bot.insights.log import CHOSEN_BY_USER

    log.record("c2", channel="webchat", reason=NLU_FALLBACK, text="other conversation", at=NOW - timedelta(minutes=1))
    log.record("c1", channel="webchat", reason=AMBIGUOUS, text="yesterday's", at=NOW - timedelta(days=1))
    asked = log.record_turn("c1", channel="webchat", parse_data=parse(
        "en päässyt tapaamiseen, soita 0401234567", [("missed_obligation", 0.15), ("appointment", 0.12)],
        fallback=True), at=NOW - timedelta(minutes=2))
    labelled = log.record_choice("c1", channel="webchat", topic="missed_obligation", language="fi",
                                 question="en päässyt tapaamiseen, soita 0401234567")
    assert labelled == asked
    by_id = {r.id: r for r in rows(database)}
    row = by_id[asked]
    assert (row.label_status, row.label_intent, row.labelled_by) == ("labelled", "missed_obligation", CHOSEN_BY_USER)
    assert row.text == "en päässyt tapaamiseen, soita [phone]"
    assert [r.label_status for r in by_id.values() if r.id != asked] == ["new", "new"]
    examples = Inbox(database, intents={"missed_obligation", "appointment"}).labelled_examples("fi")
    assert examples == {"fi": {"missed_obligation": ["en päässyt tapaamiseen, soita [phone]"]}}


def test_a_choice_without_a_logged_question_logs_it_masked(log: InsightsLog, database: Database) -> None:
    assert log.record_choice("c3", channel="telegram", topic="appointment", language="en") is None
    log.record_choice("c3", channel="telegram", topic="appointment", language="en",
                      question="move my meeting, mail me at anna@example.com")
    [row] = rows(database)
    assert (row.reason, row.label_status, row.label_intent, row.language) == (
        NLU_FALLBACK, "labelled", "appointment", "en")
    assert row.text == "move my meeting, mail me at [email]"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ('/missed_obligation{"did_you_mean":"missed_obligation"}', "missed_obligation"),
        ('/appointment{"did_you_mean": "appointment"}', "appointment"),
        ('/help{"topic_group": "benefits"}', None),
        ("/appointment", None),
        ("missed_obligation", None),
        ("", None),
    ],
)
def test_a_did_you_mean_payload_is_known_by_its_shape(text: str, topic: str | None) -> None:
    from actions.fallback import did_you_mean_payload
    from bot.insights.choices import chosen_topic

    assert chosen_topic(text) == topic
    assert chosen_topic(did_you_mean_payload("pay_subsidy")) == "pay_subsidy"
