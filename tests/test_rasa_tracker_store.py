"""The windowed SQL tracker store (bot/rasa_tracker_store.py) on a SQLite file (and PostgreSQL,
127.0.0.1:5432, where it runs): what a turn loads is bounded, the state it rebuilds is the full
conversation's, nothing is lost or stored twice."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_tracker_store import OUTCOMES, WindowedSQLTrackerStore

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, topic_a, topic_b]
slots:
  language: {type: any, mappings: [{type: custom}]}
  topic: {type: any, mappings: [{type: custom}]}
  counter: {type: any, mappings: [{type: custom}]}
""")


POSTGRES = {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "db": "test", "username": "postgres"}


def store_at(path: Path, window: int = 3) -> WindowedSQLTrackerStore:
    return WindowedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path), window_turns=window)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> WindowedSQLTrackerStore:
    if request.param == "sqlite":
        return store_at(tmp_path / "tracker.db")
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=3).close()
    except OSError as error:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})")
    return WindowedSQLTrackerStore(DOMAIN, window_turns=3, **POSTGRES)


def turn(tracker: DialogueStateTracker, index: int) -> None:
    intent = "topic_a" if index % 2 else "topic_b"
    tracker.update(UserUttered(f"message {index}", {"name": intent, "confidence": 0.9},
                               message_id=f"m{index}"))
    if index == 1:
        tracker.update(SlotSet("topic", "first"))
    if index % 4 == 0:
        tracker.update(SlotSet("language", ["fi", "sv"][index // 4 % 2]))
    tracker.update(SlotSet("counter", index))
    tracker.update(ActionExecuted("utter_answer"))
    tracker.update(BotUttered(f"answer {index}"))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(coroutine)


def test_a_long_conversation_loads_only_its_window_with_every_slot(store: WindowedSQLTrackerStore) -> None:
    sender = f"c1-{uuid.uuid4().hex}"
    full = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), SlotSet("language", "en"),
                  ActionExecuted(ACTION_LISTEN_NAME)):
        full.update(event)
    for index in range(1, 31):
        turn(full, index)
    run(store.save(full))

    loaded = run(store.retrieve(sender))
    assert loaded.current_slot_values() == full.current_slot_values()
    assert loaded.current_slot_values()["topic"] == "first"  # set in turn 1, long before the window
    user_texts = [e.text for e in loaded.events if isinstance(e, UserUttered)]
    assert user_texts == ["message 28", "message 29", "message 30"]
    assert loaded.latest_message.text == "message 30"
    assert len(loaded.events) < len(full.events) / 5

    # A new turn on the windowed tracker: only the new events are stored, once.
    turn(loaded, 31)
    run(store.save(loaded))
    run(store.save(loaded))  # saved again (Rasa may): nothing twice
    whole = run(store.retrieve_full_tracker(sender))
    assert [e.text for e in whole.events if isinstance(e, UserUttered)] == [f"message {i}" for i in range(1, 32)]
    assert len(whole.events) == len(full.events) + 5
    assert run(store.retrieve(sender)).current_slot_values()["counter"] == 31


def test_a_short_conversation_and_a_new_session_load_as_rasa_does(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db", window=10)
    tracker = DialogueStateTracker("c2", DOMAIN.slots)
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    for index in range(1, 4):
        turn(tracker, index)
    run(store.save(tracker))
    assert [e.as_dict() for e in run(store.retrieve("c2")).events] == [e.as_dict() for e in tracker.events]

    # A second session: its own events and the slots it sets, nothing of the first.
    for event in (SessionStarted(), SlotSet("language", "sv"), ActionExecuted(ACTION_LISTEN_NAME)):
        tracker.update(event)
    turn(tracker, 5)
    run(store.save(tracker))
    loaded = run(store.retrieve("c2"))
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)] == ["message 5"]
    assert loaded.get_slot("language") == "sv" and loaded.get_slot("topic") is None
    assert run(store.retrieve("nobody")) is None


def test_each_save_keeps_the_turn_outcome_for_the_turn_channel(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db")
    tracker = DialogueStateTracker("c3", DOMAIN.slots)
    tracker.update(SessionStarted())
    turn(tracker, 4)  # sets the language to sv
    run(store.save(tracker))
    outcome = OUTCOMES.pop("m4")
    assert outcome["language"] == "sv"
    assert outcome["latest_message"]["intent"]["name"] == "topic_b"
    assert outcome["latest_message"]["text"] == "message 4"
    assert OUTCOMES.pop("m4") is None
