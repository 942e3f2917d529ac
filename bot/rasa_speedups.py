"""Two costs Rasa 3.6 pays on every turn for a result that never changes (docs/performance.md,
"Rasa's own cost per turn"); `install()` removes both in the Rasa process, same behaviour.

- Every response of the action server is checked with `jsonschema.validate(result, schema)`,
  which first checks the *schema* against JSON Schema's meta-schema: 84 ms per custom action
  on this machine (the events schema is large), 30 % of an average turn. Here the schema is
  checked once and one validator checks every response, with the same errors.
- Every event read from the tracker store or the action server finds its class by walking all
  subclasses of `Event` (`rasa.shared.utils.common.all_subclasses`, about 0.1 ms per event,
  35 events per turn). Here each type name is looked up once.

And one of memory: loading the model and building the language detectors frees much of what
they allocated, but glibc keeps the freed heap; `trim_heap()` (after the server has started,
bot/rasa_channel.py) hands it back to the system: about 80 MB of Rasa's resident memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

_installed = False


@cache
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error: ValidationError | None = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from "
        f"the Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _cached_resolve_by_type(original: Any) -> Any:
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        """Event.resolve_by_type, remembering each class found (classes only ever get added)."""
        if type_name in found:
            return found[type_name]
        event_class = original(type_name, default)
        if event_class is not None and event_class is not default:
            found[type_name] = event_class
        return event_class

    return resolve_by_type


def install() -> None:
    """Patch Rasa's RemoteAction and Event in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_cached_resolve_by_type(Event.resolve_by_type))  # type: ignore[method-assign]
    _installed = True


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def _libc() -> ctypes.CDLL | None:
    library = ctypes.util.find_library("c")
    return ctypes.CDLL(library) if library else None


def limit_malloc_arenas(count: int) -> bool:
    """glibc's mallopt(M_ARENA_MAX, count), as MALLOC_ARENA_MAX does, for the threads started
    afterwards (TensorFlow's and the executor's): fewer half-empty heaps (False elsewhere)."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc else None
    return bool(mallopt(M_ARENA_MAX, count)) if mallopt is not None else False


def trim_heap() -> bool:
    """glibc's malloc_trim(0): return the heap's free memory to the system (False elsewhere)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc else None  # glibc only (not musl, not macOS)
    return bool(trim(0)) if trim is not None else False
