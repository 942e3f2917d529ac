"""The NLU inbox (bot/insights/inbox.py): labelling, listing, and an export that Rasa
accepts together with the project's domain and training data."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from bot.insights.inbox import DISMISSED, NEW, NEW_TOPIC, Inbox, domain_intents, nlu_yaml, training_text
from bot.insights.log import InsightsLog
from bot.paths import PROJECT_ROOT
from bot.store.db import Database, migrate
from tests.spec import conversation_intents, topic_names

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

QUESTIONS = [
    # (language, reason, text)
    ("fi", "nlu_fallback", "paljonko yleistuki on kuussa jos asun yksin, soita 040 123 4567"),
    ("fi", "ambiguous", "saanko tukea kun opiskelen ja haen töitä"),
    ("fi", "nlu_fallback", "voiko koiran tuoda toimistoon"),
    ("fi", "out_of_scope", "[linkki](http://example.com) mikä on sää"),
    ("fi", "nlu_fallback", "0401234567!"),
    ("sv", "nlu_fallback", "hur mycket får man i allmänt stöd, mejla mig på anna@example.se"),
    ("sv", "ambiguous", "vad gäller för arbetsprövning efter sjukledighet"),
    ("ar", "nlu_fallback", "كم يبلغ الدعم العام في الشهر؟ رقمي +358 40 765 4321"),
    ("zh", "nlu_fallback", "失业了怎么申请补助\x00金"),
    ("fi", "nlu_fallback", "paljonko yleistuki on kuussa jos asun yksin, soita 040 999 8888"),
]


def seed(database: Database) -> list[int]:
    log = InsightsLog(database, "inbox-secret", fallback_threshold=0.2)
    ids = [log.record(f"conversation-{i}", channel="webchat", reason=reason, language=language, text=text,
                      at=T0 + timedelta(minutes=i)) for i, (language, reason, text) in enumerate(QUESTIONS)]
    log.record("conversation-h", channel="webchat", reason="handoff_request", trigger="button", language="fi",
               at=T0)
    return ids


@pytest.fixture
def database(migrated_database: Database) -> Database:
    return migrated_database


@pytest.fixture
def inbox(database: Database) -> Inbox:
    return Inbox(database, clock=lambda: T0 + timedelta(days=1))


def test_labels_are_the_intents_of_the_spec(database: Database) -> None:
    spec = set(topic_names()) | set(conversation_intents())
    assert spec <= domain_intents()
    # The gateway's event intents (/EXTERNAL_...) are no labels.
    assert Inbox(database).intents == spec


def test_training_text_is_masked_single_line_and_free_of_markup() -> None:
    assert training_text("soita\n040 123 4567  heti") == "soita [phone] heti"
    assert training_text("[linkki](http://example.com) sää") == "[linkki] (http://example.com) sää"
    assert training_text("[phone]{x} and [a][b]") == "[phone] {x} and [a] [b]"
    assert training_text("040 123 4567") is None
    assert training_text("  ") is None
    assert training_text("失业了\x00怎么办") == "失业了 怎么办"


def test_listing_and_labelling(database: Database, inbox: Inbox) -> None:
    ids = seed(database)
    items = inbox.items()
    assert [i.id for i in items] == ids[::-1]  # newest first; the handoff without text is not listed
    assert items[-1].text == "paljonko yleistuki on kuussa jos asun yksin, soita [phone]"
    assert [i.id for i in inbox.items(language="sv")] == [ids[6], ids[5]]
    assert [i.id for i in inbox.items(reason="ambiguous", language="fi")] == [ids[1]]

    labelled = inbox.label(ids[0], "benefit_amount", "anna")
    assert (labelled.status, labelled.label_intent, labelled.labelled_by) == ("labelled", "benefit_amount", "anna")
    assert labelled.labelled_at.replace(tzinfo=timezone.utc) == T0 + timedelta(days=1)
    inbox.label(ids[2], NEW_TOPIC, "anna", "pets_at_office")
    inbox.label(ids[3], DISMISSED, "anna")
    with pytest.raises(ValueError):
        inbox.label(ids[1], "weather_forecast", "anna")
    with pytest.raises(ValueError):
        inbox.label(ids[1], "nlu_fallback", "anna")
    with pytest.raises(ValueError):
        inbox.label(ids[1], "EXTERNAL_handoff_queued", "anna")
    with pytest.raises(ValueError):
        inbox.label(ids[1], NEW_TOPIC, "anna", "Pets At Office!")
    with pytest.raises(ValueError):
        inbox.label(ids[1], "benefit_apply", "")
    with pytest.raises(KeyError):
        inbox.label(10_000, "benefit_apply", "anna")
    assert len(inbox.items()) == len(ids) - 3
    assert [i.label_intent for i in inbox.items(status=NEW_TOPIC)] == ["pets_at_office"]
    # taking a label back
    inbox.label(ids[3], NEW, "anna")
    item = inbox.get(ids[3])
    assert (item.status, item.labelled_by, item.labelled_at) == ("new", None, None)
    assert inbox.counts()["fi"] == {"new": 4, "labelled": 1, "new_topic": 1}


def test_only_what_needs_a_decision_is_in_the_inbox(database: Database, inbox: Inbox) -> None:
    """An understood request for a person ("I want to talk to a person") is counted in the
    handoff figures, not put in the inbox; a request the assistant did not understand is
    there through its turn reason."""
    log = InsightsLog(database, "inbox-secret", fallback_threshold=0.2)
    understood = log.record("c1", channel="webchat", reason="handoff_request", trigger="user_request", language="fi",
                            text="haluan puhua ihmisen kanssa", intents=[{"name": "request_human", "confidence": 0.97}],
                            at=T0)
    log.record("c1", channel="webchat", reason="contact_request", language="fi", at=T0)
    unclear = log.record("c2", channel="webchat", reason="nlu_fallback", language="fi", text="ihmistä jonnekin",
                         at=T0 + timedelta(minutes=1))
    log.record("c2", channel="webchat", reason="handoff_request", trigger="fallback_offer", language="fi",
               text="ihmistä jonnekin", at=T0 + timedelta(minutes=1))
    assert [i.id for i in inbox.items(status=None)] == [unclear]
    assert inbox.items(reason="handoff_request") == []
    assert inbox.counts() == {"fi": {"new": 1}}
    assert inbox.get(understood).reason == "handoff_request"  # still logged, for the report


def test_suggestion_prefers_the_advisers_topic(database: Database, inbox: Inbox) -> None:
    log = InsightsLog(database, "inbox-secret", fallback_threshold=0.2)
    first = log.record("c", channel="webchat", reason="ambiguous", language="fi", text="tuki ja haku",
                       intents=[{"name": "benefit_apply", "confidence": 0.18}, {"name": "cv_help", "confidence": 0.1}])
    assert inbox.get(first).suggestion == "benefit_apply"
    log.record_outcome("c", "answered_by_adviser", "studying_while_unemployed")
    assert inbox.get(first).suggestion == "studying_while_unemployed"


def label_for_export(database: Database, inbox: Inbox) -> list[int]:
    ids = seed(database)
    inbox.label(ids[0], "benefit_amount", "anna")
    inbox.label(ids[9], "benefit_amount", "anna")  # the same question once masked: one example
    inbox.label(ids[1], "studying_while_unemployed", "anna")
    inbox.label(ids[2], NEW_TOPIC, "anna", "pets_at_office")
    inbox.label(ids[3], "out_of_scope", "anna")
    inbox.label(ids[4], "contact_info", "anna")  # nothing but a phone number: not exported
    inbox.label(ids[5], "benefit_amount", "erik")
    inbox.label(ids[6], "work_trial", "erik")
    inbox.label(ids[7], "benefit_amount", "anna")
    inbox.label(ids[8], "benefit_apply", "anna")
    return ids


def test_export_writes_masked_nlu_yaml_per_language(database: Database, inbox: Inbox, tmp_path: Path) -> None:
    label_for_export(database, inbox)
    written = inbox.export(tmp_path / "export")
    assert sorted(written) == ["ar", "fi", "sv", "zh"]
    fi = written["fi"].read_text(encoding="utf-8")
    assert fi.splitlines()[1:] == [
        'version: "3.1"',
        "nlu:",
        "- intent: benefit_amount",
        "  examples: |",
        "    - paljonko yleistuki on kuussa jos asun yksin, soita [phone]",
        "- intent: out_of_scope",
        "  examples: |",
        "    - [linkki] (http://example.com) mikä on sää",
        "- intent: studying_while_unemployed",
        "  examples: |",
        "    - saanko tukea kun opiskelen ja haen töitä",
    ]
    sv = yaml.safe_load(written["sv"].read_text(encoding="utf-8"))
    assert sv["nlu"][0]["examples"] == "- hur mycket får man i allmänt stöd, mejla mig på [email]\n"
    everything = "".join(p.read_text(encoding="utf-8") for p in written.values())
    for secret in ("123 4567", "401234567", "anna@example.se", "765 4321", "999 8888"):
        assert secret not in everything
    assert inbox.export_yaml("zh").endswith("- intent: benefit_apply\n  examples: |\n    - 失业了怎么申请补助 金\n")
    with (tmp_path / "export" / "new_topics.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(r["language"], r["proposed_topic"], r["text"]) for r in rows] == [
        ("fi", "pets_at_office", "voiko koiran tuoda toimistoon")]
    assert list(inbox.export(tmp_path / "sv-only", ["sv"])) == ["sv"]


def test_rasa_accepts_the_export_with_the_domain_and_training_data(tmp_path: Path) -> None:
    """Once, on SQLite: what is checked here is the file, the same from either database."""
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
    from rasa.validator import Validator

    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    migrate(url)
    database = Database(url)
    label_for_export(database, Inbox(database))
    written = Inbox(database).export(tmp_path / "export")
    database.engine.dispose()
    for language, path in written.items():
        data = RasaYAMLReader().read(str(path))  # validates against Rasa's YAML schema
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has only 1 training examples")
            data.validate()
        assert data.entities == set(), language  # no text was read as an entity annotation
        assert data.intents <= domain_intents()
    assert len(RasaYAMLReader().read(str(written["fi"])).intent_examples) == 3

    importer = TrainingDataImporter.load_from_dict(
        config_path=str(PROJECT_ROOT / "config" / "config.yml"),
        domain_path=str(PROJECT_ROOT / "domain"),
        training_data_paths=[str(PROJECT_ROOT / "data"), str(tmp_path / "export")],
    )
    validator = Validator.from_importer(importer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Domain intents without examples (the gateway's /EXTERNAL_ events) only warn.
        assert validator.verify_intents(ignore_warnings=True)
        assert validator.verify_example_repetition_in_intents(ignore_warnings=False)
    problems = [str(w.message) for w in caught
                if "not listed in your domain" in str(w.message) or "multiple different intents" in str(w.message)]
    assert problems == []
    exported = {e.get("text") for e in validator.intents.intent_examples}
    assert "saanko tukea kun opiskelen ja haen töitä" in exported


def test_nlu_yaml_without_examples_is_still_valid() -> None:
    assert yaml.safe_load(nlu_yaml({})) == {"version": "3.1", "nlu": []}


def test_inbox_export_command(database: Database, database_url: str, inbox: Inbox, tmp_path: Path) -> None:
    label_for_export(database, inbox)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "inbox", "export", "--out", str(tmp_path / "cli"), "--language", "fi"],
        cwd=PROJECT_ROOT, env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["new_topics.csv", "nlu_fi.yml"]
