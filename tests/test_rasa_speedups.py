"""bot/rasa_speedups.py: Rasa's action-response validation and event lookup, cheaper and the same."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot.rasa_speedups import install

VALID = {
    "events": [{"event": "slot", "name": "language", "value": "sv"}, {"event": "followup", "name": "action_x"}],
    "responses": [{"text": "Hej"}],
}


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    install()


def test_a_valid_action_response_passes() -> None:
    assert RemoteAction("action_x", None)._validate_action_result(VALID) is True


@pytest.mark.parametrize(
    "response",
    [
        {"events": [{"name": "language"}]},  # an event without its type
        {"events": "slot"},
        {"responses": ["Hej"]},
    ],
)
def test_an_invalid_action_response_is_rejected_as_rasa_rejects_it(response: dict) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_x", None)._validate_action_result(response)


def test_every_event_type_resolves_to_the_same_class() -> None:
    for event_class in all_subclasses(Event):
        name = event_class.type_name
        first = next(c for c in all_subclasses(Event) if c.type_name == name)  # Rasa's own search
        assert Event.resolve_by_type(name) is first
        assert Event.resolve_by_type(name) is first  # from the cache
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_the_free_heap_goes_back_to_the_system() -> None:
    """glibc on these machines: malloc_trim runs (its return says whether memory was released)."""
    import ctypes.util

    from bot.rasa_speedups import trim_heap

    assert ctypes.util.find_library("c")
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # 128 MB in small blocks on the heap
    del blocks
    assert trim_heap() is True


def test_malloc_arenas_can_be_limited() -> None:
    """glibc's mallopt accepts the limit scripts/serve.py sets before Rasa starts its threads."""
    from bot.rasa_speedups import limit_malloc_arenas
    from scripts.serve import MALLOC_ARENAS

    assert limit_malloc_arenas(MALLOC_ARENAS) is True
